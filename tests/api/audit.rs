//! The access trail: every view and download recorded, queryable by document, person, actor
//! and date, and never holding a NIR in clear.

use ged::access::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn trail(app: &TestApp, auditor: &str, query: &str) -> Value {
    let response = app.get_as(auditor, &format!("/api/v1/audit{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn who_looked_at_my_file() {
    let app = spawn_app().await;
    let auditor = app.issue_token("default", Role::Auditor, None).await;
    let agent = app.issue("default", Role::Agent, None).await;

    let mine = app.archive_ok(&metadata(), pdf_part("about me")).await;
    let mut someone_else = metadata();
    someone_else["individuals"] = json!([{"nir": NIR_2}]);
    let theirs = app
        .archive_ok(&someone_else, pdf_part("about someone else"))
        .await;
    let mine_id = mine["id"].as_str().unwrap();

    assert_eq!(
        app.get_as(&agent.token, &format!("/api/v1/documents/{mine_id}"))
            .await
            .status(),
        200
    );
    let content = app
        .get_as(
            &agent.token,
            &format!("/api/v1/documents/{mine_id}/content"),
        )
        .await;
    assert_eq!(content.status(), 200);
    content.bytes().await.unwrap();
    let theirs_path = format!("/api/v1/documents/{}", theirs["id"].as_str().unwrap());
    assert_eq!(app.get_as(&agent.token, &theirs_path).await.status(), 200);

    // By person: what concerns this NIR, written with or without spaces.
    let page = trail(&app, &auditor, "?nir=1%2085%2005%2078%20006%20084%2091").await;
    assert_eq!(
        actions(&page),
        [
            "document.archived",
            "document.viewed",
            "document.downloaded"
        ]
    );
    let entries = page["entries"].as_array().unwrap();
    assert!(entries.iter().all(|entry| entry["document_id"] == mine_id));
    assert_eq!(entries[1]["actor"], agent.record.id.as_str());
    assert!(entries[1]["at"].as_str().unwrap().ends_with('Z'));

    // By document, actor, action.
    let by_document = trail(&app, &auditor, &format!("?document={mine_id}")).await;
    assert_eq!(by_document["entries"].as_array().unwrap().len(), 3);
    let by_actor = trail(&app, &auditor, &format!("?actor={}", agent.record.id)).await;
    assert_eq!(
        actions(&by_actor),
        ["document.viewed", "document.downloaded", "document.viewed"]
    );
    let downloads = trail(&app, &auditor, "?action=document.downloaded").await;
    assert_eq!(downloads["entries"].as_array().unwrap().len(), 1);

    // By date: nothing from tomorrow on; everything since yesterday.
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date();
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1)).date();
    let later = trail(&app, &auditor, &format!("?from={tomorrow}")).await;
    assert!(later["entries"].as_array().unwrap().is_empty());
    let recent = trail(
        &app,
        &auditor,
        &format!("?from={yesterday}&to={tomorrow}&action=document.viewed"),
    )
    .await;
    assert_eq!(recent["entries"].as_array().unwrap().len(), 2);

    // Paging.
    let first = trail(&app, &auditor, "?limit=2").await;
    let after = first["next_after"].as_i64().expect("a next page");
    let second = trail(&app, &auditor, &format!("?limit=2&after={after}")).await;
    assert!(second["entries"][0]["seq"].as_i64().unwrap() > after);

    // Bad filters name the field.
    let response = app
        .get_as(&auditor, "/api/v1/audit?nir=185057800608490")
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "nir"
    );
    let response = app
        .get_as(&auditor, "/api/v1/audit?action=document.burned")
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "action"
    );
    let response = app.get_as(&auditor, "/api/v1/audit?from=yesterday").await;
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "from"
    );
}

#[tokio::test]
async fn the_audit_log_never_holds_a_nir_in_clear() {
    let app = spawn_app().await;
    let created = app.archive_ok(&metadata(), pdf_part("private")).await;
    let id = created["id"].as_str().unwrap();
    app.get(&format!("/api/v1/documents/{id}")).await;
    let auditor = app.issue_token("default", Role::Auditor, None).await;
    trail(&app, &auditor, &format!("?nir={NIR}")).await;
    for identifier in [NIR, "C-000123", "LEFÈVRE", "1985-05-12"] {
        let rows = app
            .count_rows(&format!("audit_log WHERE details LIKE '%{identifier}%'"))
            .await;
        assert_eq!(rows, 0, "{identifier} appears in the audit log");
    }
    assert!(app.count_rows("audit_log").await >= 3);
}

#[tokio::test]
async fn verify_catches_an_audit_log_cut_at_its_end() {
    let app = spawn_app().await;
    app.archive_ok(&metadata(), pdf_part("first")).await;
    app.archive_ok(&metadata(), pdf_part("last")).await;
    let pool = catalog_pool(&app.data_dir).await;
    drop_audit_trigger(&pool, "audit_log_no_delete").await;
    sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let output = ged_async(&["verify", "--data-dir", app.data_dir.to_str().unwrap()]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("disagrees with the audit entry of its archiving"),
        "{text}"
    );
}
