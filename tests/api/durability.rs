//! What survives: a restart keeps everything acknowledged; an upload cut off keeps nothing.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

#[tokio::test]
async fn archived_documents_survive_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    let bytes = pdf_bytes("survives restart");
    let created = app
        .archive_ok(&metadata(), pdf_part("survives restart"))
        .await;
    app.stop().await;

    let app = spawn_app_on(&data_dir, |_| {}).await;
    let id = created["id"].as_str().unwrap().to_string();
    let fetched: Value = app
        .get(&format!("/api/v1/documents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    // The text extraction moves on by itself in the background (this PDF has no readable
    // text layer: its job ends failed); everything else is as acknowledged.
    assert_eq!(created["text"]["status"], "pending");
    assert!(
        ["pending", "failed"].contains(&fetched["text"]["status"].as_str().unwrap()),
        "{fetched}"
    );
    assert_eq!(without_text(&fetched), without_text(&created));
    let content = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(content.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The sequence goes on from where it was.
    let next = app.archive_ok(&metadata(), pdf_part("after restart")).await;
    assert!(next["seq"].as_i64() > created["seq"].as_i64());
}

/// Sends the start of a multipart upload over a raw socket; dropping the socket hangs up.
async fn upload_cut_off(app: &TestApp, file_bytes_sent: usize) -> tokio::net::TcpStream {
    let boundary = "cut-off-boundary";
    let mut head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n",
        metadata()
    )
    .into_bytes();
    let mut file = pdf_bytes("cut off");
    file.resize(file_bytes_sent, b'x');
    head.extend_from_slice(&file);
    let declared_length = head.len() + 50 * 1024 * 1024;
    let address = app.address.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /api/v1/documents HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared_length}\r\n\r\n",
        app.scanner
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket.write_all(&head).await.unwrap();
    socket.flush().await.unwrap();
    socket
}

#[tokio::test]
async fn an_upload_cut_off_midway_leaves_no_record_and_no_staged_file() {
    let app = spawn_app().await;
    // One small enough to stay in memory, one large enough to be spooled to disk.
    drop(upload_cut_off(&app, 100 * 1024).await);
    let spooled = upload_cut_off(&app, 10 * 1024 * 1024).await;
    // Hung up once the server is spooling it, so that the hang-up leaves a file to remove.
    let staging = app.data_dir.join("staging");
    for _ in 0..1200 {
        if !files_under(&staging).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !files_under(&staging).is_empty(),
        "the server did not spool the upload"
    );
    drop(spooled);

    // The server notices the hang-up asynchronously: wait until staging is clean.
    let mut staged = files_under(&staging);
    for _ in 0..100 {
        if staged.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        staged = files_under(&staging);
    }
    assert!(staged.is_empty(), "staged files left behind: {staged:?}");
    assert_eq!(app.count_rows("documents").await, 0);
    assert_eq!(app.count_audit("document.archived").await, 0);
    assert!(app.stored_objects().is_empty());

    // The server still serves.
    app.archive_ok(&metadata(), pdf_part("after the cut")).await;
    assert_eq!(app.count_rows("documents").await, 1);
}
