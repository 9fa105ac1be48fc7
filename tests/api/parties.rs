//! Parties are records of their own, shared by the documents that concern them.

use serde_json::{Value, json};

use crate::helpers::*;

fn with_parties(individuals: Value, companies: Value) -> Value {
    let mut metadata = metadata();
    metadata["individuals"] = individuals;
    metadata["companies"] = companies;
    metadata
}

/// The document of an archiving answer as a reader sees it: its parties' records, where the
/// answer shows them as sent.
async fn read(app: &TestApp, answer: &Value) -> Value {
    let id = answer["id"].as_str().unwrap();
    let response = app.get(&format!("/api/v1/documents/{id}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn documents_about_the_same_person_share_one_party() {
    let app = spawn_app().await;
    let first = app
        .archive_ok(
            &with_parties(json!([{"client_number": "C-7"}]), json!([])),
            pdf_part("a"),
        )
        .await;
    // Later mail brings the NIR beside the client number: the same party, now with its NIR.
    let second = app
        .archive_ok(
            &with_parties(
                json!([{"client_number": "C-7", "nir": NIR, "last_name": "Martin"}]),
                json!([]),
            ),
            pdf_part("b"),
        )
        .await;
    // And mail with the NIR alone finds that party too.
    let third = app
        .archive_ok(
            &with_parties(json!([{"nir": NIR}]), json!([])),
            pdf_part("c"),
        )
        .await;

    let party = first["individuals"][0]["party_id"].clone();
    assert_eq!(second["individuals"][0]["party_id"], party);
    assert_eq!(third["individuals"][0]["party_id"], party);
    // The answer shows the party as sent; a read, the record it joined.
    assert_eq!(third["individuals"][0]["client_numbers"], json!([]));
    let third = read(&app, &third).await;
    assert_eq!(third["individuals"][0]["client_numbers"], json!(["C-7"]));
    assert_eq!(third["individuals"][0]["last_name"], "Martin");
    assert_eq!(app.count_rows("parties").await, 1);
}

#[tokio::test]
async fn a_known_party_keeps_the_names_it_has_and_learns_those_it_lacked() {
    let app = spawn_app().await;
    let first = app
        .archive_ok(
            &with_parties(
                json!([{"client_number": "C-8", "last_name": "Martin"}]),
                json!([]),
            ),
            pdf_part("a"),
        )
        .await;
    // Later mail spells the last name otherwise and brings a first name: the recorded last
    // name stays (the first writer wins), the first name is learned.
    let second = app
        .archive_ok(
            &with_parties(
                json!([{"client_number": "C-8", "last_name": "Dupont", "first_name": "Anne"}]),
                json!([]),
            ),
            pdf_part("b"),
        )
        .await;
    assert_eq!(
        second["individuals"][0]["party_id"],
        first["individuals"][0]["party_id"]
    );
    let second = read(&app, &second).await;
    assert_eq!(second["individuals"][0]["last_name"], "Martin");
    assert_eq!(second["individuals"][0]["first_name"], "Anne");
    // The first document is found by the name learned after it was archived.
    let found = app.search("name=Anne").await;
    assert_eq!(found["total"], 2, "{found}");
    let third = app
        .archive_ok(
            &with_parties(
                json!([{"client_number": "C-8", "last_name": "Martin"}]),
                json!([]),
            ),
            pdf_part("c"),
        )
        .await;
    assert_eq!(
        read(&app, &third).await["individuals"][0]["first_name"],
        "Anne"
    );
    assert_eq!(app.count_rows("parties").await, 1);
}

#[tokio::test]
async fn a_new_party_is_found_by_each_of_the_references_it_was_created_with() {
    let app = spawn_app().await;
    // Two new parties, each with several references, written in one document.
    let first = app
        .archive_ok(
            &with_parties(
                json!([{"nir": NIR, "client_number": "C-8"}]),
                json!([{"siren": SIREN, "company_number": "E-8"}]),
            ),
            pdf_part("a"),
        )
        .await;
    let by_client_number = app
        .archive_ok(
            &with_parties(json!([{"client_number": "C-8"}]), json!([])),
            pdf_part("b"),
        )
        .await;
    let by_company_number = app
        .archive_ok(
            &with_parties(json!([]), json!([{"company_number": "E-8"}])),
            pdf_part("c"),
        )
        .await;
    assert_eq!(
        by_client_number["individuals"][0]["party_id"],
        first["individuals"][0]["party_id"]
    );
    assert_eq!(
        read(&app, &by_client_number).await["individuals"][0]["nir"],
        NIR
    );
    assert_eq!(
        by_company_number["companies"][0]["party_id"],
        first["companies"][0]["party_id"]
    );
    assert_eq!(
        read(&app, &by_company_number).await["companies"][0]["siren"],
        SIREN
    );
    assert_eq!(app.count_rows("parties").await, 2);
}

#[tokio::test]
async fn a_document_may_concern_several_parties() {
    let app = spawn_app().await;
    let created = app
        .archive_ok(
            &with_parties(
                json!([{"nir": NIR, "role": "sender"}, {"nir": NIR_CORSICA, "role": "beneficiary"}]),
                json!([{"siren": SIREN}, {"siret": SIRET_OTHER_COMPANY}]),
            ),
            pdf_part("several"),
        )
        .await;
    assert_eq!(created["individuals"][1]["nir"], NIR_CORSICA);
    assert_eq!(created["individuals"][1]["role"], "beneficiary");
    assert_eq!(created["companies"][1]["siren"], "552032534");
    assert_eq!(app.count_rows("parties").await, 4);
}

#[tokio::test]
async fn references_of_two_different_parties_in_one_entry_are_refused_whole() {
    let app = spawn_app().await;
    app.archive_ok(
        &with_parties(json!([{"nir": NIR, "client_number": "C-1"}]), json!([])),
        pdf_part("a"),
    )
    .await;
    app.archive_ok(
        &with_parties(json!([{"nir": NIR_2, "client_number": "C-2"}]), json!([])),
        pdf_part("b"),
    )
    .await;
    let documents_before = app.count_rows("documents").await;

    let response = app
        .archive(
            &with_parties(json!([{"nir": NIR, "client_number": "C-2"}]), json!([])),
            pdf_part("c"),
        )
        .await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "individuals[0]");

    // A client number known for one person, given with another NIR.
    let response = app
        .archive(
            &with_parties(
                json!([{"nir": NIR_CORSICA, "client_number": "C-1"}]),
                json!([]),
            ),
            pdf_part("d"),
        )
        .await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "individuals[0].nir");

    assert_eq!(
        app.count_rows("documents").await,
        documents_before,
        "nothing half-written"
    );
    assert_eq!(
        app.count_rows("parties").await,
        2,
        "no party created by a refused document"
    );
}

#[tokio::test]
async fn establishments_of_one_company_share_its_party() {
    let app = spawn_app().await;
    let by_siret = app
        .archive_ok(
            &with_parties(json!([]), json!([{"siret": SIRET}])),
            pdf_part("a"),
        )
        .await;
    let by_siren = app
        .archive_ok(
            &with_parties(
                json!([]),
                json!([{"siren": SIREN, "company_number": "E-9"}]),
            ),
            pdf_part("b"),
        )
        .await;
    assert_eq!(
        by_siret["companies"][0]["party_id"],
        by_siren["companies"][0]["party_id"]
    );
    assert_eq!(by_siren["companies"][0]["company_numbers"], json!(["E-9"]));
    assert_eq!(by_siret["companies"][0]["siret"], SIRET);
}
