//! `GET /api/v1/search`: the agents' search, audited, within the caller's scope.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::search::{Cursor, Extract, SearchRequest, SearchResults, Sort};
use crate::access::{Caller, Permission, Scope};
use crate::dates::{parse_date, parse_instant_or_date};
use crate::documents::model::{Channel, Direction, DocumentId};
use crate::dossiers::DossierStatus;
use crate::http::error::ErrorBody;
use crate::http::formats::{CalendarDate, DateOrInstant};
use crate::http::{ApiError, AppState};
use crate::identifiers::{Nir, Siren, Siret};
use crate::validation::ValidationErrors;

pub const DEFAULT_LIMIT: usize = 20;
/// The deepest a relevance-ordered result list can be paged (tantivy keeps offset + limit hits).
pub const MAX_RELEVANCE_DEPTH: usize = 10_000;
/// Longest `q` accepted, and deepest parenthesis nesting: tantivy's query parser recurses on
/// parentheses, and a few hundred would overflow a thread's stack.
const MAX_QUERY_LENGTH: usize = 500;
const MAX_QUERY_NESTING: usize = 16;
pub const MAX_LIMIT: usize = 200;
/// How long `min_seq` may hold a search while the index catches up.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

/// Criteria naming a person or company: hashed before they reach the audit log.
const IDENTIFYING: &[&str] = &[
    "nir",
    "client_number",
    "name",
    "birth_date",
    "siren",
    "siret",
    "company_number",
    "company_name",
    "recipient",
    "q",
];

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(search))
}

/// Searches the tenant's documents; every criterion given must hold. Multi-valued criteria take
/// several values (repeat the parameter or separate with commas), any of which may match.
#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(
        ("nir" = Option<String>, Query, description = "A person's NIR (spaces allowed, key checked)"),
        ("client_number" = Option<String>, Query),
        ("name" = Option<String>, Query, description = "Last and/or first names, every word, case and accents ignored"),
        ("birth_date" = Option<CalendarDate>, Query),
        ("siren" = Option<String>, Query, description = "Finds documents filed under any SIRET of it"),
        ("siret" = Option<String>, Query),
        ("company_number" = Option<String>, Query),
        ("company_name" = Option<String>, Query),
        ("source" = Option<String>, Query, description = "One or several"),
        ("document_type" = Option<String>, Query, description = "One or several"),
        ("direction" = Option<String>, Query, description = "inbound, outbound", pattern = "^\\s*(?:(?:inbound|outbound)\\s*)?(?:,\\s*(?:(?:inbound|outbound)\\s*)?)*$"),
        ("channel" = Option<String>, Query, description = "postal, email, fax, web, counter", pattern = "^\\s*(?:(?:postal|email|fax|web|counter)\\s*)?(?:,\\s*(?:(?:postal|email|fax|web|counter)\\s*)?)*$"),
        ("agent" = Option<String>, Query, description = "One or several"),
        ("batch" = Option<String>, Query, description = "A scanning centre's batch_ref; one or several"),
        ("dossier" = Option<String>, Query, description = "A dossier reference; one or several"),
        ("dossier_status" = Option<String>, Query, description = "open, closed, cancelled: documents in a dossier of that status", pattern = "^\\s*(?:(?:open|closed|cancelled)\\s*)?(?:,\\s*(?:(?:open|closed|cancelled)\\s*)?)*$"),
        ("recipient" = Option<String>, Query),
        ("sensitive" = Option<bool>, Query),
        ("from" = Option<CalendarDate>, Query, description = "Document date from, inclusive"),
        ("to" = Option<CalendarDate>, Query, description = "Document date to, inclusive"),
        ("archived_from" = Option<DateOrInstant>, Query),
        ("archived_to" = Option<DateOrInstant>, Query, description = "Exclusive"),
        ("q" = Option<String>, Query, max_length = 500, description = "Words in titles and text, French analysis; parentheses nested 16 deep at most"),
        ("sort" = Option<Sort>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Default 20"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
        ("min_seq" = Option<i64>, Query, minimum = 0, description = "Wait (up to 5 s) until the index has applied this change"),
    ),
    responses(
        (status = 200, body = SearchResults),
        (status = 422, description = "Invalid criteria, every one named; a min_seq past the archive's latest change", body = ErrorBody),
        (status = 503, description = "min_seq not reached in time", body = ErrorBody),
    ))]
