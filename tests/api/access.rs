//! Access control: every refusal of the role × tenant × endpoint matrix, token lifecycle, and
//! the way a newcomer gets a first token.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use ged::access::Role;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::helpers::*;

const OTHER_TENANT: &str = "autre-caisse";

/// Every token of the matrix: one per role in the default tenant, and some in another.
struct Tokens {
    scanner: String,
    outbound: String,
    agent: String,
    agent_sensitive: String,
    auditor: String,
    admin: String,
    other_agent: String,
    other_scanner: String,
    other_auditor: String,
    other_admin: String,
}

async fn tokens(app: &TestApp) -> Tokens {
    Tokens {
        scanner: app.scanner.clone(),
        outbound: app
            .issue_token("default", Role::Outbound, Some("PRINT-CENTRE"))
            .await,
        agent: app.issue_token("default", Role::Agent, None).await,
        agent_sensitive: app.reader.clone(),
        auditor: app.issue_token("default", Role::Auditor, None).await,
        admin: app.issue_token("default", Role::Admin, None).await,
        other_agent: app.issue_token(OTHER_TENANT, Role::Agent, None).await,
        other_scanner: app
            .issue_token(OTHER_TENANT, Role::Scanner, Some("SCAN-LYON"))
            .await,
        other_auditor: app.issue_token(OTHER_TENANT, Role::Auditor, None).await,
        other_admin: app.issue_token(OTHER_TENANT, Role::Admin, None).await,
    }
}

fn outbound_metadata() -> Value {
    let mut metadata = metadata();
    metadata["direction"] = json!("outbound");
    metadata["channel"] = json!("email");
    metadata["source"] = json!("PRINT-CENTRE");
    metadata
}

async fn status_of_get(app: &TestApp, token: &str, path: &str) -> u16 {
    app.get_as(token, path).await.status().as_u16()
}

#[tokio::test]
async fn every_role_and_tenant_gets_exactly_what_it_may() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let normal = app.archive_ok(&metadata(), pdf_part("normal")).await;
    let mut sensitive_metadata = metadata();
    sensitive_metadata["sensitive"] = json!(true);
    let sensitive = app
        .archive_ok(&sensitive_metadata, pdf_part("sensitive"))
        .await;
    let normal = format!("/api/v1/documents/{}", normal["id"].as_str().unwrap());
    let sensitive = format!("/api/v1/documents/{}", sensitive["id"].as_str().unwrap());

    // (who, metadata of a normal document, of a sensitive one, content of each, audit, tokens)
    let matrix: [(&str, &str, [u16; 6]); 10] = [
        ("agent", &t.agent, [200, 404, 200, 404, 403, 403]),
        (
            "agent_sensitive",
            &t.agent_sensitive,
            [200, 200, 200, 200, 403, 403],
        ),
        ("auditor", &t.auditor, [200, 200, 403, 403, 200, 403]),
        ("scanner", &t.scanner, [403, 403, 403, 403, 403, 403]),
        ("outbound", &t.outbound, [403, 403, 403, 403, 403, 403]),
        ("admin", &t.admin, [403, 403, 403, 403, 403, 200]),
        (
            "agent of another tenant",
            &t.other_agent,
            [404, 404, 404, 404, 403, 403],
        ),
        (
            "auditor of another tenant",
            &t.other_auditor,
            [404, 404, 403, 403, 200, 403],
        ),
        ("no token", "", [401, 401, 401, 401, 401, 401]),
        ("unknown token", "ged_0000", [401, 401, 401, 401, 401, 401]),
    ];
    for (who, token, expected) in matrix {
        let actual = [
            status_of_get(&app, token, &normal).await,
            status_of_get(&app, token, &sensitive).await,
            status_of_get(&app, token, &format!("{normal}/content")).await,
            status_of_get(&app, token, &format!("{sensitive}/content")).await,
            status_of_get(&app, token, "/api/v1/audit").await,
            status_of_get(&app, token, "/api/v1/tokens").await,
        ];
        assert_eq!(
            actual, expected,
            "{who}: metadata, sensitive metadata, content, sensitive content, audit, tokens"
        );
    }
}

