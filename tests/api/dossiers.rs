//! Dossiers: creation, links at archiving and by hand, the timeline, status changes, lists,
//! search filters, the client view and the right-of-access export.

use std::io::Read;

use ged::access::{DEFAULT_TENANT, Role};
use reqwest::multipart::Part;
use serde_json::{Value, json};

use crate::helpers::*;

const PRINT_CENTRE: &str = "EDITIQUE";

struct Agents {
    agent: String,
    outbound: String,
}

async fn agents(app: &TestApp) -> Agents {
    Agents {
        agent: app.issue_token(DEFAULT_TENANT, Role::Agent, None).await,
        outbound: app
            .issue_token(DEFAULT_TENANT, Role::Outbound, Some(PRINT_CENTRE))
            .await,
    }
}

async fn send(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    send(app, token, reqwest::Method::POST, path, Some(body)).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    send(app, token, reqwest::Method::GET, path, None).await
}

fn new_dossier(reference: &str) -> Value {
    json!({
        "reference": reference,
        "kind": "request",
        "category": "Facture",
        "title": "Contestation de facture",
        "agent": "AG042",
        "individuals": [{"nir": NIR, "last_name": "LEFÈVRE", "first_name": "Anne"}]
    })
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, dossier) = post(app, token, "/api/v1/dossiers", body).await;
    assert_eq!(status, 201, "{dossier}");
    dossier
}

/// An inbound letter of `date` in `dossiers`, archived by the scanning centre.
async fn letter_in(app: &TestApp, date: &str, dossiers: Value) -> Value {
    let mut metadata = metadata();
    metadata["document_date"] = json!(date);
    metadata["dossiers"] = dossiers;
    app.archive_ok(&metadata, pdf_part(&format!("lettre {date}")))
        .await
}

