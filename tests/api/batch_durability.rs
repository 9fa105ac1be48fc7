//! A batch survives `kill -9` of the server while its blobs arrive and while its documents are
//! archived: the real client, retrying, completes it once the server is back, and every
//! document is archived exactly once, its content intact.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::batches::{BatchFile, batch_file, write_batch_folder};
use crate::helpers::*;

const DOCUMENTS: usize = 1500;

async fn documents_archived(data_dir: &std::path::Path) -> i64 {
    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("catalog.sqlite").display()
    );
    let Ok(pool) = sqlx::SqlitePool::connect(&url).await else {
        return 0;
    };
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
    pool.close().await;
    count
}

fn kill_9(server: &mut Served) {
    server.process.kill().expect("SIGKILL sent");
    server.process.wait().expect("server reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_completes_exactly_once_through_kill_9_while_uploading_and_while_archiving() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let data = data_dir.to_str().unwrap();
    let batch_dir = folder.path().join("batch");
    let files: Vec<BatchFile> = (0..DOCUMENTS)
        .map(|n| batch_file(&format!("{n:05}.pdf")))
        .collect();
    write_batch_folder(&batch_dir, "LOT-CRASH", &files);
    let token = ged_scanner_token(data);

    let mut server = spawn_ged_serve(data, ANY_PORT, Stdio::null()).await;
    // The client knows this address only: each server started again takes it back, as a
    // server restarted in production does.
    let address = server.address.to_string();
    let client = tokio::process::Command::new(env!("CARGO_BIN_EXE_ged"))
        .args(["ingest", batch_dir.to_str().unwrap(), "--token", &token])
        .args(["--server", &server.url("")])
        .args(["--attempts", "30", "--json"])
        .env_remove("GED_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // While the blobs arrive.
    let objects = data_dir.join("objects");
    let deadline = Instant::now() + Duration::from_secs(120);
    while files_under(&objects).len() < DOCUMENTS / 3 {
        assert!(Instant::now() < deadline, "the blobs did not arrive");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kill_9(&mut server);
    let stored_at_kill = files_under(&objects).len();
    assert!(
        stored_at_kill < DOCUMENTS,
        "the uploads ended before the kill"
    );
    let mut server = spawn_ged_serve(data, &address, Stdio::null()).await;

    // While the documents are archived.
    let deadline = Instant::now() + Duration::from_secs(120);
    while documents_archived(&data_dir).await == 0 {
        assert!(Instant::now() < deadline, "no document was archived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    kill_9(&mut server);
    let archived_at_kill = documents_archived(&data_dir).await;
    assert!(
        (archived_at_kill as usize) < DOCUMENTS,
        "the archiving ended before the kill"
    );
    let mut server = spawn_ged_serve(data, &address, Stdio::null()).await;

    let output = tokio::time::timeout(Duration::from_secs(180), client.wait_with_output())
        .await
        .expect("the client finishes")
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "completed");
    assert_eq!(report["totals"]["archived"], DOCUMENTS);

    // Exactly once each, with the content that was sent.
    let pool = catalog_pool(&data_dir).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT external_id, sha256 FROM documents WHERE batch_ref = 'LOT-CRASH'")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(rows.len(), DOCUMENTS);
    let external_ids: HashSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(external_ids.len(), DOCUMENTS, "a document archived twice");
    let archived: HashSet<&str> = rows.iter().map(|(_, sha)| sha.as_str()).collect();
    let sent: HashSet<String> = files.iter().map(|f| sha256_hex(&f.bytes)).collect();
    assert_eq!(
        archived,
        sent.iter().map(String::as_str).collect::<HashSet<_>>()
    );

    kill_9(&mut server);
    let verified = ged_async(&["verify", "--data-dir", data]).await;
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}
