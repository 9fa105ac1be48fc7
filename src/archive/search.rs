//! The agents' search as an application call: criteria validated, the index searched within
//! the caller's scope, passages of text added for the roles that may read content, and the
//! search recorded in the access trail with its identifying criteria hashed — for the API and
//! the web UI alike.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Archive;
use crate::access::{Permission, Scope};
use crate::catalog::CatalogError;
use crate::documents::model::DocumentId;
use crate::identifiers::{Nir, Siren, Siret};
use crate::index::SearchIndex;
use crate::index::criteria::parse_search;
use crate::index::search::{Extract, SearchResults};
use crate::validation::ValidationErrors;

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

/// Extracts are taken from the start of long texts: a page of hits never loads whole books.
const EXTRACT_SOURCE_CHARS: u32 = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// Criteria refused, every field at fault named (HTTP 422).
    #[error("invalid search")]
    Invalid(ValidationErrors),
    /// `min_seq` was not reached in time (HTTP 503).
    #[error("the index has applied change {indexed}, not yet {wanted}")]
    IndexBehind { wanted: i64, indexed: i64 },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The index failed to answer.
    #[error("search failed")]
    Internal(#[source] anyhow::Error),
}

impl Archive {
    /// Validates the criteria, waits for `min_seq`, searches within the scope and records the
    /// search in the audit trail (identifying criteria hashed): the API's and the web UI's search.
    pub async fn search(
        &self,
        index: &SearchIndex,
        scope: &Scope,
        pairs: &[(String, String)],
    ) -> Result<SearchResults, SearchError> {
        let (request, min_seq) = parse_search(pairs).map_err(SearchError::Invalid)?;
        // A change the catalog has not made yet is no change a write answered with: refused at
        // once rather than waited for in vain.
        if let Some(seq) = min_seq
            && seq > self.catalog.latest_seq().await?
        {
            return Err(SearchError::Invalid(ValidationErrors::single(
                "min_seq",
                "is past the archive's latest change: pass the seq a write answered with",
            )));
        }
        if let Some(seq) = min_seq
            && !index.wait_for(seq, READ_YOUR_WRITES_WAIT).await
        {
            return Err(SearchError::IndexBehind {
                wanted: seq,
                indexed: index.indexed_seq(),
            });
        }
        let searcher = index.clone();
        let search_scope = scope.clone();
        let q = request.q.clone();
        let mut results =
            tokio::task::spawn_blocking(move || searcher.search(&search_scope, &request))
                .await
                .map_err(|e| SearchError::Internal(e.into()))?
                .map_err(|e| SearchError::Internal(e.into()))?;
        // Extracts show document text: only to roles that may read content.
        if let Some(q) = q
            && scope.allows(Permission::ReadContent)
        {
            self.add_extracts(index, scope, &q, &mut results).await?;
        }

        let mut criteria = Map::new();
        for (key, value) in pairs {
            let recorded = if IDENTIFYING.contains(&key.as_str()) {
                Value::String(self.identifiers.hash(key, &canonical(key, value)))
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
        self.catalog
            .record_access(scope, "search", None, &details)
            .await?;
        Ok(results)
    }

    /// Gives each hit found by its words the passage of its text where they occur (`extract`).
    /// The texts come from the catalog: the index does not store them, which keeps it small.
    async fn add_extracts(
        &self,
        index: &SearchIndex,
        scope: &Scope,
        q: &str,
        results: &mut SearchResults,
    ) -> Result<(), SearchError> {
        let ids: Vec<DocumentId> = results
            .hits
            .iter()
            .filter_map(|hit| hit.get("id")?.as_str().and_then(DocumentId::parse))
            .collect();
        let texts = self
            .catalog
            .document_texts(scope, &ids, EXTRACT_SOURCE_CHARS)
            .await?;
        if texts.is_empty() {
            return Ok(());
        }
        let index = index.clone();
        let q = q.to_string();
        let extracts = tokio::task::spawn_blocking(move || index.extracts(&q, &texts))
            .await
            .map_err(|e| SearchError::Internal(e.into()))?
            .map_err(|e| SearchError::Internal(e.into()))?;
        let extracts: HashMap<String, Extract> = extracts
            .into_iter()
            .map(|(id, extract)| (id.to_string(), extract))
            .collect();
        for hit in &mut results.hits {
            let id = hit.get("id").and_then(Value::as_str).unwrap_or_default();
            if let Some(extract) = extracts.get(id) {
                hit["extract"] =
                    serde_json::to_value(extract).map_err(|e| SearchError::Internal(e.into()))?;
            }
        }
        Ok(())
    }
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