#[tokio::test]
async fn only_scanners_and_outbound_systems_archive_and_only_their_own_mail() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let inbound = metadata();
    let outbound = outbound_metadata();

    for (who, token) in [
        ("agent", &t.agent),
        ("agent_sensitive", &t.agent_sensitive),
        ("auditor", &t.auditor),
        ("admin", &t.admin),
    ] {
        let status = app
            .archive_as(token, &inbound, pdf_part(who))
            .await
            .status();
        assert_eq!(status, 403, "{who} cannot archive");
    }
    let unauthenticated = app.archive_as("", &inbound, pdf_part("anonymous")).await;
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(unauthenticated.headers()["www-authenticate"], "Bearer");

    // A scanning centre archives inbound mail for its own source only.
    let response = app
        .archive_as(&t.scanner, &outbound, pdf_part("scanner outbound"))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "direction"
    );
    let mut other_source = metadata();
    other_source["source"] = json!("SCAN-PARIS");
    let response = app
        .archive_as(&t.scanner, &other_source, pdf_part("other source"))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "source"
    );

    // The print centre archives outbound mail, not inbound.
    assert_eq!(
        app.archive_as(&t.outbound, &outbound, pdf_part("letter"))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.archive_as(&t.outbound, &inbound, pdf_part("not a scan"))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.count_rows("documents").await,
        1,
        "only the permitted document was archived"
    );

    // A document archived in another tenant does not exist for this one.
    let theirs = app
        .archive_as(&t.other_scanner, &inbound, pdf_part("their mail"))
        .await;
    assert_eq!(theirs.status(), 201);
    let theirs: Value = theirs.json().await.unwrap();
    let path = format!("/api/v1/documents/{}", theirs["id"].as_str().unwrap());
    assert_eq!(status_of_get(&app, &t.agent, &path).await, 404);
    assert_eq!(status_of_get(&app, &t.other_agent, &path).await, 200);

    // Same source and external id in two tenants: two documents, no cross-tenant idempotency.
    let mut with_id = metadata();
    with_id["external_id"] = json!("SHARED-1");
    let ours = app
        .archive_as(&t.scanner, &with_id, pdf_part("shared"))
        .await;
    let theirs = app
        .archive_as(&t.other_scanner, &with_id, pdf_part("shared"))
        .await;
    assert_eq!(
        (ours.status().as_u16(), theirs.status().as_u16()),
        (201, 201)
    );
}

#[tokio::test]
async fn a_resend_never_reads_another_sources_or_flows_document() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let mut private = metadata();
    private["sensitive"] = json!(true);
    private["external_id"] = json!("LYON-0001");
    let original = app.archive_ok(&private, pdf_part("sensitive scan")).await;

    // The print centre claims the scanning centre's source and external id: refused.
    let mut claimed = private.clone();
    claimed["direction"] = json!("outbound");
    let response = app
        .archive_as(&t.outbound, &claimed, pdf_part("sensitive scan"))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "source"
    );

    // An archiving token must be bound to a source.
    let response = app
        .request_token(&t.admin, &json!({"role": "outbound"}))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "source"
    );

    // The scanning centre's own re-send answers with its document, and is audited as a read.
    let again = app.archive(&private, pdf_part("sensitive scan")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], original["id"]);
    assert_eq!(app.count_audit("document.resent").await, 1);
}

