//! Several nodes on one archive: two `ged serve` processes on one PostgreSQL catalog and one
//! S3 store, each with its own index folder following the catalog's change sequence.

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::{
    NIR, NIR_2, Served, ged_async, ged_scanner_token, metadata, pdf_bytes, share_catalog,
};
use crate::s3::{s3_server, serve_on_s3};

/// How long a node may take to find what another node archived (the promise).
const FOUND_WITHIN: Duration = Duration::from_secs(2);

async fn archive(
    client: &reqwest::Client,
    node: &Served,
    token: &str,
    nir: &str,
    text: &str,
) -> Value {
    let mut metadata = metadata();
    metadata["individuals"][0]["nir"] = nir.into();
    metadata["individuals"][0]["client_number"] = format!("C-{nir}").into();
    let form = Form::new().text("metadata", metadata.to_string()).part(
        "file",
        Part::bytes(pdf_bytes(text))
            .file_name("courrier.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let response = client
        .post(node.url("/api/v1/documents"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Searches the node by NIR (without waiting for a sequence number) until it finds `id`;
/// returns how long that took.
async fn found_after(
    client: &reqwest::Client,
    node: &Served,
    token: &str,
    nir: &str,
    id: &str,
) -> Duration {
    let start = Instant::now();
    loop {
        let hits: Value = client
            .get(node.url(&format!("/api/v1/search?nir={nir}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|hit| hit["id"] == id)
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < FOUND_WITHIN * 5,
            "node on {} never found {id}: {hits}",
            node.address
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_document_archived_through_one_node_is_found_and_read_through_the_other() {
    let Some(s3) = s3_server("a_document_archived_through_one_node_is_found_…").await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let (one, two) = (folder.path().join("node-1"), folder.path().join("node-2"));
    share_catalog(&two, &one);
    let scanner = ged_scanner_token(one.to_str().unwrap());
    let reader = ged_async(&[
        "token",
        "create",
        "--data-dir",
        two.to_str().unwrap(),
        "--tenant",
        "default",
        "--role",
        "agent_sensitive",
    ])
    .await;
    assert!(reader.status.success());
    let reader = String::from_utf8(reader.stdout).unwrap().trim().to_string();

    let node_one = serve_on_s3(&s3, &one).await;
    let node_two = serve_on_s3(&s3, &two).await;
    let client = reqwest::Client::new();

    // Each node finds, within the promised time, what the other archived; both ways, several
    // times, so that neither node's index merely happened to be polling at the right moment.
    let mut slowest = Duration::ZERO;
    for round in 0..5 {
        for (through, other, nir) in [(&node_one, &node_two, NIR), (&node_two, &node_one, NIR_2)] {
            let text = format!("courrier {round} reçu par le nœud {}", through.address);
            let document = archive(&client, through, &scanner, nir, &text).await;
            let id = document["id"].as_str().unwrap();
            let took = found_after(&client, other, &reader, nir, id).await;
            slowest = slowest.max(took);

            // Its content is in the shared store: the other node serves it, byte for byte.
            let content = client
                .get(other.url(&format!("/api/v1/documents/{id}/content")))
                .bearer_auth(&reader)
                .send()
                .await
                .unwrap();
            assert_eq!(content.status(), 200);
            assert_eq!(content.bytes().await.unwrap().as_ref(), pdf_bytes(&text));
        }
    }
    println!("slowest found through the other node: {slowest:?}");
    assert!(
        slowest < FOUND_WITHIN,
        "a document took {slowest:?} to be found through the other node"
    );

    // Both indexes hold every document.
    for node in [&node_one, &node_two] {
        for nir in [NIR, NIR_2] {
            let hits: Value = client
                .get(node.url(&format!("/api/v1/search?nir={nir}")))
                .bearer_auth(&reader)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(hits["total"], 5, "{hits}");
        }
    }
}

#[tokio::test]
async fn a_second_node_cannot_share_a_catalog_whose_content_is_on_another_servers_disk() {
    let app = crate::helpers::spawn_app().await;
    app.archive_ok(
        &metadata(),
        crate::helpers::pdf_part("sur le disque du premier nœud"),
    )
    .await;
    let folder = tempfile::tempdir().unwrap();
    let other = folder.path().join("node-2");
    share_catalog(&other, &app.data_dir);
    let output = ged_async(&["verify", "--data-dir", other.to_str().unwrap()]).await;
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{error}");
    let first = std::path::absolute(app.data_dir.join("objects")).unwrap();
    assert!(
        error.contains(&format!("content folder is {}", first.display())),
        "{error}"
    );
}

/// A letter with a text layer (written by cairo), whose text extraction succeeds.
const LETTER: &[u8] = include_bytes!("../fixtures/letter-text.pdf");

/// The document's text state, as the reader sees it.
async fn text_status(app: &crate::helpers::TestApp, id: &str) -> Value {
    let document: Value = app
        .get(&format!("/api/v1/documents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    document["text"]["status"].clone()
}

#[tokio::test]
async fn a_restarted_node_takes_back_its_own_extraction_jobs_and_leaves_the_others() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("node-1");
    let mut app = crate::helpers::spawn_app_on(&data_dir, |_| {}).await;
    let mut ids = Vec::new();
    for external_id in ["repris-par-son-noeud", "tenu-par-un-autre-noeud"] {
        let mut metadata = metadata();
        metadata["external_id"] = external_id.into();
        let letter = Part::bytes(LETTER.to_vec())
            .file_name("lettre.pdf")
            .mime_str("application/pdf")
            .unwrap();
        let document = app.archive_ok(&metadata, letter).await;
        ids.push(document["id"].as_str().unwrap().to_string());
    }
    app.stop().await;
    // As if the node had stopped while reading the first, and another node were reading the
    // second: both pending, each leased for half an hour.
    let own = std::fs::read_to_string(data_dir.join("node-id")).unwrap();
    let lease_end = "2999-01-01T00:00:00.000000Z";
    let pool = crate::helpers::catalog_pool(&data_dir).await;
    for (id, node) in [(&ids[0], own.as_str()), (&ids[1], "another-node")] {
        sqlx::query(
            "UPDATE text_extractions SET status = 'pending', finished_at = NULL, \
             claimed_until = $2, claimed_by = $3 WHERE document_id = $1",
        )
        .bind(id.as_str())
        .bind(lease_end)
        .bind(node)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let app = crate::helpers::spawn_app_on(&data_dir, |_| {}).await;
    let start = Instant::now();
    while text_status(&app, &ids[0]).await == "pending" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the node did not take back its own job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(text_status(&app, &ids[0]).await, "done");

    // The other node's job is left to it (or to its lease's end). The worker takes the jobs it
    // may take one at a time, in the order they were queued: once a letter archived now is
    // read, the worker has passed over the other node's job, queued before it.
    let mut metadata = metadata();
    metadata["external_id"] = "archive-apres-le-redemarrage".into();
    let letter = Part::bytes(LETTER.to_vec())
        .file_name("lettre.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let later = app.archive_ok(&metadata, letter).await;
    let later = later["id"].as_str().unwrap();
    let start = Instant::now();
    while text_status(&app, later).await == "pending" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the node did not read a letter archived after its restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(text_status(&app, later).await, "done");
    assert_eq!(text_status(&app, &ids[1]).await, "pending");
    let pool = crate::helpers::catalog_pool(&data_dir).await;
    let holder: Option<String> =
        sqlx::query_scalar("SELECT claimed_by FROM text_extractions WHERE document_id = $1")
            .bind(ids[1].as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(holder.as_deref(), Some("another-node"));
}
