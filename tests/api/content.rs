//! Streaming content back: headers, byte ranges, conditional requests, large files.

use reqwest::header;
use reqwest::multipart::Part;
use serde_json::Value;

use crate::helpers::*;

async fn archived(app: &TestApp, text: &str) -> (String, Vec<u8>) {
    let bytes = pdf_bytes(text);
    let created = app.archive_ok(&metadata(), pdf_part(text)).await;
    (created["id"].as_str().unwrap().to_string(), bytes)
}

#[tokio::test]
async fn content_is_served_with_type_length_and_etag() {
    let app = spawn_app().await;
    let (id, bytes) = archived(&app, "content headers").await;
    let response = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        bytes.len().to_string().as_str()
    );
    assert_eq!(
        headers[header::ETAG],
        format!("\"{}\"", sha256_hex(&bytes)).as_str()
    );
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn byte_ranges_answer_206_with_the_exact_slice() {
    let app = spawn_app().await;
    let (id, bytes) = archived(&app, "ranges for pdf viewers").await;
    let path = format!("/api/v1/documents/{id}/content");
    let size = bytes.len();

    let cases: [(&str, std::ops::Range<usize>); 4] = [
        ("bytes=0-9", 0..10),
        ("bytes=10-19", 10..20),
        ("bytes=20-", 20..size),
        ("bytes=-7", size - 7..size),
    ];
    for (range, expected) in cases {
        let response = app.get_with(&path, &[("range", range)]).await;
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            response.headers()[header::CONTENT_RANGE],
            format!("bytes {}-{}/{size}", expected.start, expected.end - 1).as_str(),
            "{range}"
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            &bytes[expected],
            "{range}"
        );
    }

    // An end past the content is clamped.
    let response = app
        .get_with(&path, &[("range", &format!("bytes=5-{}", size + 100))])
        .await;
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[5..]);

    // A start past the content cannot be satisfied.
    let response = app
        .get_with(&path, &[("range", &format!("bytes={}-", size + 10))])
        .await;
    assert_eq!(response.status(), 416);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        format!("bytes */{size}").as_str()
    );

    // Several ranges: the whole content.
    let response = app.get_with(&path, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn conditional_requests_use_the_content_hash() {
    let app = spawn_app().await;
    let (id, bytes) = archived(&app, "conditional").await;
    let path = format!("/api/v1/documents/{id}/content");
    let etag = format!("\"{}\"", sha256_hex(&bytes));

    let response = app.get_with(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(response.status(), 304);

    // If-Range with another tag: the client's copy is stale, send everything.
    let response = app
        .get_with(&path, &[("range", "bytes=0-3"), ("if-range", "\"0000\"")])
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .get_with(&path, &[("range", "bytes=0-3"), ("if-range", &etag)])
        .await;
    assert_eq!(response.status(), 206);
}

#[tokio::test]
async fn a_large_upload_is_spooled_to_disk_and_served_back_intact() {
    let app = spawn_app().await;
    // Past the 8 MiB in-memory threshold, with bytes that are not a repeating pattern.
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while bytes.len() < 12 * 1024 * 1024 + 123 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    let part = Part::bytes(bytes.clone()).file_name("gros-scan.pdf");
    let created = app.archive_ok(&metadata(), part).await;
    assert_eq!(created["sha256"], sha256_hex(&bytes));
    assert_eq!(created["size"], bytes.len());
    let id = created["id"].as_str().unwrap();

    let whole = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(whole.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let start = 9 * 1024 * 1024 + 17;
    let range = format!("bytes={start}-{}", start + 99_999);
    let response = app
        .get_with(
            &format!("/api/v1/documents/{id}/content"),
            &[("range", &range)],
        )
        .await;
    assert_eq!(response.status(), 206);
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        &bytes[start..start + 100_000]
    );
    assert!(
        files_under(&app.data_dir.join("staging")).is_empty(),
        "the staged upload is gone once stored"
    );
    let body: Value = app
        .get(&format!("/api/v1/documents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["size"], bytes.len());
}

#[tokio::test]
async fn conditional_and_range_edge_cases_follow_rfc_9110() {
    let app = spawn_app().await;
    let (id, bytes) = archived(&app, "edge cases").await;
    let path = format!("/api/v1/documents/{id}/content");
    let etag = format!("\"{}\"", sha256_hex(&bytes));
    let weak = format!("W/{etag}");

    let response = app.get_with(&path, &[("if-none-match", &weak)]).await;
    assert_eq!(response.status(), 304, "If-None-Match compares weakly");
    assert_eq!(response.headers()["cache-control"], "private, no-store");

    let response = app
        .get_with(&path, &[("range", "bytes=0-3"), ("if-range", "*")])
        .await;
    assert_eq!(response.status(), 200, "If-Range never matches *");
    let response = app
        .get_with(&path, &[("range", "bytes=0-3"), ("if-range", &weak)])
        .await;
    assert_eq!(response.status(), 200, "If-Range compares strongly");

    let response = app.get_with(&path, &[("range", "bytes=-")]).await;
    assert_eq!(response.status(), 200, "a malformed range is ignored");
    let response = app
        .get_with(&path, &[("range", "bytes=100000-,200000-")])
        .await;
    assert_eq!(response.status(), 416, "no satisfiable range at all");
}

#[tokio::test]
async fn non_ascii_file_names_are_sent_as_rfc_6266_asks() {
    let app = spawn_app().await;
    let part = Part::bytes(pdf_bytes("accents")).file_name("réclamation été.pdf");
    let created = app.archive_ok(&metadata(), part).await;
    let id = created["id"].as_str().unwrap();
    let response = app.get(&format!("/api/v1/documents/{id}/content")).await;
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        disposition,
        "inline; filename=\"r_clamation _t_.pdf\"; filename*=UTF-8''r%C3%A9clamation%20%C3%A9t%C3%A9.pdf"
    );
}
