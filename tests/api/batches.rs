//! Batches: blobs uploaded under their hash, manifests in JSON and CSV, per-document reports,
//! idempotency, partial acceptance, scopes, and the `ged ingest` client.

use std::path::Path;

use ged::access::{DEFAULT_TENANT, Role};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

/// A batch document: its bytes and its manifest entry.
pub struct BatchFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub fn batch_file(name: &str) -> BatchFile {
    BatchFile {
        name: name.to_string(),
        bytes: pdf_bytes(&format!("scan {name}")),
    }
}

/// A manifest entry for `file` with metadata that passes validation.
pub fn entry(file: &BatchFile, nir: &str) -> Value {
    json!({
        "file": file.name,
        "sha256": sha256_hex(&file.bytes),
        "size": file.bytes.len(),
        "document_type": "RECLAMATION",
        "document_date": "2024-03-05",
        "title": format!("Courrier {}", file.name),
        "individuals": [{"nir": nir, "last_name": "LEFÈVRE", "first_name": "Anne"}],
    })
}

/// A manifest entry for `file` about one individual.
fn about(file: &BatchFile, individual: Value) -> Value {
    let mut document = entry(file, NIR);
    document["individuals"] = json!([individual]);
    document
}

pub fn manifest(batch_ref: &str, documents: Vec<Value>) -> Value {
    json!({
        "batch_ref": batch_ref,
        "source": "SCAN-LYON",
        "scanned_at": "2024-03-07T09:30:00+01:00",
        "documents": documents,
    })
}

async fn put_blob(app: &TestApp, token: &str, sha256: &str, bytes: &[u8]) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/blobs/{sha256}")))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

async fn upload(app: &TestApp, file: &BatchFile) {
    let response = put_blob(app, &app.scanner, &sha256_hex(&file.bytes), &file.bytes).await;
    assert!(response.status().is_success(), "{}", response.status());
}

async fn commit(app: &TestApp, token: &str, query: &str, manifest: &Value) -> (u16, Value) {
    post_manifest(app, token, query, "application/json", manifest.to_string()).await
}

async fn commit_csv(app: &TestApp, csv: String) -> (u16, Value) {
    post_manifest(app, &app.scanner, "", "text/csv", csv).await
}

