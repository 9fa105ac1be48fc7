//! Every kind of bad input gets a clear error naming the field, and leaves nothing behind.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

/// A change that makes valid metadata invalid.
type Breakage = Box<dyn FnOnce(&mut Value)>;

/// Applies `change` to valid metadata, sends it, and checks the answer names `field`.
async fn assert_refused(app: &TestApp, change: impl FnOnce(&mut Value), status: u16, field: &str) {
    let mut metadata = metadata();
    change(&mut metadata);
    let response = app.archive(&metadata, pdf_part("validation")).await;
    assert_eq!(response.status(), status, "for field {field}");
    let body: Value = response.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .map(|details| details.iter().filter_map(|d| d["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        body["error"]["field"] == field || fields.contains(&field),
        "expected field {field} in {body}"
    );
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn each_invalid_metadata_field_is_named() {
    let app = spawn_app().await;
    let cases: Vec<(Breakage, &str)> = vec![
        (
            Box::new(|m| {
                m.as_object_mut().unwrap().remove("direction");
            }),
            "direction",
        ),
        (
            Box::new(|m| m["direction"] = json!("sideways")),
            "direction",
        ),
        (Box::new(|m| m["channel"] = json!("pigeon")), "channel"),
        (
            Box::new(|m| {
                m.as_object_mut().unwrap().remove("source");
            }),
            "source",
        ),
        (Box::new(|m| m["source"] = json!("has spaces")), "source"),
        (
            Box::new(|m| m["document_type"] = json!("")),
            "document_type",
        ),
        (
            Box::new(|m| m["document_date"] = json!("2023-02-30")),
            "document_date",
        ),
        (
            Box::new(|m| m["document_date"] = json!("05/03/2024")),
            "document_date",
        ),
        (
            Box::new(|m| m["document_date"] = json!("2999-01-01")),
            "document_date",
        ),
        (
            Box::new(|m| m["received_at"] = json!("yesterday")),
            "received_at",
        ),
        (
            Box::new(|m| m["sent_at"] = json!("2024-03-05T25:00:00Z")),
            "sent_at",
        ),
        (Box::new(|m| m["sensitive"] = json!("yes")), "sensitive"),
        // Year 10000 once brought to UTC: refused, never a panic.
        (
            Box::new(|m| m["received_at"] = json!("9999-12-31T23:59:59-01:00")),
            "received_at",
        ),
        (Box::new(|m| m["external_id"] = json!("   ")), "external_id"),
        (Box::new(|m| m["colour"] = json!("red")), "colour"),
        (Box::new(|m| m["title"] = json!("x".repeat(501))), "title"),
        // Control characters are never part of a title or a name (and PostgreSQL refuses NUL).
        (Box::new(|m| m["title"] = json!("a\u{0}b")), "title"),
        (
            Box::new(|m| m["individuals"][0]["last_name"] = json!("DUPONT\u{7}")),
            "individuals[0].last_name",
        ),
        (
            Box::new(|m| m["individuals"][0]["nir"] = json!("185057800608490")),
            "individuals[0].nir",
        ),
        (
            Box::new(|m| m["individuals"][0]["nir"] = json!("1850578006084")),
            "individuals[0].nir",
        ),
        (
            Box::new(|m| m["individuals"][0]["birth_date"] = json!("2999-01-01")),
            "individuals[0].birth_date",
        ),
        (
            Box::new(|m| m["individuals"][0]["shoe_size"] = json!(42)),
            "individuals[0].shoe_size",
        ),
        (
            Box::new(|m| m["individuals"] = json!([{"last_name": "Sans Référence"}])),
            "individuals[0]",
        ),
        (
            Box::new(|m| m["companies"][0]["siret"] = json!("73282932000075")),
            "companies[0].siret",
        ),
        (
            Box::new(|m| m["companies"] = json!([{"siren": "732829321"}])),
            "companies[0].siren",
        ),
        (
            Box::new(|m| m["companies"] = json!([{"siren": SIREN, "siret": SIRET_OTHER_COMPANY}])),
            "companies[0].siret",
        ),
        (
            Box::new(|m| m["companies"] = json!([{"name": "Sans Référence"}])),
            "companies[0]",
        ),
    ];
    for (change, field) in cases {
        assert_refused(&app, change, 422, field).await;
    }
    assert_eq!(app.count_rows("documents").await, 0);
    assert_eq!(app.count_rows("parties").await, 0);
    assert_eq!(app.count_audit("document.archived").await, 0);
    assert!(
        app.stored_objects().is_empty(),
        "refused metadata stores no content"
    );
}

#[tokio::test]
async fn all_errors_of_one_request_are_reported_at_once() {
    let app = spawn_app().await;
    let mut metadata = metadata();
    metadata["direction"] = json!("sideways");
    metadata["document_date"] = json!("2024-13-01");
    metadata["individuals"][0]["nir"] = json!("185057800608490");
    let response = app.archive(&metadata, pdf_part("many errors")).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let fields = error_fields(&body);
    for expected in ["direction", "document_date", "individuals[0].nir"] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
}

async fn send_form(app: &TestApp, form: Form) -> (u16, Value) {
    let response = app.archive_form(form).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn malformed_requests_are_refused_with_the_part_at_fault() {
    let app = spawn_app().await;
    let metadata = metadata().to_string();

    let (status, body) = send_form(
        &app,
        Form::new()
            .text("metadata", "{not json")
            .part("file", pdf_part("x")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("metadata"))
    );

    let (status, body) = send_form(&app, Form::new().text("metadata", metadata.clone())).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("file"))
    );

    let (status, body) = send_form(&app, Form::new().part("file", pdf_part("x"))).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("metadata"))
    );

    let empty = Part::bytes(Vec::new()).file_name("vide.pdf");
    let (status, body) = send_form(
        &app,
        Form::new()
            .text("metadata", metadata.clone())
            .part("file", empty),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("file"))
    );

    let (status, body) = send_form(
        &app,
        Form::new()
            .text("metadata", metadata.clone())
            .part("file", pdf_part("x"))
            .text("extra", "1"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("extra"))
    );

    let not_multipart = app
        .client
        .post(app.url("/api/v1/documents"))
        .bearer_auth(&app.scanner)
        .json(&json!({"metadata": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), 400);
    let body: Value = not_multipart.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");

    assert_eq!(app.count_rows("documents").await, 0);
}

