//! "Recherche individu" and "Recherche entreprise": one form each, the same results, facets,
//! sorting and paging. The URL holds the query, so a search can be bookmarked and shared.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::{error_page, format, html_response, layout};
use crate::access::Permission;
use crate::access::session::Session;
use crate::archive::search::SearchError;
use crate::http::AppState;
use crate::validation::FieldError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Screen {
    Individual,
    Company,
}

/// (parameter, label, input type, help) of the screen's own criteria.
type Field = (&'static str, &'static str, &'static str, &'static str);

const INDIVIDUAL_FIELDS: &[Field] = &[
    (
        "nir",
        "NIR",
        "text",
        "13 chiffres et la clé, espaces permis",
    ),
    ("client_number", "Numéro client / adhérent", "text", ""),
    (
        "name",
        "Nom et/ou prénom",
        "text",
        "majuscules et accents indifférents",
    ),
    (
        "birth_date",
        "Date de naissance",
        "date",
        "sépare les homonymes",
    ),
];
const COMPANY_FIELDS: &[Field] = &[
    (
        "siren",
        "SIREN",
        "text",
        "9 chiffres : trouve aussi les SIRET",
    ),
    ("siret", "SIRET", "text", "14 chiffres"),
    ("company_number", "Numéro d'entreprise", "text", ""),
    ("company_name", "Raison sociale", "text", ""),
];
const FILTERS: &[Field] = &[
    (
        "q",
        "Mots du document",
        "search",
        "titre, texte du courrier, de l'OCR ou du courriel",
    ),
    ("agent", "Identifiant gestionnaire", "text", ""),
    ("source", "Source", "text", "ex. SCAN-LYON"),
    (
        "document_type",
        "Type de document",
        "text",
        "ex. RECLAMATION",
    ),
    ("dossier", "Dossier", "text", "référence"),
    ("from", "Du", "date", "date du document"),
    ("to", "Au", "date", "inclus"),
];

pub async fn individual(
    State(state): State<Arc<AppState>>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    page(&state, &session, Screen::Individual, query).await
}

pub async fn company(
    State(state): State<Arc<AppState>>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    page(&state, &session, Screen::Company, query).await
}

async fn page(
    state: &AppState,
    session: &Session,
    screen: Screen,
    query: Option<String>,
) -> Response {
    let scope = match session.caller.require(Permission::Search) {
        Ok(scope) => scope,
        Err(error) => return error_page(Some(session), error.into()),
    };
    let (title, fields, path) = match screen {
        Screen::Individual => (
            "Recherche individu",
            INDIVIDUAL_FIELDS,
            "/ui/recherche/individu",
        ),
        Screen::Company => (
            "Recherche entreprise",
            COMPANY_FIELDS,
            "/ui/recherche/entreprise",
        ),
    };
    // Only the form's own criteria, its sort and its page reach the search.
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, value)| {
                !value.trim().is_empty()
                    && (fields.iter().chain(FILTERS).any(|field| field.0 == key)
                        || matches!(key.as_str(), "direction" | "sort" | "cursor"))
            })
            .collect();
    let asked = pairs
        .iter()
        .any(|(key, _)| !matches!(key.as_str(), "sort" | "cursor" | "direction"));
    let (results, problems) = if asked {
        match state.archive.search(&state.index, &scope, &pairs).await {
            Ok(results) => (Some(results), Vec::new()),
            Err(SearchError::Invalid(errors)) => (None, errors.0),
            Err(error) => return error_page(Some(session), error.into()),
        }
    } else {
        (None, Vec::new())
    };
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let body = html! {
        form.criteria method="get" action=(path) role="search" {
            @for field in fields.iter().chain(FILTERS) {
                (input(field, value(field.0), &problems))
            }
            div {
                label for="direction" { "Sens" }
                select id="direction" name="direction" {
                    option value="" { "Tous" }
                    option value="inbound" selected[value("direction") == "inbound"] { "Entrant" }
                    option value="outbound" selected[value("direction") == "outbound"] { "Sortant" }
                }
            }
            div {
                label for="sort" { "Tri" }
                select id="sort" name="sort" {
                    @for (sort, label) in [("date_desc", "Date du document, récent d'abord"), ("date_asc", "Date du document, ancien d'abord"), ("archived_desc", "Date d'archivage, récent d'abord")] {
                        option value=(sort) selected[value("sort") == sort] { (label) }
                    }
                }
            }
            div { button type="submit" { "Rechercher" } }
        }
        @if !problems.is_empty() {
            div.erreur role="alert" {
                p { "La recherche n'a pas pu être faite :" }
                ul { @for problem in &problems { li { (label_of(&problem.field)) " : " (problem.message) } } }
            }
        }
        @if let Some(results) = &results {
            (results_section(path, &pairs, results))
        }
        script src="/ui/nir.js" {}
    };
    html_response(StatusCode::OK, layout(title, Some(session), body))
}

fn label_of(field: &str) -> &str {
    INDIVIDUAL_FIELDS
        .iter()
        .chain(COMPANY_FIELDS)
        .chain(FILTERS)
        .find(|f| f.0 == field)
        .map_or(field, |f| f.1)
}

