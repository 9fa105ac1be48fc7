//! The index follows the catalog through restarts, losses and kill -9.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

/// Every document id the index finds for the reader, paging through all of them.
async fn indexed_ids(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    let mut query = "limit=200".to_string();
    loop {
        let page = app.search(&query).await;
        ids.extend(
            page["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hit| hit["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=200&cursor={cursor}"),
            None => return ids,
        }
    }
}

async fn catalog_ids(app: &TestApp) -> HashSet<String> {
    let pool = catalog_pool(&app.data_dir).await;
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM documents")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    ids.into_iter().collect()
}

/// The index holds exactly the catalog's documents, each once.
async fn assert_index_matches_catalog(app: &TestApp) {
    let indexed = indexed_ids(app).await;
    let unique: HashSet<String> = indexed.iter().cloned().collect();
    assert_eq!(unique.len(), indexed.len(), "a document indexed twice");
    assert_eq!(unique, catalog_ids(app).await, "index and catalog differ");
}

#[tokio::test]
async fn a_missing_or_unreadable_index_is_rebuilt_at_start() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    for n in 0..12 {
        app.archive_ok(&metadata(), pdf_part(&format!("rebuilt {n}")))
            .await;
    }
    assert_index_matches_catalog(&app).await;
    app.stop().await;

    std::fs::remove_dir_all(data_dir.join("index")).unwrap();
    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    assert_index_matches_catalog(&app).await;
    app.stop().await;

    std::fs::write(data_dir.join("index/meta.json"), b"{ not json").unwrap();
    let app = spawn_app_on(&data_dir, |_| {}).await;
    assert_index_matches_catalog(&app).await;
}

#[tokio::test]
async fn the_reindex_command_rebuilds_and_refuses_while_a_server_holds_the_index() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let data = data_dir.to_str().unwrap();
    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    for n in 0..7 {
        app.archive_ok(&metadata(), pdf_part(&format!("reindexed {n}")))
            .await;
    }
    let busy = ged_async(&["reindex", "--data-dir", data]).await;
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    app.stop().await;

    let output = ged_async(&["reindex", "--data-dir", data]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("reindexed 7 documents"), "{stdout}");
    assert!(stdout.contains("peak memory"), "{stdout}");
    let app = spawn_app_on(&data_dir, |_| {}).await;
    assert_index_matches_catalog(&app).await;
}

#[tokio::test]
async fn after_kill_9_at_any_point_the_index_catches_up_with_the_catalog() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let data = data_dir.to_str().unwrap().to_string();
    let token = ged_scanner_token(&data);
    let client = reqwest::Client::new();

    let mut acknowledged = Vec::new();
    // Kill at different moments: while idle, while ingesting, right after a burst. A round
    // lasts its time and archives at least three documents, however busy the machine is.
    for (round, kill_after_ms) in [(0, 40u64), (1, 170), (2, 330), (3, 90), (4, 260)] {
        let mut server = spawn_ged_serve(&data, ANY_PORT, Stdio::null()).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(kill_after_ms);
        let before = acknowledged.len();
        let mut n = 0;
        while tokio::time::Instant::now() < deadline || acknowledged.len() < before + 3 {
            assert!(
                n < 1000,
                "round {round}: 1,000 requests, too few acknowledged"
            );
            let form = reqwest::multipart::Form::new()
                .text("metadata", metadata().to_string())
                .part(
                    "file",
                    pdf_part(&format!("kill round {round} document {n}")),
                );
            let response = client
                .post(server.url("/api/v1/documents"))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await;
            if let Ok(response) = response
                && response.status() == 201
            {
                let body: Value = response.json().await.unwrap();
                acknowledged.push(body["id"].as_str().unwrap().to_string());
            }
            n += 1;
        }
        server.process.kill().unwrap(); // SIGKILL: no shutdown, no final commit
        server.process.wait().unwrap();
    }
    assert!(
        acknowledged.len() > 10,
        "the rounds archived documents: {}",
        acknowledged.len()
    );

    let app = spawn_app_on(&data_dir, |_| {}).await;
    assert_index_matches_catalog(&app).await;
    let catalog = catalog_ids(&app).await;
    for id in &acknowledged {
        assert!(catalog.contains(id), "acknowledged document {id} lost");
    }
}

#[tokio::test]
async fn an_index_ahead_of_a_restored_catalog_is_rebuilt() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let backup = folder.path().join("backup.sqlite");
    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    for n in 0..3 {
        app.archive_ok(&metadata(), pdf_part(&format!("before backup {n}")))
            .await;
    }
    let pool = catalog_pool(&data_dir).await;
    sqlx::query("VACUUM INTO $1")
        .bind(backup.to_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    for n in 0..5 {
        app.archive_ok(&metadata(), pdf_part(&format!("after backup {n}")))
            .await;
    }
    assert_index_matches_catalog(&app).await;
    app.stop().await;
    drop(app);

    // Restore the older catalog; the index still holds the 8 documents.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data_dir.join(format!("catalog.sqlite{suffix}")));
    }
    std::fs::copy(&backup, data_dir.join("catalog.sqlite")).unwrap();
    let app = spawn_app_on(&data_dir, |_| {}).await;
    app.archive_ok(&metadata(), pdf_part("after restore")).await;
    assert_index_matches_catalog(&app).await;
}

#[tokio::test]
async fn an_index_with_a_lost_segment_file_is_rebuilt() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    for n in 0..4 {
        app.archive_ok(&metadata(), pdf_part(&format!("segment {n}")))
            .await;
    }
    assert_index_matches_catalog(&app).await;
    app.stop().await;
    let segment = files_under(&data_dir.join("index"))
        .into_iter()
        .find(|path| path.extension().is_some_and(|e| e == "idx"))
        .expect("a segment file");
    std::fs::remove_file(segment).unwrap();
    let app = spawn_app_on(&data_dir, |_| {}).await;
    assert_index_matches_catalog(&app).await;
}