#[tokio::test]
async fn content_that_contradicts_its_name_or_type_is_refused() {
    let app = spawn_app().await;
    let metadata = metadata();

    let png_named_pdf = Part::bytes(PNG.to_vec()).file_name("lettre.pdf");
    let response = app.archive(&metadata, png_named_pdf).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "file");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("image/png"),
        "{body}"
    );

    let pdf_declared_tiff = Part::bytes(pdf_bytes("x")).mime_str("image/tiff").unwrap();
    assert_eq!(
        app.archive(&metadata, pdf_declared_tiff).await.status(),
        422
    );

    let text_named_pdf = Part::bytes(b"just some words".to_vec()).file_name("lettre.pdf");
    assert_eq!(app.archive(&metadata, text_named_pdf).await.status(), 422);

    let zip = Part::bytes(b"PK\x03\x04\x14\0\0\0\x08\0".to_vec()).file_name("archive.zip");
    let response = app.archive(&metadata, zip).await;
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");

    assert_eq!(app.count_rows("documents").await, 0);
    assert!(app.stored_objects().is_empty());
}

#[tokio::test]
async fn uploads_over_the_limit_get_413_and_leave_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let app = spawn_app_on(&folder.path().join("data"), |settings| {
        settings.max_upload_bytes = 64 * 1024;
    })
    .await;
    let mut bytes = pdf_bytes("too large");
    bytes.resize(64 * 1024 + 1, b' ');
    let response = app
        .archive(&metadata(), Part::bytes(bytes).file_name("gros.pdf"))
        .await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    // Exactly at the limit is fine.
    let mut bytes = pdf_bytes("at the limit");
    bytes.resize(64 * 1024, b' ');
    let response = app
        .archive(&metadata(), Part::bytes(bytes).file_name("juste.pdf"))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.count_rows("documents").await, 1);
    assert_eq!(app.stored_objects().len(), 1);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_any_parsing() {
    let folder = tempfile::tempdir().unwrap();
    let app = spawn_app_on(&folder.path().join("data"), |settings| {
        settings.max_upload_bytes = 64 * 1024;
    })
    .await;
    // No boundary anywhere: a parser would buffer all of it looking for one.
    let body = vec![b'x'; 8 * 1024 * 1024];
    let response = app
        .client
        .post(app.url("/api/v1/documents"))
        .bearer_auth(&app.scanner)
        .header("content-type", "multipart/form-data; boundary=never-sent")
        .body(body)
        .send()
        .await;
    // The server answers 413 as soon as the limit is crossed; it may close the connection
    // before the client has finished sending, which is a refusal too.
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
    assert_eq!(app.count_rows("documents").await, 0);
}