async fn post_manifest(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/batches{query}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn outcomes(report: &Value) -> Vec<String> {
    report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn blobs_are_stored_under_their_hash_and_refused_under_another() {
    let app = spawn_app().await;
    let bytes = pdf_bytes("blob");
    let sha256 = sha256_hex(&bytes);
    let head = |token: String| {
        let request = app
            .client
            .head(app.url(&format!("/api/v1/blobs/{sha256}")))
            .bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(head(app.scanner.clone()).await.status(), 404);
    assert_eq!(
        put_blob(&app, &app.scanner, &sha256, &bytes).await.status(),
        201
    );
    let again = put_blob(&app, &app.scanner, &sha256, &bytes).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.unwrap()["stored"],
        "already_present"
    );
    let present = head(app.scanner.clone()).await;
    assert_eq!(present.status(), 200);
    assert_eq!(
        present.headers()["content-length"].to_str().unwrap(),
        bytes.len().to_string()
    );
    assert_eq!(app.stored_objects().len(), 1);

    // Bytes that do not hash to the name are refused and leave nothing behind.
    let other = pdf_bytes("other");
    let refused = put_blob(&app, &app.scanner, &sha256_hex(b"something else"), &other).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["field"], "content");
    assert_eq!(app.stored_objects().len(), 1);
    assert_eq!(
        put_blob(&app, &app.scanner, "not-a-hash", &other)
            .await
            .status(),
        422
    );
    // Reading roles do not upload.
    assert_eq!(
        put_blob(&app, &app.reader, &sha256, &bytes).await.status(),
        403
    );
}

/// `POST /api/v1/blobs` of `parts` (name, file name, bytes).
async fn put_blobs(app: &TestApp, token: &str, parts: &[(&str, &str, &[u8])]) -> (u16, Value) {
    let form = parts.iter().fold(Form::new(), |form, (name, file, bytes)| {
        form.part(
            name.to_string(),
            Part::bytes(bytes.to_vec()).file_name(file.to_string()),
        )
    });
    let response = app
        .client
        .post(app.url("/api/v1/blobs"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn several_blobs_travel_in_one_request_and_a_refused_part_spares_the_others() {
    let app = spawn_app().await;
    let [first, second, third] = [pdf_bytes("first"), pdf_bytes("second"), pdf_bytes("third")];
    let hashes = [&first, &second, &third].map(|bytes| sha256_hex(bytes));
    upload(
        &app,
        &BatchFile {
            name: "first.pdf".into(),
            bytes: first.clone(),
        },
    )
    .await;
    let (status, body) = put_blobs(
        &app,
        &app.scanner,
        &[
            (&hashes[0], "first.pdf", &first),
            (&hashes[1], "second.pdf", &second),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["blobs"],
        json!([
            {"sha256": hashes[0], "size": first.len(), "stored": "already_present"},
            {"sha256": hashes[1], "size": second.len(), "stored": "created"},
        ])
    );
    let (_, held) = missing(
        &app,
        &app.scanner,
        json!([{"sha256": hashes[1], "size": second.len()}]),
    )
    .await;
    assert_eq!(held["missing"], json!([]), "recorded for the tenant");
    assert_eq!(
        std::fs::read(object_path(&app, &hashes[1])).unwrap(),
        second
    );

    // Every refused part is named with its reason; the sound ones are stored all the same.
    let (status, body) = put_blobs(
        &app,
        &app.scanner,
        &[
            (&hashes[0], "second.pdf", &second),
            ("not-a-hash", "x.pdf", &first),
            (&hashes[2], "third.pdf", &third),
            (&sha256_hex(b""), "empty.pdf", b""),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_fields(&body),
        ["blobs[0]", "blobs[1]", "blobs[3]"],
        "{body}"
    );
    let details = body["error"]["details"].to_string();
    assert!(
        details.contains("second.pdf") && details.contains(&hashes[1]),
        "{details}"
    );
    assert_eq!(std::fs::read(object_path(&app, &hashes[2])).unwrap(), third);
    assert_eq!(
        std::fs::read(object_path(&app, &hashes[0])).unwrap(),
        first,
        "a part named with another file's hash does not overwrite it"
    );
    let (_, held) = missing(
        &app,
        &app.scanner,
        json!([{"sha256": hashes[2], "size": third.len()}]),
    )
    .await;
    assert_eq!(held["missing"], json!([]));

    // The first 1,000 parts are stored and recorded, the ones after refused.
    let many: Vec<Vec<u8>> = (0..1_001)
        .map(|n| format!("scan {n}").into_bytes())
        .collect();
    let many_hashes: Vec<String> = many.iter().map(|bytes| sha256_hex(bytes)).collect();
    let parts: Vec<(&str, &str, &[u8])> = many_hashes
        .iter()
        .zip(&many)
        .map(|(hash, bytes)| (hash.as_str(), "scan.pdf", bytes.as_slice()))
        .collect();
    let (status, body) = put_blobs(&app, &app.scanner, &parts).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_fields(&body), ["blobs"], "{body}");
    let (_, held) = missing(
        &app,
        &app.scanner,
        json!([{"sha256": many_hashes[999], "size": many[999].len()},
               {"sha256": many_hashes[1000], "size": many[1000].len()}]),
    )
    .await;
    assert_eq!(held["missing"], json!([many_hashes[1000]]));
    assert!(!object_path(&app, &many_hashes[1000]).exists());
    let (status, _) = put_blobs(&app, &app.reader, &[(&hashes[0], "first.pdf", &first)]).await;
    assert_eq!(status, 403);
    let not_multipart = app
        .client
        .post(app.url("/api/v1/blobs"))
        .bearer_auth(&app.scanner)
        .body(first.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), 400);
    // A multipart body without a single part stored nothing: refused, the field named.
    let empty = app
        .client
        .post(app.url("/api/v1/blobs"))
        .bearer_auth(&app.scanner)
        .header("content-type", "multipart/form-data; boundary=X")
        .body("--X--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    let body: Value = empty.json().await.unwrap();
    assert_eq!(error_fields(&body), ["blobs"], "{body}");
}

#[tokio::test]
async fn a_part_over_the_upload_limit_is_refused_alone() {
    let folder = tempfile::tempdir().unwrap();
    let app = spawn_app_on(folder.path(), |settings| settings.max_upload_bytes = 4_000).await;
    let small = pdf_bytes("small");
    let large = vec![b'x'; 5_000];
    let (small_hash, large_hash) = (sha256_hex(&small), sha256_hex(&large));
    let (status, body) = put_blobs(
        &app,
        &app.scanner,
        &[
            (&large_hash, "large.pdf", &large),
            (&small_hash, "small.pdf", &small),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_fields(&body), ["blobs[0]"], "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("large.pdf"),
        "{body}"
    );
    assert_eq!(
        std::fs::read(object_path(&app, &small_hash)).unwrap(),
        small
    );
    assert!(!object_path(&app, &large_hash).exists());
}

async fn missing(app: &TestApp, token: &str, blobs: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/blobs/missing"))
        .bearer_auth(token)
        .json(&json!({ "blobs": blobs }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn one_request_tells_which_files_the_tenant_still_has_to_upload() {
    let app = spawn_app().await;
    let [sent, not_sent] = [batch_file("sent.pdf"), batch_file("not-sent.pdf")];
    upload(&app, &sent).await;
    let (sent_hash, not_sent_hash) = (sha256_hex(&sent.bytes), sha256_hex(&not_sent.bytes));
    let asked = json!([
        {"sha256": not_sent_hash, "size": not_sent.bytes.len()},
        {"sha256": sent_hash, "size": sent.bytes.len()},
        // Held, but not with this size: sending it again repairs a damaged copy.
        {"sha256": sent_hash, "size": sent.bytes.len() + 1},
    ]);
    let (status, body) = missing(&app, &app.scanner, asked.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["missing"], json!([not_sent_hash, sent_hash]));

    // Another tenant holds nothing of this one's uploads.
    let other = app
        .issue_token("autre-caisse", Role::Scanner, Some("SCAN-LYON"))
        .await;
    let (status, body) = missing(&app, &other, asked).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["missing"],
        json!([not_sent_hash, sent_hash]),
        "each hash once"
    );

    let (status, body) = missing(
        &app,
        &app.scanner,
        json!([{"sha256": sent_hash, "size": 1}, {"sha256": sent_hash.to_uppercase(), "size": 1}]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "blobs[1].sha256");
    let too_many: Vec<Value> = (0..10_001)
        .map(|_| json!({"sha256": sent_hash, "size": 1}))
        .collect();
    let (status, body) = missing(&app, &app.scanner, json!(too_many)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "blobs");
    let (status, _) = missing(&app, &app.reader, json!([])).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_json_batch_is_archived_reported_searchable_and_idempotent() {
    let app = spawn_app().await;
    let files: Vec<BatchFile> = (1..=3)
        .map(|n| batch_file(&format!("000{n}.pdf")))
        .collect();
    for file in &files {
        upload(&app, file).await;
    }
    let batch = manifest(
        "LOT-2024-03-07-01",
        vec![
            entry(&files[0], NIR),
            entry(&files[1], NIR),
            entry(&files[2], NIR_2),
        ],
    );
    let (status, report) = commit(&app, &app.scanner, "", &batch).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["status"], "completed");
    assert_eq!(report["totals"]["archived"], 3);
    assert_eq!(outcomes(&report), ["archived", "archived", "archived"]);

    // Each document is whole: metadata with the batch's defaults, content, audit entry.
    let id = report["documents"][1]["document_id"].as_str().unwrap();
    let document: Value = app
        .get(&format!("/api/v1/documents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(document["direction"], "inbound");
    assert_eq!(document["channel"], "postal");
    assert_eq!(document["received_at"], "2024-03-07T08:30:00.000000Z");
    assert_eq!(
        document["external_id"],
        format!("sha256:{}", sha256_hex(&files[1].bytes))
    );
    assert_eq!(document["batch_ref"], "LOT-2024-03-07-01");
    assert_eq!(document["file_name"], "0002.pdf");
    assert_eq!(document["media_type"], "application/pdf");
    let content = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(content.bytes().await.unwrap(), files[1].bytes);
    assert_eq!(app.count_audit("document.archived").await, 3);

    // Found by batch reference, and by person.
    assert_eq!(app.search("batch=LOT-2024-03-07-01").await["total"], 3);
    assert_eq!(
        app.search(&format!("batch=LOT-2024-03-07-01&nir={NIR}"))
            .await["total"],
        2
    );

    // Sent again: the first report, nothing archived twice.
    let (status, again) = commit(&app, &app.scanner, "", &batch).await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], report["id"]);
    assert_eq!(again["documents"], report["documents"]);
    assert_eq!(app.count_rows("documents").await, 3);

    // The same reference with other documents is a conflict.
    let other = manifest("LOT-2024-03-07-01", vec![entry(&files[0], NIR_2)]);
    let (status, body) = commit(&app, &app.scanner, "", &other).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["field"], "batch_ref");

    // The report is there to read later.
    let path = format!("/api/v1/batches/{}", report["id"].as_str().unwrap());
    let read: Value = app.get_as(&app.scanner, &path).await.json().await.unwrap();
    assert_eq!(read["documents"], report["documents"]);
}

#[tokio::test]
async fn a_partly_invalid_batch_is_refused_whole_with_every_error_unless_partial_is_asked() {
    let app = spawn_app().await;
    let files: Vec<BatchFile> = (1..=4).map(|n| batch_file(&format!("{n}.pdf"))).collect();
    for file in &files[..3] {
        upload(&app, file).await;
    }
    let mut bad_nir = entry(&files[1], NIR);
    bad_nir["individuals"][0]["nir"] = json!("185057800608492");
    let mut bad_size = entry(&files[2], NIR);
    bad_size["size"] = json!(5);
    let batch = manifest(
        "LOT-MIXED",
        vec![
            entry(&files[0], NIR),
            bad_nir,
            bad_size,
            entry(&files[3], NIR), // never uploaded
        ],
    );
    let (status, body) = commit(&app, &app.scanner, "", &batch).await;
    assert_eq!(status, 422, "{body}");
    let fields = error_fields(&body);
    assert_eq!(
        fields,
        [
            "documents[1].individuals[0].nir",
            "documents[2].size",
            "documents[3].sha256"
        ]
    );
    assert_eq!(app.count_rows("documents").await, 0);
    assert_eq!(app.count_rows("batches").await, 0);

    let (status, report) = commit(&app, &app.scanner, "?accept_partial=true", &batch).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(
        outcomes(&report),
        ["archived", "rejected", "rejected", "rejected"]
    );
    assert_eq!(report["totals"]["archived"], 1);
    assert_eq!(report["totals"]["rejected"], 3);
    assert_eq!(
        report["documents"][1]["errors"][0]["field"],
        "individuals[0].nir"
    );
    assert_eq!(app.count_rows("documents").await, 1);

    // The supervisor's list shows it with its counts.
    let list: Value = app
        .get_as(
            &app.scanner,
            "/api/v1/batches?source=SCAN-LYON&from=2020-01-01",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["batches"].as_array().unwrap().len(), 1);
    assert_eq!(list["batches"][0]["totals"]["rejected"], 3);
    assert_eq!(list["batches"][0]["status"], "completed");
}

/// The server that stored a batch's content checks the manifest from what the uploads found;
/// a server started since reads the content back from the store: the same verdicts.
#[tokio::test]
async fn a_manifest_is_checked_alike_by_the_server_that_stored_its_content_and_after_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let files: Vec<BatchFile> = (1..=3).map(|n| batch_file(&format!("{n}.pdf"))).collect();
    let mut bad_size = entry(&files[1], NIR);
    bad_size["size"] = json!(5);
    let mut misnamed = entry(&files[2], NIR);
    misnamed["file"] = json!("3.png");
    let batch = manifest(
        "LOT-RESTART",
        vec![entry(&files[0], NIR), bad_size, misnamed],
    );

    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    for file in &files {
        upload(&app, file).await;
    }
    let (status, before) = commit(&app, &app.scanner, "", &batch).await;
    assert_eq!(status, 422, "{before}");
    assert_eq!(
        error_fields(&before),
        ["documents[1].size", "documents[2].file"]
    );
    app.stop().await;

    let app = spawn_app_on(&data_dir, |_| {}).await;
    let (status, after) = commit(&app, &app.scanner, "", &batch).await;
    assert_eq!(status, 422, "{after}");
    assert_eq!(after["errors"], before["errors"]);
    let (status, report) = commit(
        &app,
        &app.scanner,
        "",
        &manifest("LOT-RESTART", vec![entry(&files[0], NIR)]),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(outcomes(&report), ["archived"]);
}

#[tokio::test]
async fn a_csv_manifest_names_several_parties_per_line() {
    let app = spawn_app().await;
    let files = [batch_file("a.pdf"), batch_file("b.pdf")];
    for file in &files {
        upload(&app, file).await;
    }
    let mut csv = String::from(
        "batch_ref;source;scanned_at;file;sha256;size;document_type;document_date;title;\
         individual1_nir;individual1_last_name;individual2_client_number;company1_siret;company1_name\n",
    );
    for (file, nir) in files.iter().zip([NIR, NIR_2]) {
        csv.push_str(&format!(
            "LOT-CSV;SCAN-LYON;2024-03-07T09:30:00Z;{};{};{};FACTURE;2024-03-01;Facture contestée;{nir};Lefèvre;C-77;{SIRET};Eaux de Lyon\n",
            file.name,
            sha256_hex(&file.bytes),
            file.bytes.len()
        ));
    }
    let (status, report) = commit_csv(&app, csv).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["documents"][1]["line"], 3);
    let id = report["documents"][0]["document_id"].as_str().unwrap();
    let document: Value = app
        .get(&format!("/api/v1/documents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(document["individuals"].as_array().unwrap().len(), 2);
    assert_eq!(
        document["individuals"][1]["client_numbers"],
        json!(["C-77"])
    );
    assert_eq!(document["companies"][0]["siret"], SIRET);
    assert_eq!(
        app.search(&format!("siren={SIREN}&batch=LOT-CSV")).await["total"],
        2
    );

    // A bad line is named by its line number and column.
    let bad = format!(
        "batch_ref,source,scanned_at,file,sha256,size,document_type,document_date,company1_siret\n\
         LOT-CSV-2,SCAN-LYON,2024-03-07T09:30:00Z,a.pdf,{},{},FACTURE,2024-03-01,73282932000075\n",
        sha256_hex(&files[0].bytes),
        files[0].bytes.len()
    );
    let (status, body) = commit_csv(&app, bad).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "line[2].company1_siret");
}

#[tokio::test]
async fn a_document_archived_before_is_reported_with_its_id() {
    let app = spawn_app().await;
    let file = batch_file("0001.pdf");
    let mut single = metadata();
    single["external_id"] = json!(format!("sha256:{}", sha256_hex(&file.bytes)));
    let form = reqwest::multipart::Form::new()
        .text("metadata", single.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(file.bytes.clone())
                .file_name("0001.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let response = app.archive_form(form).await;
    let first: Value = response.json().await.unwrap();
    let (status, report) = commit(
        &app,
        &app.scanner,
        "",
        &manifest("LOT-9", vec![entry(&file, NIR)]),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(outcomes(&report), ["already_archived"]);
    assert_eq!(report["documents"][0]["document_id"], first["id"]);
    assert_eq!(app.count_rows("documents").await, 1);
}

#[tokio::test]
async fn a_party_conflict_found_while_archiving_rejects_that_document_alone() {
    let app = spawn_app().await;
    // Two persons already archived: NIR with C-1, NIR_2 with C-2.
    for (nir, client) in [(NIR, "C-1"), (NIR_2, "C-2")] {
        let mut single = metadata();
        single["individuals"] = json!([{"nir": nir, "client_number": client}]);
        single["companies"] = json!([]);
        app.archive_ok(&single, pdf_part(client)).await;
    }
    let files: Vec<BatchFile> = (1..=3).map(|n| batch_file(&format!("p{n}.pdf"))).collect();
    for file in &files {
        upload(&app, file).await;
    }
    let mut contradicting = entry(&files[1], NIR);
    contradicting["individuals"][0]["client_number"] = json!("C-2");
    let batch = manifest(
        "LOT-CONFLICT",
        vec![
            entry(&files[0], NIR),
            contradicting,
            entry(&files[2], NIR_2),
        ],
    );
    let (status, report) = commit(&app, &app.scanner, "", &batch).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(outcomes(&report), ["archived", "rejected", "archived"]);
    assert_eq!(
        report["documents"][1]["errors"][0]["field"],
        "individuals[0]"
    );
    assert_eq!(app.count_rows("documents").await, 4);
    assert_eq!(
        app.count_rows("documents WHERE batch_ref = 'LOT-CONFLICT'")
            .await,
        2
    );
    let verified = ged_async(&["verify", "--data-dir", app.data_dir.to_str().unwrap()]).await;
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

#[tokio::test]
async fn a_person_a_batch_introduces_is_completed_by_its_later_documents() {
    let app = spawn_app().await;
    let files: Vec<BatchFile> = (0..5).map(|n| batch_file(&format!("q{n}.pdf"))).collect();
    for file in &files {
        upload(&app, file).await;
    }
    // One chunk: a new person by client number, then the NIR and a last name, then the NIR
    // alone, then another NIR for the same client number (refused), then a first name.
    let batch = manifest(
        "LOT-PERSON",
        vec![
            about(&files[0], json!({"client_number": "C-50"})),
            about(
                &files[1],
                json!({"client_number": "C-50", "nir": NIR, "last_name": "Martin"}),
            ),
            about(&files[2], json!({"nir": NIR})),
            about(&files[3], json!({"client_number": "C-50", "nir": NIR_2})),
            about(
                &files[4],
                json!({"client_number": "C-50", "first_name": "Anne"}),
            ),
        ],
    );
    let (status, report) = commit(&app, &app.scanner, "", &batch).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(
        outcomes(&report),
        ["archived", "archived", "archived", "rejected", "archived"]
    );
    let field = report["documents"][3]["errors"][0]["field"]
        .as_str()
        .unwrap();
    assert!(field.starts_with("individuals[0]"), "{report}");
    assert_eq!(app.count_rows("parties").await, 1);
    // Every document is found by what the person's later mail taught, the first included.
    for query in [format!("nir={NIR}"), "name=Anne Martin".to_string()] {
        let found = app.search(&query).await;
        assert_eq!(found["total"], 4, "{query}: {found}");
    }
}

#[tokio::test]
async fn a_document_already_archived_teaches_the_batch_nothing_about_its_parties() {
    let app = spawn_app().await;
    let files: Vec<BatchFile> = (0..3).map(|n| batch_file(&format!("k{n}.pdf"))).collect();
    for file in &files {
        upload(&app, file).await;
    }
    let (status, _) = commit(
        &app,
        &app.scanner,
        "",
        &manifest(
            "LOT-FIRST",
            vec![about(&files[0], json!({"client_number": "C-77"}))],
        ),
    )
    .await;
    assert_eq!(status, 201);
    // Sent again inside a later batch (same content, so the same external id) with a person
    // the archive does not know, whom the next document names with another NIR: the first is
    // not archived again, so its entry must not create that person.
    let (status, report) = commit(
        &app,
        &app.scanner,
        "",
        &manifest(
            "LOT-AGAIN",
            vec![
                about(&files[0], json!({"client_number": "C-78", "nir": NIR})),
                about(&files[1], json!({"client_number": "C-78", "nir": NIR_2})),
                about(&files[2], json!({"client_number": "C-79"})),
            ],
        ),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(
        outcomes(&report),
        ["already_archived", "archived", "archived"],
        "{report}"
    );
    assert_eq!(app.count_rows("parties").await, 3);
    assert_eq!(
        app.count_rows(&format!("party_references WHERE value = '{NIR}'"))
            .await,
        0
    );
    let found = app.search(&format!("nir={NIR_2}")).await;
    assert_eq!(found["total"], 1, "{found}");
}

#[tokio::test]
async fn batches_stay_within_their_source_and_tenant() {
    let app = spawn_app().await;
    let file = batch_file("x.pdf");
    upload(&app, &file).await;
    let (status, report) = commit(
        &app,
        &app.scanner,
        "",
        &manifest("LOT-A", vec![entry(&file, NIR)]),
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("/api/v1/batches/{}", report["id"].as_str().unwrap());

    let paris = app
        .issue_token(DEFAULT_TENANT, Role::Scanner, Some("SCAN-PARIS"))
        .await;
    let (status, body) = commit(
        &app,
        &paris,
        "",
        &manifest("LOT-B", vec![entry(&file, NIR)]),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["field"], "source");
    assert_eq!(app.get_as(&paris, &path).await.status(), 404);
    let list: Value = app
        .get_as(&paris, "/api/v1/batches")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["batches"], json!([]));

    let auditor = app.issue_token(DEFAULT_TENANT, Role::Auditor, None).await;
    assert_eq!(app.get_as(&auditor, &path).await.status(), 200);
    let other_tenant = app.issue_token("autre-caisse", Role::Auditor, None).await;
    assert_eq!(app.get_as(&other_tenant, &path).await.status(), 404);
    let agent = app.issue_token(DEFAULT_TENANT, Role::Agent, None).await;
    assert_eq!(app.get_as(&agent, &path).await.status(), 403);
    assert_eq!(app.count_audit("batch.received").await, 1);
    assert_eq!(app.count_audit("batch.completed").await, 1);
}

/// Writes a batch folder: the files and a CSV manifest.
pub fn write_batch_folder(folder: &Path, batch_ref: &str, files: &[BatchFile]) {
    std::fs::create_dir_all(folder.join("scans")).unwrap();
    let mut csv = String::from(
        "batch_ref;source;scanned_at;file;sha256;size;document_type;document_date;individual1_nir\n",
    );
    for file in files {
        std::fs::write(folder.join("scans").join(&file.name), &file.bytes).unwrap();
        csv.push_str(&format!(
            "{batch_ref};SCAN-LYON;2024-03-07T09:30:00Z;scans/{};{};{};RECLAMATION;2024-03-05;{NIR}\n",
            file.name,
            sha256_hex(&file.bytes),
            file.bytes.len()
        ));
    }
    std::fs::write(folder.join("manifest.csv"), csv).unwrap();
}

/// A reverse proxy in front of `app` that refuses bodies of several files (413), as a proxy
/// with a small body limit does, and forwards every other request. Returns its address.
async fn proxy_refusing_several_files(app: &TestApp) -> String {
    use axum::body::Body;
    use axum::http::{Method, Request, Response, StatusCode};
    let upstream = app.address.clone();
    let client = reqwest::Client::new();
    let forward = move |request: Request<Body>| {
        let (upstream, client) = (upstream.clone(), client.clone());
        async move {
            let (parts, body) = request.into_parts();
            if parts.method == Method::POST && parts.uri.path() == "/api/v1/blobs" {
                return Response::builder()
                    .status(StatusCode::PAYLOAD_TOO_LARGE)
                    .body(Body::from("413 Request Entity Too Large"))
                    .unwrap();
            }
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let mut forwarded = client.request(
                parts.method.clone(),
                format!("{upstream}{}", parts.uri.path_and_query().unwrap()),
            );
            for name in ["authorization", "content-type"] {
                if let Some(value) = parts.headers.get(name) {
                    forwarded = forwarded.header(name, value.clone());
                }
            }
            let answer = forwarded.body(body).send().await.unwrap();
            let mut response = Response::builder().status(answer.status());
            if let Some(value) = answer.headers().get("content-type") {
                response = response.header("content-type", value.clone());
            }
            response
                .body(Body::from(answer.bytes().await.unwrap()))
                .unwrap()
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(forward))
            .await
            .unwrap();
    });
    address
}

#[tokio::test]
async fn ged_ingest_sends_files_one_by_one_where_a_request_of_several_is_refused() {
    let app = spawn_app().await;
    let proxy = proxy_refusing_several_files(&app).await;
    let folder = tempfile::tempdir().unwrap();
    let files: Vec<BatchFile> = (0..5).map(|n| batch_file(&format!("{n:04}.pdf"))).collect();
    write_batch_folder(folder.path(), "LOT-PROXY", &files);
    let output = ged_async(&[
        "ingest",
        folder.path().to_str().unwrap(),
        "--server",
        &proxy,
        "--token",
        &app.scanner,
    ])
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("5 archived"), "{stdout}");
    assert_eq!(app.stored_objects().len(), 5);
}

#[tokio::test]
async fn ged_ingest_checks_locally_uploads_what_is_missing_and_prints_the_report() {
    let app = spawn_app().await;
    let folder = tempfile::tempdir().unwrap();
    let files: Vec<BatchFile> = (0..12)
        .map(|n| batch_file(&format!("{n:04}.pdf")))
        .collect();
    write_batch_folder(folder.path(), "LOT-CLI", &files);
    let dir = folder.path().to_str().unwrap();
    let run = async |extra: &[&str]| {
        let mut args = vec![
            "ingest",
            dir,
            "--server",
            &app.address,
            "--token",
            &app.scanner,
        ];
        args.extend_from_slice(extra);
        ged_async(&args).await
    };

    let dry = run(&["--dry-run"]).await;
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(app.count_rows("documents").await, 0);
    assert!(app.stored_objects().is_empty());

    // Two blobs are already there (an earlier, interrupted run): they are not sent again.
    upload(&app, &files[0]).await;
    upload(&app, &files[1]).await;
    let output = run(&[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("12 archived"), "{stdout}");
    assert!(stdout.contains("uploaded 10 files"), "{stdout}");
    assert!(stdout.contains("2 already on the server"), "{stdout}");
    assert_eq!(app.count_rows("documents").await, 12);

    let again = run(&["--json"]).await;
    assert!(again.status.success());
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["totals"]["archived"], 12);
    assert_eq!(app.count_rows("documents").await, 12);

    // A file that changed after the manifest was written stops the batch before anything is sent.
    std::fs::write(
        folder.path().join("scans/0003.pdf"),
        pdf_bytes("scan 9999.pdf"),
    )
    .unwrap();
    let csv = std::fs::read_to_string(folder.path().join("manifest.csv")).unwrap();
    std::fs::write(
        folder.path().join("manifest.csv"),
        csv.replace("LOT-CLI", "LOT-CLI-2"),
    )
    .unwrap();
    let refused = run(&[]).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line[5].sha256"), "{stderr}");
    assert_eq!(app.count_rows("batches").await, 1);
}

#[tokio::test]
async fn batch_documents_join_dossiers_named_in_json_and_csv_and_unknown_ones_are_refused_first() {
    let app = spawn_app().await;
    let agent = app.issue_token(DEFAULT_TENANT, Role::Agent, None).await;
    open_dossier(&app, &agent, "FAC-7").await;
    let files: Vec<BatchFile> = (1..=3).map(|n| batch_file(&format!("{n}.pdf"))).collect();
    for file in &files {
        upload(&app, file).await;
    }

    // An unknown reference refuses the manifest before anything is archived.
    let mut unknown = entry(&files[0], NIR);
    unknown["dossiers"] = json!(["FAC-404"]);
    let (status, body) = commit(&app, &app.scanner, "", &manifest("LOT-D0", vec![unknown])).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "documents[0].dossiers[0]");
    assert_eq!(app.count_rows("batches").await, 0);

    let mut known = entry(&files[0], NIR);
    known["dossiers"] = json!(["FAC-7"]);
    let (status, report) = commit(&app, &app.scanner, "", &manifest("LOT-D1", vec![known])).await;
    assert_eq!(status, 201, "{report}");

    // CSV: dossierN_ columns; a new dossier is created once for the two lines naming it.
    let mut csv = String::from(
        "batch_ref;source;scanned_at;file;sha256;size;document_type;document_date;individual1_nir;\
         dossier1_reference;dossier2_reference;dossier2_create;dossier2_category\n",
    );
    for file in &files[1..] {
        csv.push_str(&format!(
            "LOT-D2;SCAN-LYON;2024-03-07T09:30:00Z;{};{};{};FACTURE;2024-03-01;{NIR};FAC-7;REC-8;oui;Règlement\n",
            file.name,
            sha256_hex(&file.bytes),
            file.bytes.len()
        ));
    }
    let (status, report) = commit_csv(&app, csv.clone()).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(outcomes(&report), ["archived", "archived"]);
    assert_eq!(app.search("dossier=FAC-7").await["total"], 3);
    assert_eq!(app.search("dossier=REC-8").await["total"], 2);
    assert_eq!(app.count_rows("dossiers").await, 2);

    // In CSV, the refusal names the line and the column.
    let bad = csv
        .replace("LOT-D2", "LOT-D3")
        .replace("FAC-7;REC-8;oui", "FAC-404;REC-8;oui");
    let (status, body) = commit_csv(&app, bad).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "line[2].dossier1_reference");
}

#[tokio::test]
async fn a_batch_document_may_name_a_dossier_an_earlier_document_of_the_batch_creates() {
    let app = spawn_app().await;
    let files: Vec<BatchFile> = (1..=2).map(|n| batch_file(&format!("{n}.pdf"))).collect();
    for file in &files {
        upload(&app, file).await;
    }
    let mut first = entry(&files[0], NIR);
    first["dossiers"] = json!([{"reference": "REC-1", "create": true, "category": "Facture"}]);
    let mut second = entry(&files[1], NIR);
    second["dossiers"] = json!(["REC-1"]);
    // Named before it is created: refused.
    let early = manifest("LOT-E", vec![second.clone(), first.clone()]);
    let (status, body) = commit(&app, &app.scanner, "", &early).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "documents[0].dossiers[0]");
    // Named after: both archived into the one dossier.
    let (status, report) = commit(
        &app,
        &app.scanner,
        "",
        &manifest("LOT-F", vec![first, second]),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(outcomes(&report), ["archived", "archived"]);
    assert_eq!(app.search("dossier=REC-1").await["total"], 2);
}
