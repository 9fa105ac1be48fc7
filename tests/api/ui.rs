//! The web UI, driven in headless Chromium through ChromeDriver: sign in, search by NIR and by
//! SIREN, open a document and see it, open its dossier, unlink, sign out. Screenshots go to
//! `target/ui-screenshots/`.
//!
//! Without Chromium (Debian packages `chromium` and `chromium-driver`) the test says it was
//! skipped, unless `GED_REQUIRE_BROWSER` is set, as `.ci/run` does: there it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use ged::access::{DEFAULT_TENANT, Role};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::helpers::*;

struct Browser {
    client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn browser() -> Option<Browser> {
    let installed = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        assert!(
            std::env::var_os("GED_REQUIRE_BROWSER").is_none(),
            "GED_REQUIRE_BROWSER is set but chromedriver is not installed"
        );
        eprintln!(
            "SKIPPED: the web UI browser test needs Chromium and ChromeDriver \
             (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    // Port 0: ChromeDriver takes a free port and says which.
    let mut driver = Command::new("chromedriver")
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let output = driver.stdout.take().expect("piped");
    let address = announced_address(output, "chromedriver", |line| {
        let port = line
            .strip_prefix("ChromeDriver was started successfully on port ")?
            .trim_end_matches('.');
        Some(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            port.parse().ok()?,
        )))
    })
    .await;
    let capabilities: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=fr-FR"]
        }
    }))
    .unwrap();
    let mut last_error = None;
    for _ in 0..50 {
        // ChromeDriver listens on plain HTTP on this machine: no TLS to set up.
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities.clone());
        match builder.connect(&format!("http://{address}")).await {
            Ok(client) => return Some(Browser { client, driver }),
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot drive Chromium: {last_error:?}");
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_path(name), png).unwrap();
}

/// `target/ui-screenshots/{name}.png`, its folder created.
fn screenshot_path(name: &str) -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    folder.join(format!("{name}.png"))
}

/// Waits until the page's path is `path` (navigation after a click or a submit).
async fn wait_for_path(client: &Client, path: &str) {
    for _ in 0..100 {
        if client.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the browser did not reach {path}: {}",
        page_state(client).await
    );
}

/// Where the browser is and what it shows, for a failure's message (and a screenshot,
/// `target/ui-screenshots/failure.png`); the browser's own error when it cannot tell.
async fn page_state(client: &Client) -> String {
    let url = match client.current_url().await {
        Ok(url) => url.to_string(),
        Err(error) => return format!("the browser does not answer: {error}"),
    };
    if let Ok(png) = client.screenshot().await {
        let _ = std::fs::write(screenshot_path("failure"), png);
    }
    let text = match client.find(Locator::Css("body")).await {
        Ok(body) => body
            .text()
            .await
            .unwrap_or_else(|error| format!("(no text: {error})")),
        Err(error) => format!("(no page body: {error})"),
    };
    format!("at {url}: {text}")
}

/// Waits for an element to appear; on timeout, says where the browser was and what it showed.
async fn wait_for(client: &Client, locator: Locator<'_>) -> Element {
    match client.wait().for_element(locator).await {
        Ok(element) => element,
        Err(error) => panic!("{error}: no {locator:?} {}", page_state(client).await),
    }
}

async fn click(client: &Client, locator: Locator<'_>) {
    client.find(locator).await.unwrap().click().await.unwrap();
}

