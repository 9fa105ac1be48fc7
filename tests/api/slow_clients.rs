//! Slow clients (slowloris): a connection whose headers never end, or whose body trickles in,
//! is closed once the read timeouts of the settings have passed; ordinary requests are not.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::*;

/// Far above the test's timeouts: a connection still open then was never going to be cut.
const WITHIN: Duration = Duration::from_secs(15);

async fn spawn_impatient_app() -> (TestApp, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    let app = spawn_app_on(&folder.path().join("data"), |settings| {
        settings.header_read_timeout_seconds = 1;
        settings.body_read_timeout_seconds = 1;
        settings.body_min_bytes_per_second = 1000;
    })
    .await;
    (app, folder)
}

fn address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; what it answered before, if anything.
async fn read_until_closed(stream: &mut tokio::net::tcp::OwnedReadHalf) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
        }
    }
}

#[tokio::test]
async fn headers_that_never_end_are_cut() {
    let (app, _folder) = spawn_impatient_app().await;
    let stream = TcpStream::connect(address(&app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: ged\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    tokio::time::timeout(WITHIN, read_until_closed(&mut reader))
        .await
        .expect("the server closes a connection whose headers never end");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Headers sent byte by byte, each well within the timeout, are cut all the same.
    let stream = TcpStream::connect(address(&app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for byte in
            b"GET /healthz HTTP/1.1\r\nHost: ged\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    tokio::time::timeout(WITHIN, read_until_closed(&mut reader))
        .await
        .expect("the server closes a connection whose headers trickle in");
    trickle.abort();

    // An ordinary request is served.
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut() {
    let (app, _folder) = spawn_impatient_app().await;
    let bytes = pdf_bytes("slowly");
    let head = format!(
        "PUT /api/v1/blobs/{} HTTP/1.1\r\nHost: ged\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        sha256_hex(&bytes),
        app.scanner,
        bytes.len()
    );
    let stream = TcpStream::connect(address(&app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    // A byte every 300 ms: never a second without one, but far below 1000 bytes per second.
    let trickle = tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let answer = tokio::time::timeout(WITHIN, read_until_closed(&mut reader))
        .await
        .expect("the server closes a connection whose body trickles in");
    trickle.abort();
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(answer.contains("too slowly"), "{answer}");
    assert_eq!(app.count_rows("tenant_blobs").await, 0);

    // A body that stops altogether is cut after the idle timeout.
    let stream = TcpStream::connect(address(&app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    writer.write_all(b"%PDF").await.unwrap();
    tokio::time::timeout(WITHIN, read_until_closed(&mut reader))
        .await
        .expect("the server closes a connection whose body stopped");

    // A whole body sent at once is stored.
    let bytes = pdf_bytes("at once");
    let response = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{}", sha256_hex(&bytes))))
        .bearer_auth(&app.scanner)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}