async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchResults>, ApiError> {
    let scope = caller.require(Permission::Search)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
            .map_err(|e| ApiError::BadRequest(format!("the query string cannot be read: {e}")))?;
    Ok(Json(run_search(&state, &scope, &pairs).await?))
}

/// Validates the criteria, waits for `min_seq`, searches within the scope and records the
/// search in the audit trail (identifying criteria hashed): the API's and the web UI's search.
pub async fn run_search(
    state: &AppState,
    scope: &Scope,
    pairs: &[(String, String)],
) -> Result<SearchResults, ApiError> {
    let (request, min_seq) = parse_search(pairs).map_err(ApiError::Invalid)?;
    // A change the catalog has not made yet is no change a write answered with: refused at
    // once rather than waited for in vain.
    if let Some(seq) = min_seq
        && seq > state.archive.catalog.latest_seq().await?
    {
        return Err(ApiError::invalid(
            "min_seq",
            "is past the archive's latest change: pass the seq a write answered with",
        ));
    }
    if let Some(seq) = min_seq
        && !state.index.wait_for(seq, READ_YOUR_WRITES_WAIT).await
    {
        return Err(ApiError::IndexBehind {
            wanted: seq,
            indexed: state.index.indexed_seq(),
        });
    }
    let index = state.index.clone();
    let search_scope = scope.clone();
    let q = request.q.clone();
    let mut results = tokio::task::spawn_blocking(move || index.search(&search_scope, &request))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(e.into()))?;
    // Extracts show document text: only to roles that may read content.
    if let Some(q) = q
        && scope.allows(Permission::ReadContent)
    {
        add_extracts(state, scope, &q, &mut results).await?;
    }

    let mut criteria = Map::new();
    for (key, value) in pairs {
        let recorded = if IDENTIFYING.contains(&key.as_str()) {
            Value::String(state.archive.identifiers.hash(key, &canonical(key, value)))
        } else {
            Value::String(value.clone())
        };
        // A repeated criterion (document_type=A&document_type=B) is recorded whole.
        match criteria.get_mut(key) {
            Some(Value::Array(values)) => values.push(recorded),
            Some(previous) => *previous = Value::Array(vec![previous.take(), recorded]),
            None => {
                criteria.insert(key.clone(), recorded);
            }
        }
    }
    let details = json!({ "criteria": criteria, "total": results.total });
    state
        .archive
        .catalog
        .record_access(scope, "search", None, &details)
        .await?;
    Ok(results)
}

/// Extracts are taken from the start of long texts: a page of hits never loads whole books.
const EXTRACT_SOURCE_CHARS: u32 = 20_000;

/// Gives each hit found by its words the passage of its text where they occur (`extract`).
/// The texts come from the catalog: the index does not store them, which keeps it small.
async fn add_extracts(
    state: &AppState,
    scope: &Scope,
    q: &str,
    results: &mut SearchResults,
) -> Result<(), ApiError> {
    let ids: Vec<DocumentId> = results
        .hits
        .iter()
        .filter_map(|hit| hit.get("id")?.as_str().and_then(DocumentId::parse))
        .collect();
    let texts = state
        .archive
        .catalog
        .document_texts(scope, &ids, EXTRACT_SOURCE_CHARS)
        .await?;
    if texts.is_empty() {
        return Ok(());
    }
    let index = state.index.clone();
    let q = q.to_string();
    let extracts = tokio::task::spawn_blocking(move || index.extracts(&q, &texts))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(e.into()))?;
    let extracts: HashMap<String, Extract> = extracts
        .into_iter()
        .map(|(id, extract)| (id.to_string(), extract))
        .collect();
    for hit in &mut results.hits {
        let id = hit.get("id").and_then(Value::as_str).unwrap_or_default();
        if let Some(extract) = extracts.get(id) {
            hit["extract"] =
                serde_json::to_value(extract).map_err(|e| ApiError::Internal(e.into()))?;
        }
    }
    Ok(())
}