/// An outbound answer of `date` in `dossiers`, archived by the print centre.
async fn answer_in(app: &TestApp, token: &str, date: &str, dossiers: Value) -> Value {
    let metadata = json!({
        "direction": "outbound",
        "channel": "postal",
        "source": PRINT_CENTRE,
        "document_type": "REPONSE",
        "document_date": date,
        "individuals": [{"nir": NIR}],
        "dossiers": dossiers,
    });
    let response = app
        .archive_as(token, &metadata, pdf_part(&format!("réponse {date}")))
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn a_dossier_gathers_inbound_and_outbound_documents_in_date_order() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    // A first dossier, so that the second's internal id differs from its parties' rows.
    create(&app, &tokens.agent, new_dossier("FAC-2024-000001")).await;
    let mut body = new_dossier("FAC-2024-000123");
    body["individuals"] = json!([{"nir": NIR, "role": "titulaire"}, {"nir": NIR_2}]);
    body["companies"] = json!([{"siret": SIRET, "role": "employeur"}]);
    let dossier = create(&app, &tokens.agent, body).await;
    assert_eq!(dossier["status"], "open");
    assert_eq!(dossier["individuals"][0]["nir"], NIR);
    assert_eq!(dossier["individuals"][0]["role"], "titulaire");
    assert_eq!(dossier["individuals"][1]["nir"], NIR_2);
    assert_eq!(dossier["companies"][0]["siret"], SIRET);
    let (_, again) = get(&app, &tokens.agent, "/api/v1/dossiers/FAC-2024-000123").await;
    // The answer shows the parties as sent; a read, their records (the first dossier named
    // Anne LEFÈVRE), the same parties in the same roles.
    let parties = |dossier: &Value| -> Vec<(Value, Value)> {
        dossier["individuals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|party| (party["party_id"].clone(), party["role"].clone()))
            .collect()
    };
    assert_eq!(parties(&again), parties(&dossier));
    assert!(dossier["individuals"][0].get("last_name").is_none());
    assert_eq!(again["individuals"][0]["last_name"], "LEFÈVRE");
    assert_eq!(again["companies"], dossier["companies"]);
    assert_eq!(dossier["status_history"].as_array().unwrap().len(), 1);

    // Archived out of date order: three letters in, two answers out.
    let link = json!(["FAC-2024-000123"]);
    letter_in(&app, "2024-03-20", link.clone()).await;
    answer_in(&app, &tokens.outbound, "2024-03-10", link.clone()).await;
    letter_in(&app, "2024-03-01", link.clone()).await;
    answer_in(&app, &tokens.outbound, "2024-03-25", link.clone()).await;
    let middle = letter_in(&app, "2024-03-05", link.clone()).await;
    assert_eq!(middle["dossiers"][0]["reference"], "FAC-2024-000123");
    assert_eq!(middle["dossiers"][0]["status"], "open");

    let (status, timeline) = get(
        &app,
        &tokens.agent,
        "/api/v1/dossiers/FAC-2024-000123/documents",
    )
    .await;
    assert_eq!(status, 200, "{timeline}");
    let rows: Vec<(String, String)> = timeline["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["document_date"].as_str().unwrap().to_string(),
                d["direction"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("2024-03-01", "inbound"),
        ("2024-03-05", "inbound"),
        ("2024-03-10", "outbound"),
        ("2024-03-20", "inbound"),
        ("2024-03-25", "outbound"),
    ];
    assert_eq!(
        rows,
        expected.map(|(date, direction)| (date.to_string(), direction.to_string()))
    );
    assert_eq!(timeline["dossier"]["document_count"], 5);
    // Linked at archiving by the token that archived.
    assert!(timeline["documents"][0]["dossiers"][0]["linked_by"].is_string());
    assert_eq!(app.count_audit("dossier.created").await, 2);
    assert_eq!(app.count_audit("dossier.viewed").await, 2);
}

#[tokio::test]
async fn an_unknown_dossier_is_refused_unless_its_creation_is_asked() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    let mut metadata = metadata();
    metadata["dossiers"] = json!(["FAC-2024-404"]);
    let response = app.archive(&metadata, pdf_part("orphan")).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "dossiers[0]", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("FAC-2024-404")
    );
    assert_eq!(app.count_rows("documents").await, 0);
    assert_eq!(app.count_rows("dossiers").await, 0);

    // A category outside the tenant's list is refused by name, and nothing is written.
    metadata["dossiers"] =
        json!([{"reference": "REC-2024-1", "create": true, "category": "Jardinage"}]);
    let response = app.archive(&metadata, pdf_part("orphan")).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "dossiers[0].category", "{body}");
    assert_eq!(app.count_rows("documents").await, 0);
    assert_eq!(app.count_rows("dossiers").await, 0);

    // Asked for, it is created with the document's parties and agent; the category is
    // spelled as the list spells it.
    metadata["dossiers"] = json!([{"reference": "REC-2024-1", "create": true, "kind": "complaint", "category": "règlement"}]);
    let document = app.archive_ok(&metadata, pdf_part("first letter")).await;
    assert_eq!(document["dossiers"][0]["reference"], "REC-2024-1");
    let (status, dossier) = get(&app, &tokens.agent, "/api/v1/dossiers/REC-2024-1").await;
    assert_eq!(status, 200, "{dossier}");
    assert_eq!(dossier["kind"], "complaint");
    assert_eq!(dossier["category"], "Règlement");
    assert_eq!(dossier["agent"], "AG042");
    assert_eq!(dossier["individuals"][0]["nir"], NIR);
    assert_eq!(dossier["companies"][0]["siret"], SIRET);
    assert_eq!(dossier["document_count"], 1);

    // The next letter naming it joins it rather than creating another.
    let second = app.archive_ok(&metadata, pdf_part("second letter")).await;
    assert_eq!(second["dossiers"][0]["reference"], "REC-2024-1");
    assert_eq!(app.count_rows("dossiers").await, 1);
    assert_eq!(app.count_audit("dossier.created").await, 1);
}

