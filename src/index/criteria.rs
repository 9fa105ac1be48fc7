//! The agents' search criteria: query-string pairs (the API's query string, the web UI's
//! form) turned into a validated [`SearchRequest`], every field at fault named.

use serde_json::Value;

use super::search::{Cursor, SearchRequest, Sort};
use crate::dates::{parse_date, parse_instant_or_date};
use crate::documents::model::{Channel, Direction};
use crate::dossiers::DossierStatus;
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