#[tokio::test]
async fn admins_issue_list_and_revoke_their_tenants_tokens() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let client = &app.client;

    let response = app.request_token(&t.admin, &json!({"role": "scanner", "name": "Centre de Lyon", "source": "SCAN-LYON", "expires": "90d"})).await;
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.unwrap();
    let secret = issued["token"].as_str().unwrap().to_string();
    let id = issued["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ged_"));
    assert_eq!(issued["tenant"], "default");
    assert!(issued["expires_at"].is_string());
    assert_eq!(
        app.archive_as(&secret, &metadata(), pdf_part("new scanner"))
            .await
            .status(),
        201
    );

    // Stored only as a hash.
    assert_eq!(
        app.count_rows(&format!("tokens WHERE secret_sha256 = '{secret}'"))
            .await,
        0
    );
    let listed: Value = app
        .get_as(&t.admin, "/api/v1/tokens")
        .await
        .json()
        .await
        .unwrap();
    let listed = listed["tokens"].as_array().unwrap();
    assert!(listed.iter().any(|token| token["id"] == id.as_str()));
    assert!(
        listed.iter().all(|token| token["tenant"] == "default"),
        "own tenant only"
    );
    assert!(
        !listed.iter().any(|token| token.get("token").is_some()),
        "no secret listed"
    );

    // Invalid requests name the field.
    let response = app
        .request_token(&t.admin, &json!({"role": "scanner"}))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["field"],
        "source"
    );
    let response = app.request_token(&t.agent, &json!({"role": "admin"})).await;
    assert_eq!(response.status(), 403, "an agent cannot make itself admin");

    // Another tenant's admin cannot revoke it; its own admin can, and it stops working at once.
    let revoke = |token: String| {
        let url = app.url(&format!("/api/v1/tokens/{id}"));
        async move {
            client
                .delete(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke(t.other_admin.clone()).await, 404);
    assert_eq!(revoke(t.admin.clone()).await, 204);
    assert_eq!(revoke(t.admin.clone()).await, 404, "already revoked");
    let response = app
        .archive_as(&secret, &metadata(), pdf_part("revoked"))
        .await;
    assert_eq!(response.status(), 401);
    // The caller hears what an unknown token hears; the trail keeps why.
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the token is not valid")
    );
    assert_eq!(app.count_audit("token.revoked").await, 1);
    assert_eq!(
        app.count_rows("audit_log WHERE action = 'token.refused' AND details LIKE '%revoked%'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let document = "/api/v1/documents/0190f0a0-0000-7000-8000-000000000000";
    // A token of one second works until the end the server gave it. An answer that came back
    // after that end tells nothing (the machine was busy): then a new token is asked for.
    let mut attempts = 0;
    let (secret, expires_at) = loop {
        let issued: Value = app
            .request_token(&t.admin, &json!({"role": "agent", "expires": "1s"}))
            .await
            .json()
            .await
            .unwrap();
        let secret = issued["token"].as_str().unwrap().to_string();
        let expires_at = ged::dates::parse_timestamp(issued["expires_at"].as_str().unwrap())
            .expect("the token's end");
        let status = status_of_get(&app, &secret, document).await;
        if OffsetDateTime::now_utc() < expires_at {
            assert_eq!(status, 404);
            break (secret, expires_at);
        }
        attempts += 1;
        assert!(attempts < 10, "no answer came within a token's second");
    };
    // Then its end passes, by the clock the server reads too.
    loop {
        let left = expires_at - OffsetDateTime::now_utc();
        if !left.is_positive() {
            break;
        }
        tokio::time::sleep(left.unsigned_abs()).await;
    }
    let response = app.get_as(&secret, document).await;
    assert_eq!(response.status(), 401);
    // The caller hears what an unknown token hears; the trail keeps why.
    assert!(
        response.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the token is not valid")
    );
    assert_eq!(
        app.count_rows("audit_log WHERE action = 'token.refused' AND details LIKE '%expired%'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_token_command_issues_lists_and_revokes() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let data = data_dir.to_str().unwrap();

    let output = ged_async(&[
        "token",
        "create",
        "--data-dir",
        data,
        "--tenant",
        "caisse-nord",
        "--role",
        "scanner",
        "--source",
        "SCAN-LYON",
        "--name",
        "Lyon",
        "--expires",
        "90d",
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "the token alone on standard output: {stdout}"
    );
    let secret = lines[0].to_string();
    assert!(secret.starts_with("ged_"));

    let refused = ged_async(&[
        "token",
        "create",
        "--data-dir",
        data,
        "--tenant",
        "caisse-nord",
        "--role",
        "scanner",
    ])
    .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--source"));

    let listed = ged_async(&["token", "list", "--data-dir", data]).await;
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("caisse-nord") && listed.contains("scanner") && listed.contains("Lyon"),
        "{listed}"
    );
    assert!(!listed.contains(&secret));

    // The token works against a server on the same data folder.
    let app = spawn_app_on(&data_dir, |_| {}).await;
    assert_eq!(
        app.archive_as(&secret, &metadata(), pdf_part("cli token"))
            .await
            .status(),
        201
    );

    let id = listed
        .lines()
        .find(|line| line.contains("caisse-nord"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .to_string();
    let revoked = ged_async(&["token", "revoke", "--data-dir", data, &id]).await;
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    assert_eq!(
        app.archive_as(&secret, &metadata(), pdf_part("after revoke"))
            .await
            .status(),
        401
    );
}

/// Starts the real binary and returns the lines it printed before answering /healthz.
async fn start_binary(data_dir: &str) -> Vec<String> {
    let mut served = spawn_ged_serve(data_dir, ANY_PORT, Stdio::piped()).await;
    // Everything printed before the server answered is in the pipe; end it to read it.
    let _ = served.process.kill();
    let _ = served.process.wait();
    BufReader::new(served.process.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect()
}

#[tokio::test]
async fn the_first_start_prints_an_admin_token_once() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let lines = start_binary(data_dir.to_str().unwrap()).await;
    let tokens: Vec<&String> = lines
        .iter()
        .filter(|line| line.starts_with("ged_"))
        .collect();
    assert_eq!(tokens.len(), 1, "{lines:?}");
    let admin = tokens[0].clone();

    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    let response = app
        .request_token(&admin, &json!({"role": "agent", "name": "premier agent"}))
        .await;
    assert_eq!(
        response.status(),
        201,
        "the printed token is a working admin token"
    );
    // Stopped, not only told to stop: the next server needs the index it holds.
    app.stop().await;

    let lines = start_binary(data_dir.to_str().unwrap()).await;
    assert!(
        !lines.iter().any(|line| line.starts_with("ged_")),
        "printed only at first start: {lines:?}"
    );
}
