//! `ged verify` finds corrupted and missing content and a tampered audit log; corrupted content
//! is never served.

use serde_json::Value;

use crate::helpers::*;

async fn archive_two(app: &TestApp) -> (Value, Value) {
    let first = app
        .archive_ok(&metadata(), pdf_part("first to verify"))
        .await;
    let second = app
        .archive_ok(&metadata(), pdf_part("second to verify"))
        .await;
    (first, second)
}

async fn run_verify(app: &TestApp) -> (bool, String) {
    let output = ged_async(&["verify", "--data-dir", app.data_dir.to_str().unwrap()]).await;
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test]
async fn verify_passes_on_an_intact_archive() {
    let app = spawn_app().await;
    archive_two(&app).await;
    let (success, output) = run_verify(&app).await;
    assert!(success, "{output}");
    assert!(output.contains("objects:   2 re-hashed"), "{output}");
    assert!(output.contains("documents: 2 checked"), "{output}");
    assert!(output.contains("result: the archive is intact"), "{output}");
}

#[tokio::test]
async fn verify_catches_a_corrupted_object_and_the_content_is_not_served() {
    let app = spawn_app().await;
    let (first, _) = archive_two(&app).await;
    let sha256 = first["sha256"].as_str().unwrap();
    let path = object_path(&app, sha256);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0x01; // same size, one bit flipped
    std::fs::write(&path, &bytes).unwrap();

    let (success, output) = run_verify(&app).await;
    assert!(!success, "verify must fail: {output}");
    assert!(output.contains("corrupted object"), "{output}");
    assert!(output.contains(sha256), "{output}");
    assert!(output.contains("1 problem"), "{output}");

    // Served content is checked as it streams: the response fails rather than deliver bad bytes.
    let id = first["id"].as_str().unwrap();
    let url = app.url(&format!("/api/v1/documents/{id}/content"));
    assert!(
        delivery_fails(app.client.get(&url).bearer_auth(&app.reader)).await,
        "corrupted content must not be delivered whole"
    );
    assert!(
        delivery_fails(
            app.client
                .get(&url)
                .bearer_auth(&app.reader)
                .header("range", "bytes=0-9")
        )
        .await,
        "nor any range of it"
    );
}

/// A failed delivery: the connection is dropped before the headers or before the body ends.
#[tokio::test]
async fn verify_catches_missing_content() {
    let app = spawn_app().await;
    let (_, second) = archive_two(&app).await;
    let sha256 = second["sha256"].as_str().unwrap();
    std::fs::remove_file(object_path(&app, sha256)).unwrap();

    let (success, output) = run_verify(&app).await;
    assert!(!success, "{output}");
    assert!(
        output.contains(&format!("its content {sha256} is missing")),
        "{output}"
    );

    let id = second["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/documents/{id}/content"))
            .await
            .status(),
        500
    );
}

#[tokio::test]
async fn verify_names_the_first_tampered_audit_entry() {
    let app = spawn_app().await;
    archive_two(&app).await;
    app.archive_ok(&metadata(), pdf_part("third")).await;

    // Someone with access to the database file edits history behind the application's back.
    let pool = catalog_pool(&app.data_dir).await;
    let refused = sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        .execute(&pool)
        .await;
    assert!(
        refused.is_err(),
        "the application's own connection cannot rewrite the log"
    );
    drop_audit_trigger(&pool, "audit_log_no_update").await;
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let (success, output) = run_verify(&app).await;
    assert!(!success, "{output}");
    assert!(
        output.contains("audit log entry 2 breaks the chain"),
        "{output}"
    );
}

#[tokio::test]
async fn verify_refuses_a_folder_without_an_archive() {
    // An embedded archive is its folder; a PostgreSQL catalog is named by its URL, never
    // missing from a folder (its tests give every folder a database).
    if crate::BACKEND != Backend::Sqlite {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let output = ged_async(&[
        "verify",
        "--data-dir",
        folder.path().join("nothing").to_str().unwrap(),
    ])
    .await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no archive"));
}

#[tokio::test]
async fn a_damaged_object_is_repaired_by_the_next_upload_of_its_content() {
    let app = spawn_app().await;
    let (first, _) = archive_two(&app).await;
    let sha256 = first["sha256"].as_str().unwrap();
    let path = object_path(&app, sha256);
    let original = std::fs::read(&path).unwrap();
    let mut damaged = original.clone();
    damaged[10] ^= 0x40; // same size
    std::fs::write(&path, &damaged).unwrap();

    let again = app
        .archive_ok(&metadata(), pdf_part("first to verify"))
        .await;
    assert_eq!(again["sha256"], sha256);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        original,
        "the object was rewritten"
    );
    let id = first["id"].as_str().unwrap();
    let content = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(content.bytes().await.unwrap().as_ref(), original.as_slice());
    let (success, output) = run_verify(&app).await;
    assert!(success, "{output}");
}

#[tokio::test]
async fn a_damaged_object_named_by_nothing_is_noted_as_an_interrupted_upload_not_a_problem() {
    let app = spawn_app().await;
    archive_two(&app).await;
    // What a power cut leaves when it strikes between an upload's link and its flush.
    let intended = pdf_bytes("never acknowledged");
    let sha256 = sha256_hex(&intended);
    let path = object_path(&app, &sha256);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![0u8; intended.len()]).unwrap();

    let (success, output) = run_verify(&app).await;
    assert!(success, "{output}");
    assert!(output.contains("objects:   3 re-hashed"), "{output}");
    assert!(
        output.contains(&format!(
            "note: object sha256/{}/{}/{sha256} is damaged",
            &sha256[0..2],
            &sha256[2..4]
        )),
        "{output}"
    );
    assert!(output.contains("result: the archive is intact"), "{output}");

    // Once a tenant has uploaded that content, damage to it is a problem again.
    let response = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{sha256}")))
        .bearer_auth(&app.scanner)
        .body(intended.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        201,
        "the upload replaces the damaged object"
    );
    assert_eq!(std::fs::read(&path).unwrap(), intended);
    std::fs::write(&path, vec![0u8; intended.len()]).unwrap();
    let (success, output) = run_verify(&app).await;
    assert!(!success, "{output}");
    assert!(output.contains("corrupted object"), "{output}");
}

#[tokio::test]
async fn verify_catches_a_document_row_pointed_at_other_content() {
    let app = spawn_app().await;
    let first = app.archive_ok(&metadata(), pdf_part("content one")).await;
    let second = app.archive_ok(&metadata(), pdf_part("content two")).await;
    // Two PDFs of the same size: the edited row still finds an object of the right size.
    assert_eq!(first["size"], second["size"]);
    let pool = catalog_pool(&app.data_dir).await;
    sqlx::query("UPDATE documents SET sha256 = $1 WHERE id = $2")
        .bind(second["sha256"].as_str().unwrap())
        .bind(first["id"].as_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (success, output) = run_verify(&app).await;
    assert!(!success, "{output}");
    assert!(output.contains(first["id"].as_str().unwrap()), "{output}");
}
