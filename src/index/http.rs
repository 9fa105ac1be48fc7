//! `GET /api/v1/search`: the agents' search, audited, within the caller's scope.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::search::{SearchResults, Sort};
use crate::access::{Caller, Permission};
use crate::http::error::ErrorBody;
use crate::http::formats::{CalendarDate, DateOrInstant};
use crate::http::{ApiError, AppState};

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
    Ok(Json(
        state.archive.search(&state.index, &scope, &pairs).await?,
    ))
}