fn input(field: &Field, value: &str, problems: &[FieldError]) -> Markup {
    let (name, label, kind, help) = *field;
    let wrong = problems.iter().any(|p| p.field == name);
    let help_id = format!("{name}-aide");
    html! {
        div {
            label for=(name) { (label) }
            input id=(name) name=(name) type=(kind) value=(value)
                aria-describedby=(help_id) aria-invalid=(if wrong { "true" } else { "false" });
            // Announced as it changes: the NIR check speaks as the agent types.
            div.aide id=(help_id) aria-live="polite" { (help) }
        }
    }
}

/// The current query with `changes` applied (a key set to "" is removed), as a URL.
fn with(path: &str, pairs: &[(String, String)], changes: &[(&str, &str)]) -> String {
    let mut kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(key, _)| key != "cursor" && !changes.iter().any(|(k, _)| k == key))
        .cloned()
        .collect();
    for (key, value) in changes {
        if !value.is_empty() {
            kept.push((key.to_string(), value.to_string()));
        }
    }
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(&kept).unwrap_or_default()
    )
}

fn results_section(
    path: &str,
    pairs: &[(String, String)],
    results: &crate::index::SearchResults,
) -> Markup {
    let facets = &results.facets;
    html! {
        h2 { (results.total) " document" @if results.total > 1 { "s" } }
        section.facettes aria-label="Affiner la recherche" {
            @for (title, key, values) in [("Type", "document_type", &facets.document_type), ("Source", "source", &facets.source), ("Sens", "direction", &facets.direction)] {
                div {
                    strong { (title) }
                    ul { @for facet in values.iter().take(10) {
                        li { a href=(with(path, pairs, &[(key, &facet.value)])) {
                            (if key == "direction" { format::direction(&facet.value).to_string() } else { facet.value.clone() })
                        } " (" (facet.count) ")" }
                    } }
                }
            }
            div {
                strong { "Année" }
                ul { @for facet in facets.year.iter().take(10) {
                    @let from = format!("{}-01-01", facet.value);
                    @let to = format!("{}-12-31", facet.value);
                    li { a href=(with(path, pairs, &[("from", &from), ("to", &to)])) { (facet.value) } " (" (facet.count) ")" }
                } }
            }
        }
        @if !results.hits.is_empty() {
            table {
                caption.skip { "Documents trouvés" }
                thead { tr { th scope="col" { "Date" } th scope="col" { "Type" } th scope="col" { "Sens" } th scope="col" { "Titre" } th scope="col" { "Parties" } th scope="col" { "Dossiers" } } }
                tbody { @for hit in &results.hits { (hit_row(hit)) } }
            }
        }
        @if let Some(cursor) = &results.next_cursor {
            p { a href=(with(path, pairs, &[("cursor", cursor)])) rel="next" { "Page suivante" } }
        }
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

fn hit_row(hit: &Value) -> Markup {
    let id = text(hit, "id");
    html! {
        tr {
            td { (format::date(text(hit, "document_date"))) }
            td { (text(hit, "document_type")) }
            td { (format::direction(text(hit, "direction"))) }
            td {
                a href=(format!("/ui/documents/{}", format::segment(id))) { (hit["title"].as_str().unwrap_or("(sans titre)")) }
                @if hit["extract"].is_object() { (extract(&hit["extract"])) }
            }
            td { (parties(&hit["individuals"], &hit["companies"])) }
            td { @for dossier in hit["dossiers"].as_array().into_iter().flatten() {
                a href=(format!("/ui/dossiers/{}", format::segment(text(dossier, "reference")))) { (text(dossier, "reference")) }
                " (" (format::dossier_status(text(dossier, "status"))) ") "
            } }
        }
    }
}

/// The passage of a hit's text where the searched words occur, the words marked.
fn extract(extract: &Value) -> Markup {
    let chars: Vec<char> = text(extract, "text").chars().collect();
    let mut pieces = Vec::new();
    let mut at = 0;
    for range in extract["highlights"].as_array().into_iter().flatten() {
        let (Some(start), Some(end)) = (range[0].as_u64(), range[1].as_u64()) else {
            continue;
        };
        let (start, end) = (start as usize, (end as usize).min(chars.len()));
        if start < at || start >= end {
            continue;
        }
        pieces.push((false, chars[at..start].iter().collect::<String>()));
        pieces.push((true, chars[start..end].iter().collect::<String>()));
        at = end;
    }
    pieces.push((
        false,
        chars[at.min(chars.len())..].iter().collect::<String>(),
    ));
    html! {
        p.extrait { "… " @for (marked, piece) in pieces { @if marked { mark { (piece) } } @else { (piece) } } " …" }
    }
}

/// A document's parties as links to their client pages.
pub fn parties(individuals: &Value, companies: &Value) -> Markup {
    html! {
        @for person in individuals.as_array().into_iter().flatten() {
            @let name = [text(person, "last_name"), text(person, "first_name")].join(" ");
            @let reference = person["nir"].as_str().or(person["client_numbers"][0].as_str()).unwrap_or_default();
            div { a href=(format!("/ui/individus/{}", format::segment(reference))) { (name.trim()) } " "
                @if let Some(nir) = person["nir"].as_str() { span { "(" (format::nir(nir)) ")" } } }
        }
        @for company in companies.as_array().into_iter().flatten() {
            @let reference = company["siret"].as_str().or(company["siren"].as_str()).unwrap_or_default();
            div { a href=(format!("/ui/entreprises/{}", format::segment(reference))) { (company["name"].as_str().unwrap_or("Entreprise")) } " "
                span { "(" (format::siren_or_siret(reference)) ")" } }
        }
    }
}
