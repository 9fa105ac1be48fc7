//! Emails and document text: `.eml` archived with headers, body and attachments; PDF text
//! layers and OCR of scans read by the background queue; `q` finds the words, with extracts.
//!
//! The fixtures are real files: `contestation.eml` written by Python's `email` package (RFC
//! 2047 headers, a quoted-printable ISO-8859-1 body, an HTML alternative, three attachments),
//! `letter-text.pdf` written by cairo (embedded subset font), `scanned-letter.png` a page
//! rendered at 200 dpi, tilted and noised, `scanned-letter.pdf` the same scan as a JPEG in a
//! PDF without text layer.
//!
//! OCR tests need Tesseract with French and pdftoppm (Debian `tesseract-ocr`,
//! `tesseract-ocr-fra`, `poppler-utils`); without them they say they were skipped, unless
//! `GED_REQUIRE_OCR` is set, as `.ci/run` does: there they fail.

use std::time::Duration;

use reqwest::multipart::Part;
use serde_json::{Value, json};

use ged::access::{DEFAULT_TENANT, Role};
use ged::catalog::IndexPage;

use crate::helpers::{TestApp, catalog_pool, metadata, sha256_hex, spawn_app, spawn_app_on};

const EMAIL: &[u8] = include_bytes!("../fixtures/contestation.eml");
const TEXT_PDF: &[u8] = include_bytes!("../fixtures/letter-text.pdf");
const SCAN_PNG: &[u8] = include_bytes!("../fixtures/scanned-letter.png");
const SCAN_PDF: &[u8] = include_bytes!("../fixtures/scanned-letter.pdf");

/// Whether OCR can run here; fails instead of skipping when `GED_REQUIRE_OCR` is set.
async fn ocr_installed(test: &str) -> bool {
    if ged::extraction::ocr::Ocr::detect().await.is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("GED_REQUIRE_OCR").is_none(),
        "GED_REQUIRE_OCR is set but Tesseract (fra) or pdftoppm is missing"
    );
    eprintln!(
        "SKIPPED {test}: OCR needs apt-get install tesseract-ocr tesseract-ocr-fra poppler-utils"
    );
    false
}

fn part(bytes: &[u8], name: &str, media_type: &str) -> Part {
    Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str(media_type)
        .unwrap()
}

/// Metadata an email gateway sends: no channel, date or title (the message gives them).
fn email_metadata() -> Value {
    let mut metadata = metadata();
    let fields = metadata.as_object_mut().unwrap();
    for field in ["channel", "document_date", "title", "received_at"] {
        fields.remove(field);
    }
    metadata
}