/// The number of hits of `query` once the index has applied change `seq`.
async fn total(app: &TestApp, seq: i64, query: &str) -> u64 {
    app.search_as(&app.reader, &format!("min_seq={seq}&{query}"))
        .await["total"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_document_in_two_dossiers_is_found_by_each_and_links_update_the_index() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    create(&app, &tokens.agent, new_dossier("FAC-A")).await;
    create(&app, &tokens.agent, new_dossier("FAC-B")).await;
    let document = letter_in(&app, "2024-03-05", json!(["FAC-A"])).await;
    let id = document["id"].as_str().unwrap();

    let path = format!("/api/v1/dossiers/FAC-B/documents/{id}");
    let (status, linked) = send(&app, &tokens.agent, reqwest::Method::PUT, &path, None).await;
    assert_eq!(status, 201, "{linked}");
    let seq = linked["seq"].as_i64().unwrap();
    assert_eq!(total(&app, seq, "dossier=FAC-A").await, 1);
    assert_eq!(total(&app, seq, "dossier=FAC-B").await, 1);
    assert_eq!(total(&app, seq, "dossier=FAC-A&dossier=FAC-B").await, 1);
    let hit = app
        .search_as(&app.reader, &format!("min_seq={seq}&dossier=FAC-B"))
        .await;
    assert_eq!(hit["hits"][0]["dossiers"].as_array().unwrap().len(), 2);
    let (_, read) = get(&app, &tokens.agent, &format!("/api/v1/documents/{id}")).await;
    assert_eq!(read["dossiers"].as_array().unwrap().len(), 2);

    // Linking again changes nothing.
    let (status, again) = send(&app, &tokens.agent, reqwest::Method::PUT, &path, None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(app.count_audit("dossier.linked").await, 1);

    // Unlinked, it leaves B's search and timeline, and stays in A.
    let (status, unlinked) = send(&app, &tokens.agent, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 200, "{unlinked}");
    let seq = unlinked["seq"].as_i64().unwrap();
    assert_eq!(total(&app, seq, "dossier=FAC-B").await, 0);
    assert_eq!(total(&app, seq, "dossier=FAC-A").await, 1);
    let (_, timeline) = get(&app, &tokens.agent, "/api/v1/dossiers/FAC-B/documents").await;
    assert_eq!(timeline["documents"].as_array().unwrap().len(), 0);
    let (status, _) = send(&app, &tokens.agent, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 404);

    // A status change re-indexes the dossier's documents.
    let (status, closed) = post(
        &app,
        &tokens.agent,
        "/api/v1/dossiers/FAC-A/status",
        json!({"status": "closed", "reason": "Facture rectifiée"}),
    )
    .await;
    assert_eq!(status, 200, "{closed}");
    let seq = closed["seq"].as_i64().unwrap();
    assert_eq!(total(&app, seq, "dossier_status=closed").await, 1);
    assert_eq!(total(&app, seq, "dossier_status=open").await, 0);
    let (status, body) = get(&app, &tokens.agent, "/api/v1/search?dossier_status=shut").await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "dossier_status");
}

#[tokio::test]
async fn a_status_changes_once_with_who_and_when_and_a_complaint_follows_a_closed_dossier() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    let agent = app.issue(DEFAULT_TENANT, Role::Agent, None).await;
    create(&app, &agent.token, new_dossier("FAC-1")).await;
    let (status, body) = post(&app, &agent.token, "/api/v1/dossiers", new_dossier("FAC-1")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["field"], "reference");

    let (status, closed) = post(
        &app,
        &agent.token,
        "/api/v1/dossiers/FAC-1/status",
        json!({"status": "closed", "reason": "Réponse envoyée"}),
    )
    .await;
    assert_eq!(status, 200, "{closed}");
    let history = closed["dossier"]["status_history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["status"], "closed");
    assert_eq!(history[1]["by"], agent.record.id.as_str());
    assert_eq!(history[1]["reason"], "Réponse envoyée");
    assert!(history[1]["at"].as_str().unwrap() >= history[0]["at"].as_str().unwrap());

    for next in ["closed", "cancelled", "open"] {
        let (status, body) = post(
            &app,
            &agent.token,
            "/api/v1/dossiers/FAC-1/status",
            json!({"status": next}),
        )
        .await;
        let expected = if next == "open" { 422 } else { 409 };
        assert_eq!(status, expected, "{next}: {body}");
    }

    // A complaint about the closed request opens a new dossier that follows it.
    let mut complaint = new_dossier("REC-1");
    complaint["kind"] = json!("complaint");
    complaint["follows"] = json!("FAC-1");
    let dossier = create(&app, &tokens.agent, complaint).await;
    assert_eq!(dossier["follows"], "FAC-1");
    let mut orphan = new_dossier("REC-2");
    orphan["follows"] = json!("FAC-404");
    let (status, body) = post(&app, &tokens.agent, "/api/v1/dossiers", orphan).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "follows");

    // A cancelled dossier takes no more documents.
    create(&app, &tokens.agent, new_dossier("FAC-2")).await;
    let (status, cancelled) = post(
        &app,
        &tokens.agent,
        "/api/v1/dossiers/FAC-2/status",
        json!({"status": "cancelled"}),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["dossier"]["status"], "cancelled");
    let mut metadata = metadata();
    metadata["dossiers"] = json!(["FAC-2"]);
    let response = app.archive(&metadata, pdf_part("late")).await;
    assert_eq!(response.status(), 422);
    assert_eq!(app.count_rows("documents").await, 0);

    // Every field at fault is named at once.
    let (status, body) = post(
        &app,
        &tokens.agent,
        "/api/v1/dossiers",
        json!({"reference": "bad ref", "kind": "lawsuit", "individuals": [{"nir": "185057800608492"}]}),
    )
    .await;
    assert_eq!(status, 422);
    let fields = error_fields(&body);
    assert_eq!(
        fields,
        ["reference", "kind", "category", "individuals[0].nir"]
    );
}

