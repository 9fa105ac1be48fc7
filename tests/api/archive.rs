//! Archiving a document, reading it back, deduplication and idempotency.

use reqwest::multipart::Part;
use serde_json::{Value, json};

use ged::access::Role;

use crate::helpers::*;

#[tokio::test]
async fn health_check_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn archived_document_comes_back_with_canonical_metadata() {
    let app = spawn_app().await;
    let bytes = pdf_bytes("archive and fetch");
    let created = app
        .archive_ok(&metadata(), pdf_part("archive and fetch"))
        .await;

    assert_eq!(created["sha256"], sha256_hex(&bytes));
    assert_eq!(created["size"], bytes.len());
    assert_eq!(created["media_type"], "application/pdf");
    assert!(created["seq"].as_i64().unwrap() >= 1);
    let id = created["id"].as_str().unwrap();

    let fetched: Value = app
        .get(&format!("/api/v1/documents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(fetched["text"]["status"].is_string(), "{fetched}");
    assert_eq!(without_text(&fetched), without_text(&created));
    assert_eq!(fetched["direction"], "inbound");
    assert_eq!(fetched["document_date"], "2024-03-05");
    // Stored in UTC.
    assert_eq!(fetched["received_at"], "2024-03-07T08:30:00.000000Z");
    assert_eq!(fetched["file_name"], "courrier.pdf");
    let person = &fetched["individuals"][0];
    assert_eq!(person["nir"], NIR, "NIR stored without separators");
    assert_eq!(person["client_numbers"], json!(["C-000123"]));
    assert_eq!(person["last_name"], "LEFÈVRE");
    assert_eq!(person["birth_date"], "1985-05-12");
    assert_eq!(person["role"], "sender");
    let company = &fetched["companies"][0];
    assert_eq!(company["siret"], SIRET);
    assert_eq!(company["siren"], SIREN, "a SIRET implies its SIREN");
    assert_eq!(company["name"], "Eaux de Lyon");

    assert_eq!(app.count_rows("documents").await, 1);
    assert_eq!(
        app.count_audit("document.archived").await,
        1,
        "every archive is audited"
    );
    assert_eq!(
        app.count_audit("document.viewed").await,
        1,
        "and so is every view"
    );
}

#[tokio::test]
async fn unknown_and_malformed_ids_answer_404_with_a_json_error() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/documents/0190f0a0-0000-7000-8000-000000000000",
        "/api/v1/documents/not-a-uuid",
        "/api/v1/documents/0190f0a0-0000-7000-8000-000000000000/content",
        "/api/v1/nothing-here",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn the_same_content_is_stored_once_even_for_two_documents() {
    let app = spawn_app().await;
    let first = app.archive_ok(&metadata(), pdf_part("same bytes")).await;
    let mut other = metadata();
    other["document_type"] = json!("ATTESTATION");
    let second = app.archive_ok(&other, pdf_part("same bytes")).await;

    assert_ne!(first["id"], second["id"]);
    assert_eq!(first["sha256"], second["sha256"]);
    let objects = app.stored_objects();
    assert_eq!(objects.len(), 1, "one object for one content: {objects:?}");
    let sha = first["sha256"].as_str().unwrap();
    assert!(
        objects[0].ends_with(format!("sha256/{}/{}/{sha}", &sha[0..2], &sha[2..4])),
        "key layout sha256/ab/cd/<hex>: {:?}",
        objects[0]
    );
    assert_eq!(app.count_rows("blobs").await, 1);
    assert_eq!(app.count_rows("documents").await, 2);
}

#[tokio::test]
async fn the_same_external_id_from_the_same_source_returns_the_existing_document() {
    let app = spawn_app().await;
    let mut with_id = metadata();
    with_id["external_id"] = json!("LOT-42/0001");
    let created = app.archive_ok(&with_id, pdf_part("idempotent")).await;

    let again = app.archive(&with_id, pdf_part("idempotent")).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], created["id"]);
    assert_eq!(again["seq"], created["seq"], "nothing was written");
    assert_eq!(app.count_rows("documents").await, 1);
    assert_eq!(app.count_rows("changes").await, 1);

    // Same id, other content: a mistake on the sender's side, refused.
    let conflict = app.archive(&with_id, pdf_part("other content")).await;
    assert_eq!(conflict.status(), 409);
    let body: Value = conflict.json().await.unwrap();
    assert_eq!(body["error"]["field"], "external_id");

    // Same id from another source: another document.
    with_id["source"] = json!("SCAN-PARIS");
    let paris = app
        .issue_token("default", Role::Scanner, Some("SCAN-PARIS"))
        .await;
    let other_source = app
        .archive_as(&paris, &with_id, pdf_part("idempotent"))
        .await;
    assert_eq!(other_source.status(), 201);
    assert_eq!(app.count_rows("documents").await, 2);
}

#[tokio::test]
async fn every_write_takes_a_higher_sequence_number() {
    let app = spawn_app().await;
    let mut previous = 0;
    for n in 0..5 {
        let created = app
            .archive_ok(&metadata(), pdf_part(&format!("seq {n}")))
            .await;
        let seq = created["seq"].as_i64().unwrap();
        assert!(seq > previous, "{seq} after {previous}");
        previous = seq;
    }
}

#[tokio::test]
async fn concurrent_uploads_all_land_whole() {
    let app = spawn_app().await;
    let uploads = (0..16).map(|n| {
        let app = &app;
        async move {
            let mut metadata = metadata();
            metadata["external_id"] = json!(format!("concurrent-{}", n % 8));
            app.archive(&metadata, pdf_part(&format!("concurrent {}", n % 8)))
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(uploads).await;
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 200),
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 8);
    assert_eq!(app.count_rows("documents").await, 8);
    assert_eq!(app.stored_objects().len(), 8);
}

#[tokio::test]
async fn emails_and_images_are_typed_from_their_bytes() {
    let app = spawn_app().await;
    let email = b"From: client@example.org\r\nTo: service@example.org\r\nSubject: Facture\r\n\r\nBonjour\r\n";
    let created = app
        .archive_ok(
            &metadata(),
            Part::bytes(email.to_vec()).file_name("message.eml"),
        )
        .await;
    assert_eq!(created["media_type"], "message/rfc822");

    // No name, no declared type: the magic bytes decide.
    let created = app.archive_ok(&metadata(), Part::bytes(PNG.to_vec())).await;
    assert_eq!(created["media_type"], "image/png");
}
