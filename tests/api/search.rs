//! Search: every criterion, folding and stemming, sorting and paging, facets, scope, audit.

use std::collections::HashSet;

use ged::access::Role;
use serde_json::{Value, json};

use crate::helpers::*;

fn ids(results: &Value) -> Vec<String> {
    results["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["id"].as_str().unwrap().to_string())
        .collect()
}

fn total(results: &Value) -> u64 {
    results["total"].as_u64().unwrap()
}

/// A small archive: two namesakes, a company with two establishments, varied types and dates.
async fn corpus(app: &TestApp) -> Vec<Value> {
    let documents = [
        json!({"document_type": "RECLAMATION", "document_date": "2024-03-05", "title": "Réclamation sur la facture d'eau",
               "agent": "AG01", "recipient": "Service Clientèle Lyon",
               "individuals": [{"nir": NIR, "client_number": "C-1", "last_name": "LEFEVRE", "first_name": "Anne", "birth_date": "1985-05-12"}]}),
        json!({"document_type": "ATTESTATION", "document_date": "2023-11-20", "title": "Attestation de paiement",
               "individuals": [{"nir": NIR, "last_name": "LEFEVRE", "first_name": "Anne"}]}),
        json!({"document_type": "RECLAMATION", "document_date": "2022-01-10", "title": "Contestation des relevés",
               "individuals": [{"nir": NIR_2, "client_number": "C-2", "last_name": "Lefèvre", "first_name": "Anne", "birth_date": "1992-03-01"}]}),
        json!({"document_type": "FACTURE", "document_date": "2024-06-01", "title": "Facture du siège",
               "companies": [{"siret": SIRET, "name": "Eaux de Lyon", "company_number": "E-77"}]}),
        json!({"document_type": "COURRIER", "document_date": "2024-07-15", "title": "Courrier à l'établissement secondaire",
               "companies": [{"siret": "73282932000017", "name": "Eaux de Lyon"}]}),
        json!({"document_type": "FACTURE", "document_date": "2021-02-02", "title": "Facture d'une autre société",
               "companies": [{"siret": SIRET_OTHER_COMPANY, "name": "Fromagerie Dupont"}]}),
    ];
    let mut created = Vec::new();
    for (n, fields) in documents.into_iter().enumerate() {
        let mut metadata = metadata();
        metadata.as_object_mut().unwrap().remove("individuals");
        metadata.as_object_mut().unwrap().remove("companies");
        metadata.as_object_mut().unwrap().remove("agent");
        for (key, value) in fields.as_object().unwrap() {
            metadata[key] = value.clone();
        }
        created.push(
            app.archive_ok(&metadata, pdf_part(&format!("corpus {n}")))
                .await,
        );
    }
    created
}

fn id_of(document: &Value) -> String {
    document["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn finds_people_by_nir_client_number_and_folded_names() {
    let app = spawn_app().await;
    let docs = corpus(&app).await;

    let by_nir = app.search("nir=1%2085%2005%2078%20006%20084%2091").await;
    assert_eq!(total(&by_nir), 2);
    assert_eq!(
        ids(&by_nir),
        [id_of(&docs[0]), id_of(&docs[1])],
        "newest document first"
    );
    assert_eq!(
        by_nir["hits"][0]["title"],
        "Réclamation sur la facture d'eau"
    );
    assert_eq!(by_nir["hits"][0]["individuals"][0]["nir"], NIR);

    assert_eq!(
        ids(&app.search("client_number=C-2").await),
        [id_of(&docs[2])]
    );

    // "Lefèvre" finds "LEFEVRE" and "Lefèvre"; the birth date separates the namesakes.
    assert_eq!(total(&app.search("name=lef%C3%A8vre").await), 3);
    assert_eq!(total(&app.search("name=ANNE%20LEFEVRE").await), 3);
    let namesake = app.search("name=Lefevre&birth_date=1992-03-01").await;
    assert_eq!(ids(&namesake), [id_of(&docs[2])]);
    assert_eq!(total(&app.search("name=Martin").await), 0);
}

#[tokio::test]
async fn finds_companies_by_siren_siret_number_and_name() {
    let app = spawn_app().await;
    let docs = corpus(&app).await;

    // A SIREN finds the documents filed under every SIRET of that company.
    let by_siren = app.search(&format!("siren={SIREN}")).await;
    assert_eq!(ids(&by_siren), [id_of(&docs[4]), id_of(&docs[3])]);
    assert_eq!(
        ids(&app.search(&format!("siret={SIRET}")).await),
        [id_of(&docs[3])]
    );
    // A company number names the company: every document of that company is found by it.
    assert_eq!(
        ids(&app.search("company_number=E-77").await),
        [id_of(&docs[4]), id_of(&docs[3])]
    );
    assert_eq!(total(&app.search("company_name=eaux%20de%20lyon").await), 2);
    assert_eq!(total(&app.search("company_name=FROMAGERIE").await), 1);
}

#[tokio::test]
async fn filters_dates_text_and_facets() {
    let app = spawn_app().await;
    let docs = corpus(&app).await;

    assert_eq!(total(&app.search("document_type=RECLAMATION").await), 2);
    assert_eq!(
        total(&app.search("document_type=RECLAMATION,FACTURE").await),
        4
    );
    assert_eq!(
        total(
            &app.search("document_type=RECLAMATION&document_type=ATTESTATION")
                .await
        ),
        3
    );
    assert_eq!(
        total(
            &app.search("source=SCAN-LYON&direction=inbound&channel=postal")
                .await
        ),
        6
    );
    assert_eq!(total(&app.search("direction=outbound").await), 0);
    assert_eq!(ids(&app.search("agent=AG01").await), [id_of(&docs[0])]);
    assert_eq!(
        ids(&app.search("recipient=service%20clientele").await),
        [id_of(&docs[0])]
    );
    assert_eq!(
        total(&app.search("from=2024-01-01&to=2024-06-01").await),
        2,
        "bounds inclusive"
    );
    assert_eq!(total(&app.search("to=2021-12-31").await), 1);
    assert_eq!(total(&app.search("archived_from=2000-01-01").await), 6);
    assert_eq!(total(&app.search("archived_to=2000-01-01").await), 0);

    // French analysis: plural, accents and case do not matter.
    assert_eq!(
        ids(&app.search("q=r%C3%A9clamations").await),
        [id_of(&docs[0])]
    );
    assert_eq!(
        ids(&app.search("q=RECLAMATION%20facture").await),
        [id_of(&docs[0])]
    );
    assert_eq!(total(&app.search("q=factures").await), 3);
    assert_eq!(total(&app.search("q=inexistant").await), 0);

    let all = app.search("").await;
    assert_eq!(total(&all), 6);
    let facets = &all["facets"];
    assert_eq!(
        facets["document_type"][0],
        json!({"value": "FACTURE", "count": 2})
    );
    assert_eq!(
        facets["direction"],
        json!([{"value": "inbound", "count": 6}])
    );
    assert_eq!(
        facets["source"],
        json!([{"value": "SCAN-LYON", "count": 6}])
    );
    assert_eq!(facets["year"][0], json!({"value": "2024", "count": 3}));
    let narrowed = app.search("nir=185057800608491").await;
    assert_eq!(
        narrowed["facets"]["year"],
        json!([{"value": "2024", "count": 1}, {"value": "2023", "count": 1}])
    );
}

#[tokio::test]
async fn sorts_and_pages_stably_while_documents_keep_arriving() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    for day in 1..=25 {
        let mut metadata = metadata();
        metadata["document_date"] = json!(format!("2024-01-{day:02}"));
        expected.push(id_of(
            &app.archive_ok(&metadata, pdf_part(&format!("page {day}")))
                .await,
        ));
    }
    let ascending = app.search("sort=date_asc&limit=25").await;
    assert_eq!(ids(&ascending), expected);
    let archived = app.search("sort=archived_desc&limit=25").await;
    assert_eq!(
        ids(&archived),
        expected.iter().rev().cloned().collect::<Vec<_>>()
    );

    // Page by 10, archiving more documents (newer and older) between pages.
    let mut seen = Vec::new();
    let mut page = app.search("limit=10").await;
    let mut round = 0;
    loop {
        seen.extend(ids(&page));
        let Some(cursor) = page["next_cursor"].as_str().map(str::to_string) else {
            break;
        };
        for date in ["2025-01-01", "2023-01-01"] {
            let mut metadata = metadata();
            metadata["document_date"] = json!(date);
            app.archive_ok(&metadata, pdf_part(&format!("arrival {round} {date}")))
                .await;
        }
        round += 1;
        page = app.search(&format!("limit=10&cursor={cursor}")).await;
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no document twice");
    for id in &expected {
        assert!(
            seen.contains(id),
            "every document present at the start is seen once"
        );
    }
    // Older arrivals land after the cursor and are met on later pages; newer ones do not.
    let relevance = app.search("q=facture&sort=relevance&limit=5").await;
    assert!(relevance["hits"].as_array().unwrap().len() <= 5);

    let response = app
        .get(&format!(
            "/api/v1/search?sort=date_asc&cursor={}",
            page_cursor(&app).await
        ))
        .await;
    assert_eq!(response.status(), 422, "a cursor belongs to its sort order");
}

async fn page_cursor(app: &TestApp) -> String {
    app.search("limit=1").await["next_cursor"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn results_stay_within_the_callers_tenant_and_sensitivity() {
    let app = spawn_app().await;
    let agent = app.issue_token("default", Role::Agent, None).await;
    app.archive_ok(&metadata(), pdf_part("plain")).await;
    let mut sensitive = metadata();
    sensitive["sensitive"] = json!(true);
    sensitive["document_type"] = json!("MEDIATEUR");
    app.archive_ok(&sensitive, pdf_part("sensitive")).await;
    let other_scanner = app
        .issue_token("autre", Role::Scanner, Some("SCAN-LYON"))
        .await;
    let other_agent = app.issue_token("autre", Role::Agent, None).await;
    app.archive_as(&other_scanner, &metadata(), pdf_part("other tenant"))
        .await;
    let seq = app.latest_seq().await;

    let seen_by_agent = app
        .search_as(&agent, &format!("min_seq={seq}&nir={NIR}"))
        .await;
    assert_eq!(
        total(&seen_by_agent),
        1,
        "no sensitive mail, no other tenant"
    );
    assert!(
        seen_by_agent["facets"]["document_type"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["value"] != "MEDIATEUR")
    );
    assert_eq!(total(&app.search_as(&agent, "sensitive=true").await), 0);
    let seen_by_reader = app.search(&format!("nir={NIR}")).await;
    assert_eq!(
        total(&seen_by_reader),
        2,
        "sensitive mail for agent_sensitive"
    );
    assert_eq!(total(&app.search("sensitive=true").await), 1);
    assert_eq!(
        total(
            &app.search_as(&other_agent, &format!("min_seq={seq}&nir={NIR}"))
                .await
        ),
        1
    );

    for role in [Role::Scanner, Role::Outbound, Role::Auditor, Role::Admin] {
        let token = app
            .issue_token(
                "default",
                role,
                Some("SCAN-LYON").filter(|_| matches!(role, Role::Scanner | Role::Outbound)),
            )
            .await;
        assert_eq!(
            app.get_as(&token, "/api/v1/search?q=x").await.status(),
            403,
            "{role:?}"
        );
    }
}

#[tokio::test]
async fn read_your_writes_and_near_real_time() {
    let app = spawn_app().await;
    let created = app.archive_ok(&metadata(), pdf_part("just archived")).await;
    let seq = created["seq"].as_i64().unwrap();
    let found = app
        .search_as(&app.reader, &format!("min_seq={seq}&q=archived"))
        .await;
    assert!(found["indexed_seq"].as_i64().unwrap() >= seq);

    // Without min_seq the document appears by itself shortly after (the writer commits on a
    // short timer); this only checks that it does, not how fast: the benchmark measures that.
    let mut metadata = metadata();
    metadata["document_type"] = json!("NOUVEAU");
    app.archive_ok(&metadata, pdf_part("appears by itself"))
        .await;
    let mut appeared = false;
    for _ in 0..100 {
        if total(&app.search_as(&app.reader, "document_type=NOUVEAU").await) == 1 {
            appeared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(appeared);

    // A change that does not exist would never be reached: refused at once, named, instead
    // of a 503 after the wait (no server error for a client's mistake).
    let started = std::time::Instant::now();
    let response = app.get("/api/v1/search?min_seq=999999").await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        error_fields(&response.json::<Value>().await.unwrap()),
        ["min_seq"]
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

fn hex_cursor(json: &str) -> String {
    hex::encode(json.as_bytes())
}

#[tokio::test]
async fn bad_criteria_are_named() {
    let app = spawn_app().await;
    let cases: [(&str, &str); 8] = [
        ("nir=185057800608490", "nir"),
        ("siren=123", "siren"),
        ("from=05/03/2024", "from"),
        ("limit=500", "limit"),
        ("sort=size", "sort"),
        ("cursor=nonsense", "cursor"),
        ("direction=sideways", "direction"),
        ("colour=red", "colour"),
        // Hostile input is refused before it reaches the query parser or the collector.
    ];
    let nested = format!("q={}", "(".repeat(800));
    let deep = format!(
        "sort=relevance&cursor={}",
        hex_cursor(r#"{"s":"relevance","o":1099511627776}"#)
    );
    let hostile = [(nested.as_str(), "q"), (deep.as_str(), "cursor")];
    for (query, field) in cases.into_iter().chain(hostile) {
        let response = app.get(&format!("/api/v1/search?{query}")).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"]["field"],
            field,
            "{query}"
        );
    }
}

#[tokio::test]
async fn searches_are_audited_with_identifiers_hashed() {
    let app = spawn_app().await;
    corpus(&app).await;
    app.search(&format!("nir={NIR}&document_type=RECLAMATION"))
        .await;
    assert_eq!(app.count_audit("search").await, 1);
    assert_eq!(
        app.count_rows(&format!("audit_log WHERE details LIKE '%{NIR}%'"))
            .await,
        0
    );
    assert_eq!(
        app.count_rows("audit_log WHERE action = 'search' AND details LIKE '%RECLAMATION%'")
            .await,
        1
    );

    // "Who searched for this person": the search entry is found by the NIR, typed differently.
    let auditor = app.issue_token("default", Role::Auditor, None).await;
    let trail = app
        .get_as(
            &auditor,
            "/api/v1/audit?nir=1%2085%2005%2078%20006%20084%2091&action=search",
        )
        .await;
    let trail: Value = trail.json().await.unwrap();
    assert_eq!(trail["entries"].as_array().unwrap().len(), 1);
    assert_eq!(trail["entries"][0]["details"]["total"], 1);
}

#[tokio::test]
async fn earlier_documents_are_found_by_references_their_party_gained_later() {
    let app = spawn_app().await;
    let mut first = metadata();
    first["individuals"] = json!([{"client_number": "C-LATER"}]);
    first["companies"] = json!([]);
    let first = app.archive_ok(&first, pdf_part("client number only")).await;
    assert_eq!(total(&app.search(&format!("nir={NIR}")).await), 0);

    let mut second = metadata();
    second["individuals"] =
        json!([{"client_number": "C-LATER", "nir": NIR, "last_name": "Bernard"}]);
    second["companies"] = json!([]);
    app.archive_ok(&second, pdf_part("now with the NIR")).await;
    let by_nir = app.search(&format!("nir={NIR}&sort=archived_asc")).await;
    assert_eq!(
        ids(&by_nir)[0],
        id_of(&first),
        "the first letter is found by the NIR learned later"
    );
    assert_eq!(total(&app.search("name=bernard").await), 2);
}

// Multi-threaded: the `ged search` process calls back into this test's server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_command_prints_a_table_or_json() {
    let app = spawn_app().await;
    corpus(&app).await;
    app.search("").await; // the index holds everything
    let output = ged_async(&[
        "search",
        "--server",
        &app.address,
        "--token",
        &app.reader,
        "--name",
        "Lefèvre",
        "--document-type",
        "RECLAMATION",
    ])
    .await;
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        table.contains("Réclamation sur la facture d'eau"),
        "{table}"
    );
    assert!(table.contains("2 of 2 documents"), "{table}");
    assert!(table.contains("Anne LEFEVRE"), "{table}");

    let output = ged_async(&[
        "search",
        "--server",
        &app.address,
        "--token",
        &app.reader,
        "--siren",
        SIREN,
        "--json",
    ])
    .await;
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["total"], 2);

    let output = ged_async(&[
        "search",
        "--server",
        &app.address,
        "--token",
        &app.reader,
        "--nir",
        "123",
    ])
    .await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("field nir"));

    // Without --server, the configured listen address is asked.
    let listen = app.address.trim_start_matches("http://").to_string();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ged"))
        .args(["search", "--token", &app.reader, "--siren", SIREN])
        .env("GED_LISTEN", &listen)
        .env_remove("GED_SERVER")
        .env_remove("GED_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("2 of 2 documents"));
}

/// The index reads documents in bulk as JSON the database writes: quotes, backslashes, line
/// breaks, accents and flags must come back as the document itself shows them.
#[tokio::test]
async fn a_hit_shows_what_the_document_shows_whatever_its_characters() {
    let app = spawn_app().await;
    let mut first = metadata();
    first["title"] = json!("Lettre \"urgente\" \\ n°5 —\nété ✉");
    first["sensitive"] = json!(true);
    first["recipient"] = json!("Service \"Contentieux\"");
    first["individuals"] = json!([{"nir": NIR, "client_number": "b-2",
        "last_name": "O'Brien \"Jr\" \\", "first_name": "Zoé"}]);
    first["companies"] = json!([{"siret": SIRET, "name": "Eaux \"de\" Lyon \\ Ω"}]);
    let first = app.archive_ok(&first, pdf_part("characters")).await;
    // The person gains a second client number, which sorts before "b-2" as bytes.
    let mut second = metadata();
    second["individuals"] = json!([{"nir": NIR, "client_number": "Z-9"}]);
    second["companies"] = json!([]);
    app.archive_ok(&second, pdf_part("second number")).await;

    let found = app.search(&format!("nir={NIR}&sort=archived_asc")).await;
    assert_eq!(total(&found), 2);
    let hit = &found["hits"][0];
    assert_eq!(hit["id"], first["id"]);
    let response = app
        .get(&format!("/api/v1/documents/{}", id_of(&first)))
        .await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    for field in [
        "title",
        "sensitive",
        "document_type",
        "document_date",
        "direction",
        "channel",
        "source",
        "individuals",
        "companies",
    ] {
        assert_eq!(hit[field], document[field], "{field}");
    }
    assert_eq!(hit["title"], "Lettre \"urgente\" \\ n°5 —\nété ✉");
    assert_eq!(hit["sensitive"], true);
    assert_eq!(
        hit["individuals"][0]["client_numbers"],
        json!(["Z-9", "b-2"])
    );
    assert_eq!(hit["individuals"][0]["last_name"], "O'Brien \"Jr\" \\");
    assert_eq!(hit["companies"][0]["name"], "Eaux \"de\" Lyon \\ Ω");
    assert_eq!(
        total(&app.search("recipient=contentieux&name=o%27brien").await),
        1
    );
}