#[tokio::test]
async fn dossiers_are_listed_by_party_status_category_and_dates_page_by_page() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    let mut company = new_dossier("ENT-1");
    company["individuals"] = json!([]);
    company["companies"] = json!([{"siret": SIRET, "name": "Eaux de Lyon"}]);
    company["category"] = json!("Résiliation");
    company["opened_at"] = json!("2024-01-10T09:00:00Z");
    create(&app, &tokens.agent, company).await;
    for (reference, opened) in [
        ("FAC-1", "2024-02-01T09:00:00Z"),
        ("FAC-2", "2024-03-01T09:00:00Z"),
        ("FAC-3", "2024-04-01T09:00:00Z"),
    ] {
        let mut dossier = new_dossier(reference);
        dossier["opened_at"] = json!(opened);
        create(&app, &tokens.agent, dossier).await;
    }
    post(
        &app,
        &tokens.agent,
        "/api/v1/dossiers/FAC-2/status",
        json!({"status": "closed"}),
    )
    .await;
    let references = |body: &Value| -> Vec<String> {
        body["dossiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["reference"].as_str().unwrap().to_string())
            .collect()
    };
    let list = |query: &str| {
        let path = format!("/api/v1/dossiers?{query}");
        let token = tokens.agent.clone();
        let app = &app;
        async move {
            let (status, body) = get(app, &token, &path).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    assert_eq!(
        references(&list("").await),
        ["FAC-3", "FAC-2", "FAC-1", "ENT-1"]
    );
    assert_eq!(
        references(&list("nir=1%2085%2005%2078%20006%20084%2091").await),
        ["FAC-3", "FAC-2", "FAC-1"]
    );
    assert_eq!(
        references(&list(&format!("siren={SIREN}")).await),
        ["ENT-1"]
    );
    assert_eq!(
        references(&list(&format!("siret={SIRET}")).await),
        ["ENT-1"]
    );
    assert_eq!(references(&list("status=closed").await), ["FAC-2"]);
    assert_eq!(
        references(&list("status=open&category=Facture").await),
        ["FAC-3", "FAC-1"]
    );
    assert_eq!(
        references(&list("opened_from=2024-02-01&opened_to=2024-04-01").await),
        ["FAC-2", "FAC-1"]
    );

    // Paging: each page picks up after the last dossier of the previous one.
    let mut seen = Vec::new();
    let mut query = "limit=3".to_string();
    loop {
        let page = list(&query).await;
        seen.extend(references(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["FAC-3", "FAC-2", "FAC-1", "ENT-1"]);

    let (status, body) = get(
        &app,
        &tokens.agent,
        "/api/v1/dossiers?status=shut&colour=red",
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_client_view_shows_the_party_its_dossiers_open_first_and_its_documents() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    let mut old = new_dossier("FAC-OLD");
    old["opened_at"] = json!("2023-01-01T09:00:00Z");
    create(&app, &tokens.agent, old).await;
    post(
        &app,
        &tokens.agent,
        "/api/v1/dossiers/FAC-OLD/status",
        json!({"status": "closed"}),
    )
    .await;
    let mut new = new_dossier("FAC-NEW");
    new["opened_at"] = json!("2022-01-01T09:00:00Z");
    create(&app, &tokens.agent, new).await;
    letter_in(&app, "2024-01-01", json!(["FAC-OLD"])).await;
    letter_in(&app, "2024-06-01", json!(["FAC-NEW"])).await;
    let mut secret = metadata();
    secret["sensitive"] = json!(true);
    secret["document_date"] = json!("2024-07-01");
    app.archive_ok(&secret, pdf_part("médiateur")).await;

    // By NIR as agents type it, and by client number: the same person.
    for reference in ["1%2085%2005%2078%20006%20084%2091", "C-000123"] {
        let (status, view) = get(
            &app,
            &tokens.agent,
            &format!("/api/v1/individuals/{reference}"),
        )
        .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["party"]["nir"], NIR);
        assert_eq!(view["party"]["client_numbers"], json!(["C-000123"]));
        assert_eq!(view["party"]["last_name"], "LEFÈVRE");
        let dossiers: Vec<&str> = view["dossiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["reference"].as_str().unwrap())
            .collect();
        assert_eq!(dossiers, ["FAC-NEW", "FAC-OLD"], "open first");
        // A plain agent does not see the sensitive letter, nor its count.
        assert_eq!(view["documents_total"], 2);
        assert_eq!(view["documents"][0]["document_date"], "2024-06-01");
    }
    let (_, view) = get(&app, &app.reader, &format!("/api/v1/individuals/{NIR}")).await;
    assert_eq!(view["documents_total"], 3);
    let (_, view) = get(
        &app,
        &app.reader,
        &format!("/api/v1/individuals/{NIR}?limit=1"),
    )
    .await;
    assert_eq!(view["documents"].as_array().unwrap().len(), 1);
    assert_eq!(view["documents"][0]["document_date"], "2024-07-01");

    // Companies by SIREN, or by any SIRET of it.
    for reference in [SIREN, SIRET, "732 829 320 00017"] {
        let (status, view) = get(
            &app,
            &tokens.agent,
            &format!("/api/v1/companies/{reference}"),
        )
        .await;
        assert_eq!(status, 200, "{reference}: {view}");
        assert_eq!(view["party"]["siren"], SIREN);
        assert_eq!(view["party"]["sirets"], json!([SIRET]));
        assert_eq!(view["documents_total"], 2);
    }
    let (status, _) = get(&app, &tokens.agent, &format!("/api/v1/individuals/{NIR_2}")).await;
    assert_eq!(status, 404);
    let (status, body) = get(&app, &tokens.agent, "/api/v1/companies/123").await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = get(&app, &app.scanner, &format!("/api/v1/individuals/{NIR}")).await;
    assert_eq!(status, 403);
    assert_eq!(app.count_audit("party.viewed").await, 7);
}

#[tokio::test]
async fn the_access_export_holds_every_document_of_the_person_and_an_index() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    create(&app, &tokens.agent, new_dossier("FAC-9")).await;
    let letter = pdf_bytes("lettre de Mme Lefèvre");
    let mut with_dossier = metadata();
    with_dossier["dossiers"] = json!(["FAC-9"]);
    app.archive_ok(
        &with_dossier,
        Part::bytes(letter.clone()).file_name("lettre.pdf"),
    )
    .await;
    let mut photo = metadata();
    photo["document_date"] = json!("2024-04-01");
    photo["document_type"] = json!("JUSTIFICATIF");
    app.archive_ok(
        &photo,
        Part::bytes(PNG.to_vec()).file_name("justificatif.png"),
    )
    .await;
    // Someone else's letter stays out.
    let mut other = metadata();
    other["individuals"] = json!([{"nir": NIR_2}]);
    app.archive_ok(&other, pdf_part("autre personne")).await;

    let response = app
        .get_as(&tokens.agent, &format!("/api/v1/individuals/{NIR}/export"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = zip
        .file_names()
        .map(|name| name.unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[2], "index.csv");
    assert_eq!(names[3], "index.json");
    assert!(
        names[0].starts_with("documents/2024-03-05_RECLAMATION_") && names[0].ends_with(".pdf")
    );
    assert!(
        names[1].starts_with("documents/2024-04-01_JUSTIFICATIF_") && names[1].ends_with(".png")
    );
    let read = |zip: &mut zip::ZipArchive<_>, name: &str| {
        let mut bytes = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut bytes).unwrap();
        bytes
    };
    assert_eq!(read(&mut zip, &names[0]), letter);
    assert_eq!(read(&mut zip, &names[1]), PNG);
    let index: Value = serde_json::from_slice(&read(&mut zip, "index.json")).unwrap();
    assert_eq!(index["party"]["nir"], NIR);
    assert_eq!(index["dossiers"][0]["reference"], "FAC-9");
    assert_eq!(index["documents"].as_array().unwrap().len(), 2);
    assert_eq!(
        index["documents"][0]["file"],
        names[1].as_str(),
        "newest first"
    );
    assert_eq!(index["documents"][1]["dossiers"][0]["reference"], "FAC-9");
    let csv = String::from_utf8(read(&mut zip, "index.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().nth(2).unwrap().contains("FAC-9"));
    assert_eq!(app.count_audit("party.exported").await, 1);

    // Content is for agents only.
    for token in [
        &app.scanner,
        &app.issue_token(DEFAULT_TENANT, Role::Auditor, None).await,
    ] {
        let response = app
            .get_as(token, &format!("/api/v1/individuals/{NIR}/export"))
            .await;
        assert_eq!(response.status(), 403);
    }
}

#[tokio::test]
async fn dossiers_stay_within_their_tenant_and_roles() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    create(&app, &tokens.agent, new_dossier("FAC-1")).await;
    let other_tenant = app.issue_token("caisse-b", Role::Agent, None).await;
    let (status, _) = get(&app, &other_tenant, "/api/v1/dossiers/FAC-1").await;
    assert_eq!(status, 404);
    let (_, list) = get(&app, &other_tenant, "/api/v1/dossiers").await;
    assert_eq!(list["dossiers"].as_array().unwrap().len(), 0);
    // The same reference is free in another tenant.
    create(&app, &other_tenant, new_dossier("FAC-1")).await;

    let auditor = app.issue_token(DEFAULT_TENANT, Role::Auditor, None).await;
    let (status, _) = get(&app, &auditor, "/api/v1/dossiers/FAC-1").await;
    assert_eq!(status, 200);
    for token in [&auditor, &app.scanner] {
        let (status, _) = post(&app, token, "/api/v1/dossiers", new_dossier("FAC-2")).await;
        assert_eq!(status, 403);
    }

    // Categories: read by agents, replaced by the tenant's admin only.
    let (_, categories) = get(&app, &tokens.agent, "/api/v1/dossier-categories").await;
    assert_eq!(categories["categories"][0], "Facture");
    let admin = app.issue_token(DEFAULT_TENANT, Role::Admin, None).await;
    let put = |token: String, body: Value| {
        let app = &app;
        async move {
            send(
                app,
                &token,
                reqwest::Method::PUT,
                "/api/v1/dossier-categories",
                Some(body),
            )
            .await
        }
    };
    let (status, _) = put(tokens.agent.clone(), json!(["Facture"])).await;
    assert_eq!(status, 403);
    let (status, body) = put(admin.clone(), json!(["Facture", "facture"])).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = put(admin.clone(), json!(["Facture", "Travaux"])).await;
    assert_eq!(status, 200);
    let mut works = new_dossier("TRV-1");
    works["category"] = json!("travaux");
    assert_eq!(
        create(&app, &tokens.agent, works).await["category"],
        "Travaux"
    );
    let mut gone = new_dossier("RES-1");
    gone["category"] = json!("Résiliation");
    let (status, body) = post(&app, &tokens.agent, "/api/v1/dossiers", gone).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "category");
    // The other tenant kept its own list.
    let (_, categories) = get(&app, &other_tenant, "/api/v1/dossier-categories").await;
    assert_eq!(categories["categories"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn an_export_with_damaged_content_fails_instead_of_delivering_a_complete_looking_zip() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    let first = app.archive_ok(&metadata(), pdf_part("first letter")).await;
    let mut later = metadata();
    later["document_date"] = json!("2024-05-01");
    app.archive_ok(&later, pdf_part("second letter")).await;
    // The older letter is written last, just before the index files.
    let path = object_path(&app, first["sha256"].as_str().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let url = app.url(&format!("/api/v1/individuals/{NIR}/export"));
    assert!(
        delivery_fails(app.client.get(&url).bearer_auth(&tokens.agent)).await,
        "a damaged export must not arrive whole"
    );
    assert_eq!(app.count_audit("party.exported").await, 1);
}

#[tokio::test]
async fn sensitive_mail_stays_hidden_in_dossiers_client_views_and_status_answers() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    // A complaint to the ombudsman opens its own dossier: its parties are not copied to it.
    let mut ombudsman = metadata();
    ombudsman["sensitive"] = json!(true);
    ombudsman["individuals"] = json!([{"nir": NIR_2, "last_name": "DUPONT"}]);
    ombudsman["dossiers"] =
        json!([{"reference": "MED-1", "create": true, "kind": "complaint", "category": "Autre"}]);
    app.archive_ok(&ombudsman, pdf_part("médiateur")).await;
    let (status, dossier) = get(&app, &tokens.agent, "/api/v1/dossiers/MED-1").await;
    assert_eq!(status, 200);
    assert_eq!(dossier["individuals"], json!([]));
    assert_eq!(dossier["document_count"], 0);
    let (status, _) = get(&app, &tokens.agent, &format!("/api/v1/individuals/{NIR_2}")).await;
    assert_eq!(
        status, 404,
        "a person named only on sensitive mail does not exist for an agent"
    );
    let (_, list) = get(
        &app,
        &tokens.agent,
        &format!("/api/v1/dossiers?nir={NIR_2}"),
    )
    .await;
    assert_eq!(list["dossiers"], json!([]));
    let (status, view) = get(&app, &app.reader, &format!("/api/v1/individuals/{NIR_2}")).await;
    assert_eq!(status, 200);
    assert_eq!(view["dossiers"][0]["reference"], "MED-1");
    assert_eq!(view["dossiers"][0]["document_count"], 1);

    // A dossier holding an ordinary and a sensitive letter: the agent sees one of them.
    create(&app, &tokens.agent, new_dossier("FAC-1")).await;
    letter_in(&app, "2024-03-01", json!(["FAC-1"])).await;
    let mut secret = metadata();
    secret["sensitive"] = json!(true);
    secret["dossiers"] = json!(["FAC-1"]);
    app.archive_ok(&secret, pdf_part("menace de plainte")).await;
    let (_, timeline) = get(&app, &tokens.agent, "/api/v1/dossiers/FAC-1/documents").await;
    assert_eq!(timeline["documents"].as_array().unwrap().len(), 1);
    assert_eq!(timeline["dossier"]["document_count"], 1);
    let (_, timeline) = get(&app, &app.reader, "/api/v1/dossiers/FAC-1/documents").await;
    assert_eq!(timeline["documents"].as_array().unwrap().len(), 2);

    // The seq a status change answers covers only documents the caller sees.
    let before = app.latest_seq().await;
    let (status, closed) = post(
        &app,
        &tokens.agent,
        "/api/v1/dossiers/MED-1/status",
        json!({"status": "closed"}),
    )
    .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["seq"], before, "{closed}");
    assert!(
        app.latest_seq().await > before,
        "the hidden document was re-indexed"
    );
}

#[tokio::test]
async fn one_tenant_cannot_reach_anothers_documents_through_dossiers_or_client_views() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    let document = letter_in(&app, "2024-03-01", json!([])).await;
    let id = document["id"].as_str().unwrap();
    create(&app, &tokens.agent, new_dossier("FAC-1")).await;
    let stranger = app.issue_token("caisse-b", Role::Agent, None).await;
    let mut theirs = new_dossier("FAC-B");
    theirs["individuals"] = json!([]);
    create(&app, &stranger, theirs).await;

    let link = format!("/api/v1/dossiers/FAC-B/documents/{id}");
    let (status, _) = send(&app, &stranger, reqwest::Method::PUT, &link, None).await;
    assert_eq!(status, 404, "another tenant's document cannot be linked");
    for path in [
        "/api/v1/dossiers/FAC-1/documents".to_string(),
        format!("/api/v1/individuals/{NIR}"),
        format!("/api/v1/individuals/{NIR}/export"),
        format!("/api/v1/companies/{SIREN}"),
    ] {
        let (status, _) = get(&app, &stranger, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = post(
        &app,
        &stranger,
        "/api/v1/dossiers/FAC-1/status",
        json!({"status": "cancelled"}),
    )
    .await;
    assert_eq!(status, 404);
    let (_, dossier) = get(&app, &tokens.agent, "/api/v1/dossiers/FAC-1").await;
    assert_eq!(dossier["status"], "open");
}

#[tokio::test]
async fn dossiers_opened_at_the_same_instant_page_without_loss_or_repeat() {
    let app = spawn_app().await;
    let tokens = agents(&app).await;
    for n in 0..5 {
        let mut dossier = new_dossier(&format!("FAC-{n}"));
        dossier["opened_at"] = json!("2024-02-01T09:00:00Z");
        create(&app, &tokens.agent, dossier).await;
    }
    let mut seen = Vec::new();
    let mut query = "limit=2".to_string();
    loop {
        let (status, page) = get(&app, &tokens.agent, &format!("/api/v1/dossiers?{query}")).await;
        assert_eq!(status, 200, "{page}");
        for dossier in page["dossiers"].as_array().unwrap() {
            seen.push(dossier["reference"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["FAC-4", "FAC-3", "FAC-2", "FAC-1", "FAC-0"]);
}