/// The form of an identifying criterion that is hashed: the canonical identifier when it is
/// one (so a search for "1 85 05…" and for "18505…" hash alike), the trimmed lower-case text
/// otherwise.
fn canonical(key: &str, value: &str) -> String {
    match key {
        "nir" => Nir::parse(value)
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        "siren" => Siren::parse(value)
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        "siret" => Siret::parse(value)
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        _ => value.trim().to_lowercase(),
    }
}

/// Turns query-string pairs into a validated request, naming every field at fault.
pub fn parse_search(
    pairs: &[(String, String)],
) -> Result<(SearchRequest, Option<i64>), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut request = SearchRequest {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    let mut min_seq = None;
    let mut cursor_text = None;
    for (key, raw) in pairs {
        let value = raw.trim();
        if value.is_empty() {
            continue;
        }
        let text = || Some(value.to_string());
        let list = |values: &mut Vec<String>| {
            values.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            )
        };
        match key.as_str() {
            "nir" => request.nir = Nir::parse(value).map_err(|e| errors.push("nir", e.0)).ok(),
            "client_number" => request.client_number = text(),
            "name" => request.name = text(),
            "birth_date" => {
                request.birth_date = parse_date(value)
                    .map_err(|e| errors.push("birth_date", e))
                    .ok()
            }
            "siren" => {
                request.siren = Siren::parse(value)
                    .map_err(|e| errors.push("siren", e.0))
                    .ok()
            }
            "siret" => {
                request.siret = Siret::parse(value)
                    .map_err(|e| errors.push("siret", e.0))
                    .ok()
            }
            "company_number" => request.company_number = text(),
            "company_name" => request.company_name = text(),
            "source" => list(&mut request.sources),
            "document_type" => list(&mut request.document_types),
            "direction" => list(&mut request.directions),
            "channel" => list(&mut request.channels),
            "agent" => list(&mut request.agents),
            "batch" => list(&mut request.batches),
            "dossier" => list(&mut request.dossiers),
            "dossier_status" => list(&mut request.dossier_statuses),
            "recipient" => request.recipient = text(),
            "sensitive" => match value {
                "true" => request.sensitive = Some(true),
                "false" => request.sensitive = Some(false),
                _ => errors.push("sensitive", "must be true or false"),
            },
            "from" => request.from = parse_date(value).map_err(|e| errors.push("from", e)).ok(),
            "to" => request.to = parse_date(value).map_err(|e| errors.push("to", e)).ok(),
            "archived_from" => {
                request.archived_from = parse_instant_or_date(value)
                    .map_err(|e| errors.push("archived_from", e))
                    .ok()
            }
            "archived_to" => {
                request.archived_to = parse_instant_or_date(value)
                    .map_err(|e| errors.push("archived_to", e))
                    .ok()
            }
            "q" => {
                let depth = value
                    .chars()
                    .fold((0usize, 0usize), |(depth, deepest), c| match c {
                        '(' => (depth + 1, deepest.max(depth + 1)),
                        ')' => (depth.saturating_sub(1), deepest),
                        _ => (depth, deepest),
                    });
                if value.chars().count() > MAX_QUERY_LENGTH {
                    errors.push("q", format!("is longer than {MAX_QUERY_LENGTH} characters"));
                } else if depth.1 > MAX_QUERY_NESTING {
                    errors.push(
                        "q",
                        format!("nests parentheses deeper than {MAX_QUERY_NESTING}"),
                    );
                } else {
                    request.q = text();
                }
            }
            "sort" => match serde_json::from_value::<Sort>(Value::String(value.to_string())) {
                Ok(sort) => request.sort = sort,
                Err(_) => errors.push(
                    "sort",
                    "must be date_desc, date_asc, archived_desc, archived_asc or relevance",
                ),
            },
            "limit" => match value.parse::<usize>() {
                Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => request.limit = limit,
                _ => errors.push("limit", format!("must be a number from 1 to {MAX_LIMIT}")),
            },
            "cursor" => cursor_text = Some(value.to_string()),
            "min_seq" => match value.parse::<i64>() {
                Ok(seq) if seq >= 0 => min_seq = Some(seq),
                _ => errors.push("min_seq", "must be a change sequence number"),
            },
            other => errors.push(other, "is not a search criterion"),
        }
    }
    if request
        .directions
        .iter()
        .any(|d| Direction::parse(d).is_none())
    {
        errors.push("direction", "must be inbound or outbound");
    }
    if request
        .dossier_statuses
        .iter()
        .any(|s| DossierStatus::parse(s).is_none())
    {
        errors.push("dossier_status", "must be open, closed or cancelled");
    }
    if request.channels.iter().any(|c| Channel::parse(c).is_none()) {
        errors.push("channel", "must be postal, email, fax, web or counter");
    }
    if let Some(text) = cursor_text {
        match Cursor::decode(&text) {
            Some(cursor)
                if cursor.offset.unwrap_or(0).saturating_add(request.limit)
                    > MAX_RELEVANCE_DEPTH =>
            {
                errors.push(
                    "cursor",
                    format!("goes past the first {MAX_RELEVANCE_DEPTH} results: narrow the search"),
                )
            }
            Some(cursor) if cursor.sort == request.sort => request.cursor = Some(cursor),
            Some(_) => errors.push("cursor", "was made for another sort order"),
            None => errors.push("cursor", "is not a cursor this archive issued"),
        }
    }
    errors.into_result((request, min_seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(query).unwrap()
    }

    #[test]
    fn multi_valued_criteria_accept_repeats_and_commas() {
        let (request, _) =
            parse_search(&pairs("document_type=A,B&document_type=C&source=S")).unwrap();
        assert_eq!(request.document_types, ["A", "B", "C"]);
        assert_eq!(request.sources, ["S"]);
    }

    #[test]
    fn every_bad_criterion_is_named() {
        let errors = parse_search(&pairs(
            "nir=123&from=yesterday&limit=0&colour=red&direction=up&cursor=zz",
        ))
        .unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["nir", "from", "limit", "colour", "direction", "cursor"]
        );
    }

    #[test]
    fn hostile_queries_and_cursors_are_refused() {
        let nested = format!("q={}", "(".repeat(800));
        assert_eq!(parse_search(&pairs(&nested)).unwrap_err().0[0].field, "q");
        let long = format!("q={}", "mot ".repeat(200));
        assert_eq!(parse_search(&pairs(&long)).unwrap_err().0[0].field, "q");
        let deep = Cursor {
            sort: Sort::Relevance,
            after_key: None,
            offset: Some(1 << 40),
        }
        .encode();
        let errors = parse_search(&pairs(&format!("sort=relevance&cursor={deep}"))).unwrap_err();
        assert_eq!(errors.0[0].field, "cursor");
    }

    #[test]
    fn cursors_round_trip_and_belong_to_their_sort() {
        let cursor = Cursor {
            sort: Sort::DateDesc,
            after_key: Some(42),
            offset: None,
        }
        .encode();
        assert!(parse_search(&pairs(&format!("cursor={cursor}"))).is_ok());
        assert!(parse_search(&pairs(&format!("cursor={cursor}&sort=date_asc"))).is_err());
    }
}