async fn type_into(client: &Client, locator: Locator<'_>, text: &str) {
    client
        .find(locator)
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn heading(client: &Client) -> String {
    client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn page_text(client: &Client) -> String {
    client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_agent_signs_in_searches_opens_a_document_and_its_dossier_in_a_browser() {
    let app = spawn_app().await;
    let agent = app.issue_token(DEFAULT_TENANT, Role::Agent, None).await;
    open_dossier(&app, &agent, "FAC-2024-000123").await;
    let mut letter = metadata();
    letter["dossiers"] = json!(["FAC-2024-000123"]);
    let document = app
        .archive_ok(&letter, pdf_part("Madame, je conteste"))
        .await;
    let id = document["id"].as_str().unwrap().to_string();
    let seq = document["seq"].as_i64().unwrap();
    app.search(&format!("min_seq={seq}")).await;

    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;

    // Signing in.
    client
        .goto(&app.url("/ui/recherche/individu"))
        .await
        .unwrap();
    wait_for_path(client, "/ui/connexion").await;
    type_into(client, Locator::Id("jeton"), &agent).await;
    click(client, Locator::Css("main button[type=submit]")).await;
    wait_for_path(client, "/ui/recherche/individu").await;
    assert_eq!(heading(client).await, "Recherche individu");

    // The NIR's key is checked as it is typed.
    let nir = client.find(Locator::Id("nir")).await.unwrap();
    nir.send_keys("1 85 05 78 006 084 92").await.unwrap();
    assert_eq!(
        nir.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    let help = client.find(Locator::Id("nir-aide")).await.unwrap();
    assert!(help.text().await.unwrap().contains("Clé incorrecte"));
    nir.clear().await.unwrap();
    nir.send_keys("1 85 05 78 006 084 91").await.unwrap();
    assert_eq!(
        nir.attr("aria-invalid").await.unwrap().as_deref(),
        Some("false")
    );

    // Search by NIR.
    click(
        client,
        Locator::Css("form[role=search] button[type=submit]"),
    )
    .await;
    let title = "Réclamation facture d'eau";
    wait_for(client, Locator::LinkText(title)).await;
    let text = page_text(client).await;
    assert!(text.contains("1 document"), "{text}");
    assert!(text.contains("5 mars 2024"), "French dates: {text}");
    assert!(
        text.contains("1 85 05 78 006 084 91"),
        "NIR in groups: {text}"
    );
    let url = client.current_url().await.unwrap();
    assert!(
        url.query().unwrap().contains("nir="),
        "the URL holds the query: {url}"
    );
    screenshot(client, "recherche-individu").await;

    // Search by SIREN: the document was filed under one of its SIRETs.
    client
        .goto(&app.url("/ui/recherche/entreprise"))
        .await
        .unwrap();
    type_into(client, Locator::Id("siren"), SIREN).await;
    click(
        client,
        Locator::Css("form[role=search] button[type=submit]"),
    )
    .await;
    let link = wait_for(client, Locator::LinkText(title)).await;
    assert!(page_text(client).await.contains("732 829 320 00074"));
    screenshot(client, "recherche-entreprise").await;

    // The document, shown in the page: the browser fetched its content with the session.
    link.click().await.unwrap();
    wait_for_path(client, &format!("/ui/documents/{id}")).await;
    assert_eq!(heading(client).await, title);
    let frame = client
        .find(Locator::Css("iframe.visionneuse"))
        .await
        .unwrap();
    assert_eq!(
        frame.attr("src").await.unwrap().unwrap(),
        format!("/api/v1/documents/{id}/content")
    );
    let mut downloaded = 0;
    for _ in 0..100 {
        downloaded = app.count_audit("document.downloaded").await;
        if downloaded > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(downloaded, 1, "the viewer loaded the content");
    screenshot(client, "document").await;

    // Its dossier's timeline.
    click(client, Locator::LinkText("FAC-2024-000123")).await;
    wait_for_path(client, "/ui/dossiers/FAC-2024-000123").await;
    assert_eq!(heading(client).await, "Dossier FAC-2024-000123");
    let text = page_text(client).await;
    assert!(text.contains(title) && text.contains("Ouvert"), "{text}");
    screenshot(client, "dossier").await;

    // Unlinking from the document page, through its CSRF-protected form.
    client
        .goto(&app.url(&format!("/ui/documents/{id}")))
        .await
        .unwrap();
    click(
        client,
        Locator::Css("form[action$='/dossiers/retirer'] button"),
    )
    .await;
    wait_for(
        client,
        Locator::XPath("//p[contains(., \"rattaché à aucun dossier\")]"),
    )
    .await;
    assert_eq!(app.count_audit("dossier.unlinked").await, 1);

    // An email found by a word of its body: the word marked in the extract, then the email
    // with its headers and attachments.
    let mut email_metadata = metadata();
    for field in ["channel", "document_date", "title", "received_at"] {
        email_metadata.as_object_mut().unwrap().remove(field);
    }
    let email = app
        .archive_ok(
            &email_metadata,
            reqwest::multipart::Part::bytes(
                include_bytes!("../fixtures/contestation.eml").to_vec(),
            )
            .file_name("contestation.eml")
            .mime_str("message/rfc822")
            .unwrap(),
        )
        .await;
    app.search(&format!("min_seq={}", email["seq"])).await;
    client
        .goto(&app.url(&format!("/ui/recherche/individu?nir={NIR}&q=indu")))
        .await
        .unwrap();
    let mark = client.find(Locator::Css("p.extrait mark")).await.unwrap();
    assert_eq!(mark.text().await.unwrap(), "indu");
    screenshot(client, "search-words").await;
    click(
        client,
        Locator::LinkText("Contestation de l'indu — dossier RDR-2024-001"),
    )
    .await;
    wait_for(client, Locator::XPath("//h2[. = 'Pièces jointes']")).await;
    let text = page_text(client).await;
    assert!(text.contains("Renée Lefèvre"), "{text}");
    assert!(text.contains("justificatif scanné.png"), "{text}");
    assert!(text.contains("Je conteste l'indu réclamé"), "{text}");
    screenshot(client, "email").await;

    // The client page, then signing out: the session ends on the server, not only in the
    // browser.
    client
        .goto(&app.url(&format!("/ui/individus/{NIR}")))
        .await
        .unwrap();
    assert_eq!(heading(client).await, "LEFÈVRE Anne");
    screenshot(client, "client").await;
    let cookies = client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|cookie| cookie.name() == "__Host-ged_session")
        .expect("the session cookie")
        .value()
        .to_string();
    click(client, Locator::Css("header form button")).await;
    wait_for_path(client, "/ui/connexion").await;
    client
        .goto(&app.url("/ui/recherche/individu"))
        .await
        .unwrap();
    wait_for_path(client, "/ui/connexion").await;
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/ui/recherche/individu"))
        .header("cookie", format!("__Host-ged_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 303, "a signed-out session is over");
    assert_eq!(app.count_audit("session.opened").await, 1);
    assert_eq!(app.count_audit("session.closed").await, 1);
    browser.client.clone().close().await.unwrap();
}

/// Signs in through the form; the session's `name=value` cookie pair.
pub(crate) async fn sign_in(app: &TestApp, client: &reqwest::Client, token: &str) -> String {
    let signed_in = client
        .post(app.url("/ui/connexion"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-ged_session="), "{cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn ui_forms_refuse_posts_without_the_sessions_secret_and_cookies_only_read() {
    let app = spawn_app().await;
    let agent = app.issue(DEFAULT_TENANT, Role::Agent, None).await;
    open_dossier(&app, &agent.token, "FAC-1").await;
    let document = app.archive_ok(&metadata(), pdf_part("csrf")).await;
    let id = document["id"].as_str().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = sign_in(&app, &client, &agent.token).await;
    assert_eq!(app.count_audit("session.opened").await, 1);
    let page = client
        .get(app.url(&format!("/ui/documents/{id}")))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    for (name, value) in [
        ("cache-control", "private, no-store"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "SAMEORIGIN"),
    ] {
        assert_eq!(page.headers()[name], value);
    }
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's forms carry the session's secret")
        .to_string();
    let link = app.url(&format!("/ui/documents/{id}/dossiers"));

    // Without the session's secret, or from another site, a form changes nothing.
    for (secret, origin) in [
        ("guess", None),
        (csrf.as_str(), Some("https://evil.example")),
    ] {
        let mut request = client
            .post(&link)
            .header("cookie", &session)
            .form(&[("csrf", secret), ("reference", "FAC-1")]);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        assert_eq!(request.send().await.unwrap().status(), 403);
    }
    assert_eq!(app.count_audit("dossier.linked").await, 0);
    let linked = client
        .post(&link)
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str()), ("reference", "FAC-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 303);
    assert_eq!(app.count_audit("dossier.linked").await, 1);

    // The cookie reads a document's content through the API, and nothing else.
    for (method, path, expected) in [
        (
            reqwest::Method::GET,
            format!("/api/v1/documents/{id}/content"),
            200,
        ),
        (reqwest::Method::GET, format!("/api/v1/documents/{id}"), 401),
        (
            reqwest::Method::GET,
            format!("/api/v1/search?nir={NIR}"),
            401,
        ),
        (reqwest::Method::POST, "/api/v1/dossiers".to_string(), 401),
    ] {
        let response = client
            .request(method, app.url(&path))
            .header("cookie", &session)
            .json(&json!({"reference": "FAC-2", "kind": "request", "category": "Facture"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{path}");
    }
    let downloads = app.count_audit("document.downloaded").await;

    // A text document (an email, a web form) is shown as text in the page, its reading audited.
    let note = "Bonjour, je souhaite résilier mon contrat.";
    let text = app
        .archive_ok(
            &metadata(),
            reqwest::multipart::Part::bytes(note.as_bytes().to_vec())
                .file_name("message.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .await;
    let page = client
        .get(app.url(&format!("/ui/documents/{}", text["id"].as_str().unwrap())))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "private, no-store");
    assert!(page.text().await.unwrap().contains(note));
    assert_eq!(app.count_audit("document.downloaded").await, downloads + 1);

    // Revoking the token ends its sessions.
    let admin = app.issue_token(DEFAULT_TENANT, Role::Admin, None).await;
    let revoked = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{}", agent.record.id)))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let after = client
        .get(app.url("/ui/recherche/individu"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    assert_eq!(after.headers()["location"], "/ui/connexion");

    // Scanning centres start on their batches; administrators and unknown tokens get no
    // session, with one answer that tells nothing about which tokens exist.
    let scanner = client
        .post(app.url("/ui/connexion"))
        .form(&[("token", app.scanner.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(scanner.headers()["location"], "/ui/lots");
    for token in [admin.as_str(), "ged_nope"] {
        let refused = client
            .post(app.url("/ui/connexion"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        assert!(refused.text().await.unwrap().contains("jeton refusé"));
    }
    // Signing in from another site's form is refused.
    let forged = client
        .post(app.url("/ui/connexion"))
        .header("origin", "https://evil.example")
        .form(&[("token", app.reader.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}
