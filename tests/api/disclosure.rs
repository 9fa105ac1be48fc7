//! Curious callers: answers say no more than the caller may know, and refused attempts leave a
//! trace. Blob uploads that would reveal another tenant's content, spreadsheet formulas in
//! exports, duplicate JSON keys, `Range` edge cases, `HEAD` audited as a view, one 401 message
//! for every refused token, and `access.refused` in the caller's own trail.

use ged::access::Role;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

const OTHER_TENANT: &str = "autre-caisse";

async fn put_blob(app: &TestApp, token: &str, bytes: &[u8]) -> (u16, Value) {
    let response = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{}", sha256_hex(bytes))))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn post_blobs(app: &TestApp, token: &str, files: &[&[u8]]) -> Value {
    let mut form = Form::new();
    for bytes in files {
        form = form.part(sha256_hex(bytes), Part::bytes(bytes.to_vec()));
    }
    let response = app
        .client
        .post(app.url("/api/v1/blobs"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn audit(app: &TestApp, auditor: &str, action: &str) -> Vec<Value> {
    let response = app
        .get_as(auditor, &format!("/api/v1/audit?action={action}"))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn blob_uploads_do_not_reveal_content_held_only_by_another_tenant() {
    let app = spawn_app().await;
    let other = app
        .issue_token(OTHER_TENANT, Role::Scanner, Some("SCAN-LYON"))
        .await;
    let letter = pdf_bytes("a letter the other tenant guesses");
    let (status, _) = put_blob(&app, &app.scanner, &letter).await;
    assert_eq!(status, 201);

    // The other tenant sends the same bytes: for it they are new.
    let (status, body) = put_blob(&app, &other, &letter).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["stored"], "created");
    // Its own second upload is a repeat, as it knows.
    let (status, body) = put_blob(&app, &other, &letter).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stored"], "already_present");

    // The same through a request of several files, a file repeated in it counted once.
    let scan = pdf_bytes("a scan only the first tenant sent");
    assert_eq!(put_blob(&app, &app.scanner, &scan).await.0, 201);
    let body = post_blobs(&app, &other, &[&scan, &letter, &scan]).await;
    let stored: Vec<&str> = body["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|blob| blob["stored"].as_str().unwrap())
        .collect();
    assert_eq!(stored, ["created", "already_present", "already_present"]);
}

#[tokio::test]
async fn exports_neutralise_spreadsheet_formulas() {
    let app = spawn_app().await;
    let titles = [
        "=cmd|' /C calc'!A0",
        "=HYPERLINK(\"http://attacker.example\",\"Ouvrir\")",
        "+33 1 23 45",
        "-2+3",
        "@SUM(1+1)",
        "Réclamation = facture",
    ];
    for (n, title) in titles.iter().enumerate() {
        let mut letter = metadata();
        letter["title"] = json!(title);
        letter["document_date"] = json!(format!("2024-03-{:02}", n + 1));
        app.archive_ok(&letter, pdf_part(&format!("lettre {n}")))
            .await;
    }
    let response = app.get(&format!("/api/v1/individuals/{NIR}/export")).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("index.csv").unwrap(), &mut csv).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let title_column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|name| name == "title")
        .unwrap();
    let mut written: Vec<String> = reader
        .records()
        .map(|record| record.unwrap()[title_column].to_string())
        .collect();
    written.sort();
    let mut expected: Vec<String> = titles
        .iter()
        .map(|title| {
            if title.starts_with(['=', '+', '-', '@', '\t']) {
                format!("'{title}")
            } else {
                title.to_string()
            }
        })
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    for record in csv::Reader::from_reader(csv.as_bytes()).records() {
        for cell in record.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would evaluate: {cell:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_key_named_twice_is_refused_in_metadata_and_manifests() {
    let app = spawn_app().await;
    // The last `sensitive` would win: a sensitive letter archived as an ordinary one.
    let text = metadata().to_string().replacen(
        "\"sensitive\":false",
        "\"sensitive\":true,\"sensitive\":false",
        1,
    );
    assert!(
        text.contains("\"sensitive\":true,\"sensitive\":false"),
        "{text}"
    );
    let form = Form::new()
        .text("metadata", text)
        .part("file", pdf_part("deux fois"));
    let response = app.archive_form(form).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "metadata");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`sensitive` appears twice"),
        "{body}"
    );
    assert_eq!(app.count_rows("documents").await, 0);

    // In a batch manifest, the document that does so is refused, named.
    let bytes = pdf_bytes("manifest");
    let upload = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{}", sha256_hex(&bytes))))
        .bearer_auth(&app.scanner)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(upload.status().is_success());
    let document = format!(
        r#"{{"file": "a.pdf", "sha256": "{}", "size": {}, "document_type": "RECLAMATION",
            "document_date": "2024-03-05", "sensitive": true, "sensitive": false,
            "individuals": [{{"nir": "{NIR}"}}]}}"#,
        sha256_hex(&bytes),
        bytes.len()
    );
    let manifest = format!(
        r#"{{"batch_ref": "LOT-DOUBLE", "source": "SCAN-LYON",
            "scanned_at": "2024-03-07T09:30:00+01:00", "documents": [{document}]}}"#
    );
    let response = app
        .client
        .post(app.url("/api/v1/batches"))
        .bearer_auth(&app.scanner)
        .header("content-type", "application/json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("appears twice"), "{body}");
    assert_eq!(error_fields(&body), ["documents[0]"]);
    assert_eq!(app.count_rows("documents").await, 0);

    // Typed bodies refuse it too: a token asked as an agent and an admin at once.
    let admin = app.issue_token("default", Role::Admin, None).await;
    let response = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(r#"{"role": "agent", "role": "admin"}"#)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("duplicate field"), "{body}");
}

#[tokio::test]
async fn content_ranges_follow_rfc_9110_and_head_is_audited_as_a_view() {
    let app = spawn_app().await;
    let document = app.archive_ok(&metadata(), pdf_part("plage")).await;
    let id = document["id"].as_str().unwrap();
    let size = document["size"].as_u64().unwrap();
    let path = format!("/api/v1/documents/{id}/content");

    // A suffix of zero bytes selects nothing (RFC 9110 §14.1.3).
    let response = app.get_with(&path, &[("range", "bytes=-0")]).await;
    assert_eq!(response.status(), 416);
    assert_eq!(
        response.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{size}")
    );
    // The unit is case-insensitive.
    let response = app.get_with(&path, &[("range", "Bytes=0-3")]).await;
    assert_eq!(response.status(), 206);
    assert_eq!(&response.bytes().await.unwrap()[..], b"%PDF");
    let downloads = app.count_audit("document.downloaded").await;
    assert_eq!(downloads, 1, "the 206 was a download; the 416 was not");

    // HEAD tells what a metadata read tells, and is recorded as that.
    let response = app
        .client
        .head(app.url(&path))
        .bearer_auth(&app.reader)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"].to_str().unwrap(),
        size.to_string()
    );
    assert_eq!(app.count_audit("document.downloaded").await, downloads);
    assert_eq!(
        app.count_rows(&format!(
            "audit_log WHERE action = 'document.viewed' AND document_id = '{id}'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn unknown_revoked_and_expired_tokens_hear_the_same_and_the_trail_tells_them_apart() {
    let app = spawn_app().await;
    let admin = app.issue_token("default", Role::Admin, None).await;
    let auditor = app.issue_token("default", Role::Auditor, None).await;
    let issue = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let response = app.request_token(&admin, &body).await;
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()
        }
    };
    let revoked = issue(json!({"role": "agent"})).await;
    let expired = issue(json!({"role": "agent", "expires": "90d"})).await;
    let response = app
        .client
        .delete(app.url(&format!(
            "/api/v1/tokens/{}",
            revoked["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    // Expired without waiting: its expiry moved to the past, as time would.
    let pool = catalog_pool(&app.data_dir).await;
    sqlx::query("UPDATE tokens SET expires_at = '2020-01-01T00:00:00.000000Z' WHERE id = $1")
        .bind(expired["id"].as_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let mut messages = Vec::new();
    for secret in [
        "not-a-token-anyone-issued",
        revoked["token"].as_str().unwrap(),
        expired["token"].as_str().unwrap(),
    ] {
        let response = app.get_as(secret, "/api/v1/search?q=x").await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        messages.push(body["error"].clone());
    }
    assert_eq!(messages[0], messages[1]);
    assert_eq!(messages[0], messages[2]);

    // The tenant's trail and token list keep the difference.
    let refused = audit(&app, &auditor, "token.refused").await;
    let reasons: Vec<(&str, &str)> = refused
        .iter()
        .map(|entry| {
            (
                entry["actor"].as_str().unwrap(),
                entry["details"]["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                revoked["id"].as_str().unwrap(),
                "the token has been revoked"
            ),
            (expired["id"].as_str().unwrap(), "the token has expired"),
        ]
    );
    let response = app.get_as(&admin, "/api/v1/tokens").await;
    let list = response.json::<Value>().await.unwrap().to_string();
    assert!(
        list.contains("revoked_at") && list.contains("expires_at"),
        "{list}"
    );
}

#[tokio::test]
async fn refused_attempts_are_recorded_for_the_callers_auditor_without_the_victims_data() {
    let app = spawn_app().await;
    let agent = app.issue_token("default", Role::Agent, None).await;
    let auditor = app.issue_token("default", Role::Auditor, None).await;
    let intruder = app
        .issue_token(OTHER_TENANT, Role::AgentSensitive, None)
        .await;
    let intruder_auditor = app.issue_token(OTHER_TENANT, Role::Auditor, None).await;
    let ordinary = app.archive_ok(&metadata(), pdf_part("ordinaire")).await;
    let mut hidden = metadata();
    hidden["sensitive"] = json!(true);
    hidden["title"] = json!("Saisine du médiateur");
    let hidden = app.archive_ok(&hidden, pdf_part("sensible")).await;
    let ordinary_id = ordinary["id"].as_str().unwrap();
    let hidden_id = hidden["id"].as_str().unwrap();

    // Another tenant's agent asks for the document, its content, and links it to a dossier.
    for path in [
        format!("/api/v1/documents/{ordinary_id}"),
        format!("/api/v1/documents/{ordinary_id}/content"),
    ] {
        assert_eq!(app.get_as(&intruder, &path).await.status(), 404);
    }
    open_dossier(&app, &intruder, "DOS-INTRUS").await;
    let response = app
        .client
        .put(app.url(&format!(
            "/api/v1/dossiers/DOS-INTRUS/documents/{ordinary_id}"
        )))
        .bearer_auth(&intruder)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // A plain agent asks for a sensitive letter of its own tenant; a scanner tries to search.
    let path = format!("/api/v1/documents/{hidden_id}");
    assert_eq!(app.get_as(&agent, &path).await.status(), 404);
    assert_eq!(
        app.get_as(&app.scanner, "/api/v1/search?q=x")
            .await
            .status(),
        403
    );

    // The intruder's own auditor sees the three attempts, with what was asked only.
    let refused = audit(&app, &intruder_auditor, "access.refused").await;
    let asked: Vec<(&str, &str, &str)> = refused
        .iter()
        .map(|entry| {
            (
                entry["details"]["method"].as_str().unwrap(),
                entry["details"]["route"].as_str().unwrap(),
                entry["document_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            ("GET", "/api/v1/documents/{id}", ordinary_id),
            ("GET", "/api/v1/documents/{id}/content", ordinary_id),
            (
                "PUT",
                "/api/v1/dossiers/{reference}/documents/{id}",
                ordinary_id
            ),
        ]
    );
    let trail = Value::Array(refused).to_string();
    for victim in ["LEFÈVRE", "Réclamation", "RECLAMATION", NIR, "SCAN-LYON"] {
        assert!(!trail.contains(victim), "{victim} in {trail}");
    }
    // The victim tenant's auditor sees its own tenant's refusals, none of the intruder's.
    let refused = audit(&app, &auditor, "access.refused").await;
    let asked: Vec<(&str, u64)> = refused
        .iter()
        .map(|entry| {
            (
                entry["details"]["route"].as_str().unwrap(),
                entry["details"]["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [("/api/v1/documents/{id}", 404), ("/api/v1/search", 403)]
    );
    assert_eq!(refused[0]["document_id"], hidden_id);
}

async fn create_dossier(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn write_answers_show_parties_as_sent_and_a_party_known_from_sensitive_mail_stays_hidden() {
    let app = spawn_app().await;
    let agent = app.issue_token("default", Role::Agent, None).await;
    // What the archive learnt from sensitive letters about two people.
    for (nir, client_number, name) in [
        (NIR, "C-ACME-1", "LEFÈVRE"),
        (NIR_2, "C-SECRET-2", "MYSTÈRE"),
    ] {
        let mut letter = metadata();
        letter["sensitive"] = json!(true);
        letter["individuals"] = json!([{
            "nir": nir, "client_number": client_number, "last_name": name,
            "first_name": "Anne", "birth_date": "1985-05-12"
        }]);
        letter["companies"] = json!([{"siret": SIRET, "name": "Eaux de Lyon"}]);
        app.archive_ok(&letter, pdf_part(&format!("médiateur {client_number}")))
            .await;
    }

    // A scanner sending a client number hears back the client number, not who it is.
    let mut letter = metadata();
    letter["individuals"] = json!([{"client_number": "C-ACME-1", "role": "sender"}]);
    letter["companies"] = json!([{"siren": SIREN}]);
    let answer = app.archive_ok(&letter, pdf_part("numéro client")).await;
    let individual = &answer["individuals"][0];
    assert_eq!(individual["client_numbers"], json!(["C-ACME-1"]));
    assert_eq!(individual["role"], "sender");
    for leaked in ["nir", "last_name", "first_name", "birth_date"] {
        assert!(individual.get(leaked).is_none(), "{leaked}: {answer}");
    }
    assert!(answer["companies"][0].get("name").is_none(), "{answer}");
    assert_eq!(answer["companies"][0]["siren"], SIREN);
    // Sent again, the answer is still what was sent.
    let mut again = letter.clone();
    again["external_id"] = json!("ENV-1");
    app.archive_ok(&again, pdf_part("envoi")).await;
    let response = app.archive(&again, pdf_part("envoi")).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["individuals"][0].get("nir").is_none(), "{answer}");

    // A plain agent does not see the second person, before or after opening a dossier for the
    // client number only sensitive mail gave.
    let client_view = "/api/v1/individuals/C-SECRET-2".to_string();
    assert_eq!(app.get_as(&agent, &client_view).await.status(), 404);
    let dossier = create_dossier(
        &app,
        &agent,
        json!({"reference": "DOS-SECRET", "kind": "request", "category": "Facture",
               "individuals": [{"client_number": "C-SECRET-2"}]}),
    )
    .await;
    let individual = &dossier["individuals"][0];
    assert_eq!(individual["client_numbers"], json!(["C-SECRET-2"]));
    for leaked in ["nir", "last_name", "first_name", "birth_date"] {
        assert!(individual.get(leaked).is_none(), "{leaked}: {dossier}");
    }
    for path in [client_view, format!("/api/v1/individuals/{NIR_2}")] {
        assert_eq!(app.get_as(&agent, &path).await.status(), 404, "{path}");
    }
    let response = app.get_as(&agent, "/api/v1/dossiers/DOS-SECRET").await;
    assert_eq!(response.status(), 200);
    let read = response.text().await.unwrap();
    for leaked in [NIR_2, "MYSTÈRE", "1985-05-12"] {
        assert!(!read.contains(leaked), "{leaked}: {read}");
    }
    let found = app.search_as(&agent, "client_number=C-SECRET-2").await;
    assert!(!found.to_string().contains(NIR_2), "{found}");
    // Who sees sensitive mail sees the person, the dossier included.
    let response = app.get(&format!("/api/v1/individuals/{NIR_2}")).await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["party"]["last_name"], "MYSTÈRE");
    assert_eq!(view["dossiers"][0]["reference"], "DOS-SECRET");
}
