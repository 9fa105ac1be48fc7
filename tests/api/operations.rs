//! Operations: readiness, Prometheus metrics, request ids.

use serde_json::{Value, json};

use crate::helpers::*;

/// The value of the first sample of `metric` (a name with its labels, as printed).
fn sample(text: &str, metric: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(metric)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_node_whose_store_is_gone_is_alive_but_not_ready() {
    let app = spawn_app().await;
    let objects = app.data_dir.join("objects");
    std::fs::rename(&objects, app.data_dir.join("objects.moved")).unwrap();
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["store"]["ok"], false);
    assert_eq!(body["catalog"]["ok"], true);
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn readiness_reports_each_dependency_and_the_index_lag() {
    let app = spawn_app().await;
    app.archive_ok(&metadata(), pdf_part("ready")).await;
    let seq = app.latest_seq().await;
    app.search(&format!("min_seq={seq}")).await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["catalog"]["ok"], true);
    assert_eq!(body["store"]["ok"], true);
    assert_eq!(body["index"]["catalog_seq"], seq);
    assert_eq!(body["index"]["lag"], 0);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_archived_documents() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    let archived = "ged_documents_archived_total ";
    let created =
        "ged_http_requests_total{method=\"POST\",route=\"/api/v1/documents\",status=\"201\"} ";
    app.archive_ok(&metadata(), pdf_part("counted")).await;
    let response = app.get(&format!("/api/v1/individuals/{NIR}")).await;
    assert_eq!(response.status(), 200);

    let after = scrape(&app).await;
    assert!(
        sample(&after, archived) >= sample(&before, archived) + 1.0,
        "{after}"
    );
    assert!(
        sample(&after, created) >= sample(&before, created) + 1.0,
        "{after}"
    );
    assert!(
        after.contains("route=\"/api/v1/individuals/{reference}\""),
        "requests are labelled with their route's template"
    );
    assert!(!after.contains(NIR), "a NIR must never reach the metrics");
    assert!(after.contains("ged_http_request_duration_seconds_bucket"));
    assert!(after.contains("ged_index_lag "));
    assert!(after.contains("ged_catalog_seq "));
    assert!(after.contains("ged_content_verification_failures_total "));

    // Methods and paths a client makes up do not become series of their own.
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let response = app
        .client
        .request(brew, app.url("/api/v1/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    app.client
        .get(app.url("/no/such/185057800608491"))
        .send()
        .await
        .unwrap();
    let after = scrape(&app).await;
    assert!(!after.contains("BREW"));
    assert!(after.contains("method=\"OTHER\",route=\"/api/v1/search\",status=\"405\""));
    assert!(after.contains("route=\"unmatched\",status=\"404\""));
    assert!(!after.contains(NIR));
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_the_docs_page_lists_the_operations() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/dossiers/NOPE").await;
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-request-id"));
    // The caller's id is kept when plain, replaced when it could disturb a log line.
    for (sent, kept) in [("lot-42.a", true), ("a b\tc", false)] {
        let response = app
            .client
            .get(app.url("/nowhere"))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id == sent, kept, "{sent} → {id}");
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "not_found", "message": "not found"}})
    );

    let page = app
        .client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for operation in [
        "/api/v1/search",
        "/api/v1/dossiers/{reference}/status",
        "/readyz",
    ] {
        assert!(
            page.contains(operation),
            "{operation} missing from the docs page"
        );
    }
}

/// Waits until `done` holds, polling, for at most 60 s.
async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn shutdown_lets_an_upload_in_flight_finish_and_keeps_it() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let data = data_dir.to_str().unwrap();
    let token = ged_scanner_token(data);
    // A server process of its own, stopped by a real SIGTERM; its metrics count its requests
    // only.
    let mut served = spawn_ged_serve(data, ANY_PORT, std::process::Stdio::null()).await;
    let client = reqwest::Client::new();
    let bytes = pdf_bytes(&"a long letter ".repeat(20_000));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream))
        .file_name("lettre.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata().to_string())
        .part("file", part);
    let request = client
        .post(served.url("/api/v1/documents"))
        .bearer_auth(&token)
        .multipart(form)
        .send();
    let upload = tokio::spawn(request);
    let half = bytes.len() / 2;
    tx.send(Ok(bytes[..half].to_vec())).await.unwrap();
    let uploading = r#"ged_http_requests_in_flight{method="POST",route="/api/v1/documents"}"#;
    wait_until("the server did not take the upload", || async {
        let metrics = client.get(served.url("/metrics")).send().await;
        match metrics {
            Ok(metrics) => sample(&metrics.text().await.unwrap(), uploading) == 1.0,
            Err(_) => false,
        }
    })
    .await;

    // SIGTERM while the file is half sent: the server stops taking connections (it refuses
    // new ones), and the upload still completes.
    let signal = std::process::Command::new("kill")
        .args(["-TERM", &served.process.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    wait_until("the server still takes new connections", || async {
        tokio::net::TcpStream::connect(served.address)
            .await
            .is_err()
    })
    .await;
    tx.send(Ok(bytes[half..].to_vec())).await.unwrap();
    drop(tx);
    let response = upload.await.unwrap().unwrap();
    assert_eq!(response.status(), 201);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["size"], bytes.len());
    wait_until("the server did not stop", || {
        std::future::ready(served.process.try_wait().unwrap().is_some())
    })
    .await;
    let status = served.process.try_wait().unwrap().unwrap();
    assert!(status.success(), "the server ran cleanly: {status}");
    assert!(
        client.get(served.url("/healthz")).send().await.is_err(),
        "the server stopped"
    );

    // Acknowledged, so durable: there after a restart.
    let app = spawn_app_on(&data_dir, |_| {}).await;
    let id = document["id"].as_str().unwrap();
    let stored = app
        .get(&format!("/api/v1/documents/{id}/content"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.to_vec(), bytes);
}
