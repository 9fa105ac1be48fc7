//! `GET /api/v1/audit`: the access trail, for auditors. Answers "who looked at my file".

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AuditFilter;
use crate::access::{Caller, Permission};
use crate::dates::{format_timestamp, parse_instant_or_date};
use crate::documents::model::DocumentId;
use crate::http::error::ErrorBody;
use crate::http::formats::DateOrInstant;
use crate::http::{ApiError, AppState};
use crate::identifiers::Nir;
use crate::validation::ValidationErrors;

const DEFAULT_LIMIT: u32 = 100;
/// Every action the audit log records.
const ACTIONS: &[&str] = &[
    "document.archived",
    "document.viewed",
    "document.downloaded",
    "document.resent",
    "search",
    "token.created",
    "token.revoked",
    "batch.received",
    "batch.completed",
    "dossier.created",
    "dossier.status_changed",
    "dossier.linked",
    "dossier.unlinked",
    "dossier.viewed",
    "dossier.listed",
    "dossier_categories.changed",
    "party.viewed",
    "party.exported",
    "session.opened",
    "session.closed",
    "access.refused",
    "token.refused",
];
const MAX_LIMIT: u32 = 1000;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(audit_trail))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Entries about this document (its id).
    #[param(format = Uuid)]
    document: Option<String>,
    /// Entries about documents concerning this person, and searches and views naming them.
    nir: Option<String>,
    /// A token id, or `cli`.
    actor: Option<String>,
    /// One action, such as `document.viewed`.
    #[param(value_type = Option<AuditAction>, inline)]
    action: Option<String>,
    /// From this date or RFC 3339 instant.
    #[param(value_type = Option<DateOrInstant>)]
    from: Option<String>,
    /// Before this date or RFC 3339 instant.
    #[param(value_type = Option<DateOrInstant>)]
    to: Option<String>,
    /// The `next_after` of the previous page.
    after: Option<i64>,
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The actions the trail records, as the document lists them: from [`ACTIONS`] itself.
struct AuditAction;

impl utoipa::PartialSchema for AuditAction {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ACTIONS.iter().copied()))
            .into()
    }
}

impl utoipa::ToSchema for AuditAction {}

#[derive(Serialize, utoipa::ToSchema)]
struct AuditEntryView {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    document_id: Option<String>,
    details: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AuditPage {
    entries: Vec<AuditEntryView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<i64>,
}

/// A date (`2024-03-05`, midnight UTC) or a timestamp, in the stored form.
fn bound(field: &str, text: Option<String>, errors: &mut ValidationErrors) -> Option<String> {
    parse_instant_or_date(&text?)
        .map(format_timestamp)
        .map_err(|message| errors.push(field, message))
        .ok()
}

/// The tenant's audit trail, oldest first, for auditors.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 403, description = "Not an auditor token", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn audit_trail(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let scope = caller.require(Permission::ReadAudit)?;
    let Query(query) =
        query.map_err(|rejection| ApiError::invalid("query", rejection.body_text()))?;
    let mut errors = ValidationErrors::default();
    let document = query.document.and_then(|text| {
        DocumentId::parse(&text).or_else(|| {
            errors.push("document", "is not a document id");
            None
        })
    });
    let nir = query
        .nir
        .and_then(|text| Nir::parse(&text).map_err(|e| errors.push("nir", e.0)).ok());
    let from = bound("from", query.from, &mut errors);
    let to = bound("to", query.to, &mut errors);
    if let Some(action) = &query.action
        && !ACTIONS.contains(&action.as_str())
    {
        errors.push("action", format!("must be one of {}", ACTIONS.join(", ")));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        errors.push("limit", format!("must be between 1 and {MAX_LIMIT}"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let filter = AuditFilter {
        document,
        nir_hash: nir
            .as_ref()
            .map(|nir| state.archive.identifiers.hash("nir", nir.as_str())),
        nir,
        actor: query.actor,
        action: query.action,
        from,
        to,
        after_seq: query.after.unwrap_or(0),
        limit,
    };
    let entries = state.archive.catalog.audit_trail(&scope, &filter).await?;
    let next_after = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let entries = entries
        .into_iter()
        .map(|entry| AuditEntryView {
            seq: entry.seq,
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            document_id: entry.document_id,
            details: serde_json::from_str(&entry.details).unwrap_or(Value::String(entry.details)),
        })
        .collect();
    Ok(Json(AuditPage {
        entries,
        next_after,
    }))
}