/// The document as the reader sees it.
async fn document(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/documents/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

/// The document once its text extraction is no longer pending (at most 60 s).
async fn extracted(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let document = document(app, id).await;
        if document["text"]["status"] != "pending" {
            return document;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the text of {id} is still pending after 60 s");
}

async fn text_of(app: &TestApp, id: &str) -> String {
    let response = app.get(&format!("/api/v1/documents/{id}/text")).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// A server without OCR on `data_dir`, and a scan archived on it (its text pending).
async fn scan_without_ocr(data_dir: &std::path::Path) -> (TestApp, String) {
    let app = spawn_app_on(data_dir, |settings| settings.ocr = false).await;
    let scan = app
        .archive_ok(&metadata(), part(SCAN_PNG, "scan.png", "image/png"))
        .await;
    let id = scan["id"].as_str().unwrap().to_string();
    (app, id)
}

fn hit_ids(results: &Value) -> Vec<&str> {
    results["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_email_is_archived_with_its_headers_body_and_attachments() {
    let app = spawn_app().await;
    let email = app
        .archive_ok(
            &email_metadata(),
            part(EMAIL, "contestation.eml", "message/rfc822"),
        )
        .await;
    let id = email["id"].as_str().unwrap();

    // The message gives what the gateway left out; RFC 2047 words decoded.
    assert_eq!(email["channel"], "email");
    assert_eq!(email["media_type"], "message/rfc822");
    assert_eq!(
        email["title"],
        "Contestation de l'indu — dossier RDR-2024-001"
    );
    // 23:40 at +01:00 is the writer's 5 March.
    assert_eq!(email["document_date"], "2024-03-05");
    assert_eq!(email["sent_at"], "2024-03-05T22:40:00.000000Z");
    let headers = &email["email"];
    assert_eq!(headers["from"], "Renée Lefèvre <renee.lefevre@example.fr>");
    assert_eq!(
        headers["to"],
        json!(["Service Réclamations <reclamations@caf.example>"])
    );
    assert_eq!(headers["cc"], json!(["conseiller@caf.example"]));
    assert_eq!(headers["message_id"], "contestation-2024-03-05@example.fr");
    assert_eq!(email["text"]["status"], "done");
    assert_eq!(email["text"]["method"], "email");

    // The .eml is kept byte for byte.
    let content = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(content.bytes().await.unwrap().as_ref(), EMAIL);
    // The ISO-8859-1 quoted-printable body, decoded.
    let body = text_of(&app, id).await;
    assert!(body.contains("Je conteste l'indu réclamé"), "{body}");

    // Three attachments, each a document of its own with the email's parties.
    let attachments = email["attachments"].as_array().unwrap();
    let described: Vec<(&str, &str)> = attachments
        .iter()
        .map(|a| {
            (
                a["file_name"].as_str().unwrap(),
                a["media_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("courrier.pdf", "application/pdf"),
            ("justificatif scanné.png", "image/png"),
            // A type the archive does not render is kept, to be downloaded.
            ("budget.ods", "application/octet-stream"),
        ]
    );
    let pdf_id = attachments[0]["id"].as_str().unwrap();
    let pdf = document(&app, pdf_id).await;
    assert_eq!(pdf["attached_to"], id);
    assert_eq!(pdf["title"], "courrier.pdf");
    assert_eq!(pdf["sha256"], sha256_hex(TEXT_PDF));
    assert_eq!(pdf["channel"], "email");
    assert_eq!(pdf["individuals"], email["individuals"]);
    assert_eq!(pdf["document_date"], "2024-03-05");
    let ods_id = attachments[2]["id"].as_str().unwrap();
    let ods = document(&app, ods_id).await;
    assert_eq!(ods["text"]["status"], "skipped");
    // Archived whole: one audit entry per document, the attachments naming their email.
    assert_eq!(app.count_audit("document.archived").await, 4);
    assert_eq!(
        app.count_rows(&format!(
            "audit_log WHERE action = 'document.archived' AND details LIKE '%\"attached_to\":\"{id}\"%'"
        ))
        .await,
        3
    );

    // Searchable by the body's words at once, with the passage that holds them.
    let results = app.search("q=conteste&channel=email").await;
    assert_eq!(hit_ids(&results), [id], "{results}");
    let extract = &results["hits"][0]["extract"];
    let text: Vec<char> = extract["text"].as_str().unwrap().chars().collect();
    let [start, end] = [
        extract["highlights"][0][0].as_u64().unwrap() as usize,
        extract["highlights"][0][1].as_u64().unwrap() as usize,
    ];
    assert_eq!(text[start..end].iter().collect::<String>(), "conteste");

    // The PDF attachment's words once the queue has read them.
    let pdf = extracted(&app, pdf_id).await;
    assert_eq!(pdf["text"]["status"], "done", "{pdf}");
    assert_eq!(pdf["text"]["method"], "pdf");
    let results = app.search("q=remise gracieuse").await;
    // The scanned attachment holds the same letter: found too once OCR read it.
    assert!(hit_ids(&results).contains(&pdf_id), "{results}");
    assert!(
        results["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|hit| hit["channel"] == "email"),
        "{results}"
    );

    // Sent again (a gateway's retry with the same external id) nothing is archived twice.
    let mut again = email_metadata();
    again["external_id"] = json!("gw-1");
    let first = app
        .archive_ok(&again, part(EMAIL, "contestation.eml", "message/rfc822"))
        .await;
    let response = app
        .archive(&again, part(EMAIL, "contestation.eml", "message/rfc822"))
        .await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(app.count_rows("documents").await, 8);
}

#[tokio::test]
async fn badly_formed_emails_are_kept_as_they_came() {
    let app = spawn_app().await;
    let mut metadata = email_metadata();
    metadata["document_date"] = json!("2024-04-01");
    // Headers only, no Date, an unknown charset, a truncated multipart.
    let raw = b"From: someone@example.fr\r\nSubject: =?x-unknown?Q?caf=E9?=\r\n\
Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain; \
charset=x-klingon\r\n\r\nLe caf\xe9 est froid\r\n--zz\r\nContent-Type: application/pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n!!!not base64";
    let document = app
        .archive_ok(&metadata, part(raw, "broken.eml", "message/rfc822"))
        .await;
    let id = document["id"].as_str().unwrap();
    assert_eq!(document["channel"], "email");
    assert_eq!(document["document_date"], "2024-04-01");
    assert!(document["email"]["date"].is_null());
    let content = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(content.bytes().await.unwrap().as_ref(), raw);
    let body = text_of(&app, id).await;
    assert!(body.contains("est froid"), "{body}");

    // Without a Date header, the day the archive received it; a subject longer than a title
    // may be is cut, not a reason to refuse the message.
    let long_subject = format!("Subject: {}\r\n\r\nCorps.\r\n", "é".repeat(700));
    let document = app
        .archive_ok(
            &email_metadata(),
            part(long_subject.as_bytes(), "long.eml", "message/rfc822"),
        )
        .await;
    let today = time::OffsetDateTime::now_utc().date().to_string();
    assert_eq!(document["document_date"], today);
    assert!(document["sent_at"].is_null());
    assert_eq!(document["title"].as_str().unwrap().chars().count(), 500);
    assert_eq!(
        document["email"]["subject"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        700
    );
    // A sender's clock years ahead is not the letter's date either.
    let future = b"Date: Mon, 1 Jan 2091 10:00:00 +0000\r\nSubject: x\r\n\r\nCorps.\r\n";
    let document = app
        .archive_ok(
            &email_metadata(),
            part(future, "future.eml", "message/rfc822"),
        )
        .await;
    assert_eq!(document["document_date"], today);
    assert_eq!(document["email"]["date"], "2091-01-01T10:00:00.000000Z");

    // NUL characters, encoded in a subject and a body, are kept in the file but left out of
    // the headers and the text (no catalog text column takes them).
    let nul = b"Subject: =?utf-8?Q?avis=00nul?=\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nLigne=00 avec un nul.\r\n";
    let document = app
        .archive_ok(&email_metadata(), part(nul, "nul.eml", "message/rfc822"))
        .await;
    let id = document["id"].as_str().unwrap();
    assert_eq!(document["email"]["subject"], "avisnul");
    assert_eq!(text_of(&app, id).await, "Ligne avec un nul.");
    let content = app.get(&format!("/api/v1/documents/{id}/content")).await;
    assert_eq!(content.bytes().await.unwrap().as_ref(), nul);
}

#[tokio::test]
async fn text_is_read_only_within_the_scope() {
    let app = spawn_app().await;
    let mut secret = email_metadata();
    secret["sensitive"] = json!(true);
    let sensitive = app
        .archive_ok(&secret, part(EMAIL, "contestation.eml", "message/rfc822"))
        .await;
    let id = sensitive["id"].as_str().unwrap();
    // Attachments of sensitive mail are sensitive too.
    let attachment = sensitive["attachments"][0]["id"].as_str().unwrap();
    let agent = app.issue_token(DEFAULT_TENANT, Role::Agent, None).await;
    let stranger = app
        .issue_token("autre-caisse", Role::AgentSensitive, None)
        .await;
    let auditor = app.issue_token(DEFAULT_TENANT, Role::Auditor, None).await;
    for (token, expected) in [(&agent, 404), (&stranger, 404), (&auditor, 403)] {
        for document in [id, attachment] {
            let response = app
                .get_as(token, &format!("/api/v1/documents/{document}/text"))
                .await;
            assert_eq!(response.status(), expected);
        }
    }
    let seq = app.latest_seq().await;
    for token in [&agent, &stranger] {
        let results = app
            .search_as(token, &format!("min_seq={seq}&q=conteste"))
            .await;
        assert_eq!(results["total"], 0, "{results}");
    }
    let results = app.search("q=conteste").await;
    assert_eq!(hit_ids(&results), [id]);
    assert!(results["hits"][0]["extract"].is_object());
    let response = app.get(&format!("/api/v1/documents/{id}/text")).await;
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["content-security-policy"], "sandbox");
}

#[tokio::test]
async fn a_job_that_keeps_stopping_the_extractor_fails_instead_of_looping() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let (mut app, id) = scan_without_ocr(&data_dir).await;
    app.stop().await;
    // As if five runs had taken the job and died in it (a file that crashes the parser).
    let pool = catalog_pool(&data_dir).await;
    sqlx::query("UPDATE text_extractions SET attempts = 5 WHERE document_id = $1")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let app = spawn_app_on(&data_dir, |_| {}).await;
    let document = extracted(&app, &id).await;
    assert_eq!(document["text"]["status"], "failed", "{document}");
    assert!(
        document["text"]["reason"]
            .as_str()
            .unwrap()
            .contains("cut short 5 times"),
        "{document}"
    );

    // Once the cause is fixed, the operator queues failed extractions again.
    let output =
        crate::helpers::ged_async(&["retry-text", "--data-dir", data_dir.to_str().unwrap()]).await;
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "1 failed text extractions queued again"
    );
    if ocr_installed("a_job_that_keeps_stopping_the_extractor_fails_instead_of_looping (retry)")
        .await
    {
        let document = extracted(&app, &id).await;
        assert_eq!(document["text"]["status"], "done", "{document}");
    }
}

#[tokio::test]
async fn a_pdf_text_layer_is_read_in_the_background_and_searchable() {
    let app = spawn_app().await;
    let mut metadata = metadata();
    metadata["title"] = json!("Courrier");
    let document = app
        .archive_ok(&metadata, part(TEXT_PDF, "courrier.pdf", "application/pdf"))
        .await;
    let id = document["id"].as_str().unwrap();
    // Archiving did not wait for the text: found by its metadata at once.
    let results = app.search("nir=185057800608491").await;
    assert_eq!(hit_ids(&results), [id]);

    let document = extracted(&app, id).await;
    assert_eq!(document["text"]["status"], "done", "{document}");
    assert_eq!(document["text"]["method"], "pdf");
    assert_eq!(document["text"]["pages"], 1);
    let text = text_of(&app, id).await;
    assert!(
        text.contains("Je sollicite une remise de ma dette de loyer"),
        "{text}"
    );
    assert_eq!(app.count_audit("document.text_read").await, 1);
    // French stemming and folding: "salutation" finds "salutations distinguées", "annee"
    // finds "l'année".
    let results = app.search("q=salutation annee").await;
    assert_eq!(hit_ids(&results), [id], "{results}");
    assert!(
        results["hits"][0]["extract"]["text"]
            .as_str()
            .unwrap()
            .contains("année")
    );

    // A damaged PDF fails with its reason; archiving it succeeded all the same.
    let mut damaged = TEXT_PDF[..TEXT_PDF.len() / 3].to_vec();
    damaged.extend_from_slice(b"\n%%EOF\n");
    let broken = app
        .archive_ok(&metadata, part(&damaged, "abime.pdf", "application/pdf"))
        .await;
    let broken = extracted(&app, broken["id"].as_str().unwrap()).await;
    assert_eq!(broken["text"]["status"], "failed", "{broken}");
    assert!(
        broken["text"]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be read")
    );
}

#[tokio::test]
async fn scans_are_read_by_ocr() {
    if !ocr_installed("scans_are_read_by_ocr").await {
        return;
    }
    let app = spawn_app().await;
    let png = app
        .archive_ok(&metadata(), part(SCAN_PNG, "scan.png", "image/png"))
        .await;
    let pdf = app
        .archive_ok(&metadata(), part(SCAN_PDF, "scan.pdf", "application/pdf"))
        .await;
    for (document, pages) in [(&png, 1), (&pdf, 1)] {
        let id = document["id"].as_str().unwrap();
        let document = extracted(&app, id).await;
        assert_eq!(document["text"]["status"], "done", "{document}");
        assert_eq!(document["text"]["method"], "ocr");
        assert_eq!(document["text"]["pages"], pages);
        let text = text_of(&app, id).await;
        assert!(text.contains("remise gracieuse"), "{text}");
    }
    let results = app.search("q=\"remise gracieuse\"&sort=archived_asc").await;
    assert_eq!(
        hit_ids(&results),
        [png["id"].as_str().unwrap(), pdf["id"].as_str().unwrap()]
    );
}

#[tokio::test]
async fn without_ocr_scans_wait_and_a_restart_loses_no_job() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let (mut app, id) = scan_without_ocr(&data_dir).await;
    let unlayered = app
        .archive_ok(&metadata(), part(SCAN_PDF, "scan.pdf", "application/pdf"))
        .await;
    let unlayered_id = unlayered["id"].as_str().unwrap().to_string();
    // The scan waits and says why; the PDF was opened, found without text, and waits too.
    let mut waiting = Value::Null;
    for _ in 0..100 {
        waiting = document(&app, &unlayered_id).await;
        let scan = document(&app, &id).await;
        if waiting["text"]["reason"].is_string() && scan["text"]["reason"].is_string() {
            assert_eq!(scan["text"]["status"], "pending");
            assert!(
                scan["text"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("waiting for OCR"),
                "{scan}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(waiting["text"]["status"], "pending", "{waiting}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("ged_ocr_enabled 0"), "{metrics}");
    assert!(metrics.contains("ged_extraction_queue 2"), "{metrics}");
    app.stop().await;

    if !ocr_installed("without_ocr_scans_wait_and_a_restart_loses_no_job (second half)").await {
        return;
    }
    // A server with OCR on the same catalog takes both jobs.
    let app = spawn_app_on(&data_dir, |_| {}).await;
    for id in [&id, &unlayered_id] {
        let document = extracted(&app, id).await;
        assert_eq!(document["text"]["status"], "done", "{document}");
        assert_eq!(document["text"]["method"], "ocr");
    }
    let results = app.search("q=gracieuse").await;
    assert_eq!(results["total"], 2, "{results}");
}

#[tokio::test]
async fn the_web_ui_shows_an_emails_headers_attachments_and_search_extracts() {
    let app = spawn_app().await;
    let agent = app
        .issue(ged::access::DEFAULT_TENANT, ged::access::Role::Agent, None)
        .await;
    let email = app
        .archive_ok(
            &email_metadata(),
            part(EMAIL, "contestation.eml", "message/rfc822"),
        )
        .await;
    let id = email["id"].as_str().unwrap();
    let pdf_id = email["attachments"][0]["id"].as_str().unwrap();
    extracted(&app, pdf_id).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = crate::ui::sign_in(&app, &client, &agent.token).await;
    let page = |path: String| {
        let client = client.clone();
        let session = session.clone();
        let url = app.url(&path);
        async move {
            let response = client
                .get(url)
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.text().await.unwrap()
        }
    };

    let html = page(format!("/ui/documents/{id}")).await;
    for shown in [
        "Renée Lefèvre &lt;renee.lefevre@example.fr&gt;",
        "Service Réclamations",
        "Pièces jointes",
        "courrier.pdf",
        "justificatif scanné.png",
        "budget.ods",
        "Texte extrait (corps du courriel",
        // The body as read, not the MIME source.
        "Je conteste l'indu réclamé",
    ] {
        assert!(html.contains(shown), "{shown} missing from the email page");
    }
    assert!(!html.contains("quoted-printable"));

    let html = page(format!("/ui/documents/{pdf_id}")).await;
    assert!(html.contains("Pièce jointe du courriel"));
    assert!(html.contains("Texte extrait (couche texte du PDF, 1 page)"));
    assert!(html.contains(&format!("/api/v1/documents/{pdf_id}/text")));
    // The session cookie reads the extracted text, audited.
    let text = page(format!("/api/v1/documents/{pdf_id}/text")).await;
    assert!(text.contains("remise gracieuse"));
    assert_eq!(app.count_audit("document.text_read").await, 2);

    // Once the index holds the extracted text (the UI does not wait for it, the API can).
    app.search("q=gracieuse").await;
    let html = page("/ui/recherche/individu?q=gracieuse&nir=185057800608491".into()).await;
    assert!(html.contains("<mark>gracieuse</mark>"), "{html}");
}

/// A plain-text email whose body is `words` words, all `word` but the last, `last`.
fn long_email(n: usize, word: &str, words: usize, last: &str) -> Vec<u8> {
    let mut body = String::new();
    for i in 1..words {
        body.push_str(word);
        body.push_str(if i % 12 == 0 { "\r\n" } else { " " });
    }
    body.push_str(last);
    format!(
        "From: Renée Lefèvre <renee.lefevre@example.fr>\r\nTo: reclamations@caf.example\r\n\
         Subject: Pièces {n}\r\nDate: Tue, 5 Mar 2024 10:00:00 +0100\r\n\
         Message-ID: <pieces-{n}@example.fr>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn the_index_reads_long_texts_a_few_at_a_time() {
    // A page of the index's reads is one JSON value in the database, which refuses values
    // beyond 1 GB: pages are bounded by the bytes of their texts too.
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (n, last) in ["premierement", "deuxiemement", "troisiemement"]
        .into_iter()
        .enumerate()
    {
        // 50,000 words of 8 bytes: 400 KB of text each.
        let email = long_email(n, "justific", 50_000, last);
        let document = app
            .archive_ok(
                &email_metadata(),
                part(&email, &format!("pieces-{n}.eml"), "message/rfc822"),
            )
            .await;
        let id = document["id"].as_str().unwrap().to_string();
        assert_eq!(extracted(&app, &id).await["text"]["status"], "done");
        ids.push(id);
    }
    let text = text_of(&app, &ids[2]).await;
    assert!(
        text.len() > 400_000 && text.ends_with("troisiemement"),
        "{}",
        text.len()
    );

    // The first text starts a page at 0 bytes, the second at 400 KB, under the bound: both
    // are read; the third would start at 800 KB.
    let page = IndexPage {
        documents: 100,
        text_bytes: 500_000,
    };
    let catalog = app.catalog();
    let first = catalog.documents_in_archive_order(0, page).await.unwrap();
    let read: Vec<String> = first.iter().map(|s| s.document.id.to_string()).collect();
    assert_eq!(read, ids[..2]);
    assert!(
        first
            .iter()
            .all(|s| s.text.as_ref().unwrap().len() > 400_000)
    );
    let after = first[1].archived_seq;
    let second = catalog
        .documents_in_archive_order(after, page)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].document.id.to_string(), ids[2]);
    let after = second[0].archived_seq;
    assert!(
        catalog
            .documents_in_archive_order(after, page)
            .await
            .unwrap()
            .is_empty()
    );
    // A single text over the bound is read all the same, alone.
    let tiny = IndexPage {
        documents: 100,
        text_bytes: 1,
    };
    assert_eq!(
        catalog
            .documents_in_archive_order(0, tiny)
            .await
            .unwrap()
            .len(),
        1
    );

    // The writer's reads: an email's text is recorded with its document, one change each;
    // a run takes the changes whose documents' texts before them stay under the bound, and
    // says it has caught up only once it has read the last change.
    let mut after_seq = 0;
    let mut runs = Vec::new();
    loop {
        let run = catalog.changed_documents(after_seq, page).await.unwrap();
        runs.push((run.changes, run.documents.len(), run.caught_up));
        after_seq = run.upto_seq;
        if run.caught_up || runs.len() > 10 {
            break;
        }
    }
    assert_eq!(runs, [(2, 2, false), (1, 1, true)]);
    assert_eq!(after_seq, app.latest_seq().await);

    // And the running server's writer indexed them all.
    for (id, word) in ids
        .iter()
        .zip(["premierement", "deuxiemement", "troisiemement"])
    {
        let results = app.search(&format!("q={word}")).await;
        assert_eq!(hit_ids(&results), [id.as_str()], "{word}");
    }
}
