//! `/api/v1/batches`: commit a manifest (JSON or CSV), read a batch's report, list batches.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BatchDocumentReport, BatchFilter, BatchSummary, ManifestFormat, read_manifest};
use crate::access::{Caller, Permission};
use crate::archive::batch::BatchError;
use crate::dates::{format_timestamp, parse_instant_or_date};
use crate::http::error::ErrorBody;
use crate::http::formats::DateOrInstant;
use crate::http::{ApiError, AppState};
use crate::validation::ValidationErrors;

/// A manifest of 100,000 documents with full metadata is about 50 MB.
pub const MAX_MANIFEST_BYTES: usize = 128 * 1024 * 1024;
const DEFAULT_LIST_LIMIT: u32 = 100;
const MAX_LIST_LIMIT: u32 = 1000;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(commit_batch))
        .layer(DefaultBodyLimit::max(MAX_MANIFEST_BYTES))
        .routes(routes!(list_batches))
        .routes(routes!(batch_report))
}

/// A batch and what became of each of its documents.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    #[serde(flatten)]
    pub summary: BatchSummary,
    pub documents: Vec<BatchDocumentReport>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CommitOptions {
    /// Archive the valid documents and report the others, instead of refusing the batch.
    #[serde(default)]
    accept_partial: bool,
}

/// Commits a batch manifest (JSON or CSV) whose files were uploaded as blobs, and archives its
/// documents. 201 with the report when the batch is new, 200 with the first report when it was
/// sent before (an interrupted batch is completed first).
#[utoipa::path(post, path = "/api/v1/batches", tag = "batches",
    params(CommitOptions),
    request_body(description = "The manifest: `application/json` (schema `BatchManifest`) or `text/csv` (see docs/batches.md for the columns)", content(
        (Object = "application/json"),
        (String = "text/csv"),
    )),
    responses(
        (status = 201, body = BatchReport),
        (status = 200, description = "Sent before: its report", body = BatchReport),
        (status = 403, description = "Not a token of this source", body = ErrorBody),
        (status = 409, description = "The batch_ref names a batch with other documents", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, description = "Neither JSON nor CSV", body = ErrorBody),
        (status = 422, description = "Every error of the manifest", body = ErrorBody),
    ))]
async fn commit_batch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    options: Result<Query<CommitOptions>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("the manifest is larger than 128 MiB: split the batch".into())
        } else {
            ApiError::BadRequest(format!(
                "the manifest cannot be read: {}",
                rejection.body_text()
            ))
        }
    })?;
    let Query(options) = options.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let format = match media_type.as_str() {
        "application/json" => ManifestFormat::Json,
        "text/csv" => ManifestFormat::Csv,
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send the manifest as application/json or text/csv".into(),
            ));
        }
    };
    // Validating tens of thousands of documents is CPU work: keep it off the async workers.
    let manifest = tokio::task::spawn_blocking(move || read_manifest(&body, format))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(ApiError::Invalid)?;
    let receipt = state
        .archive
        .receive_batch(scope, manifest, options.accept_partial)
        .await?;
    let status = if receipt.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let report = BatchReport {
        summary: receipt.summary,
        documents: receipt.documents,
    };
    Ok((status, Json(report)).into_response())
}

/// A batch's report: each document's outcome, with totals.
#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "batches",
    params(("id" = String, Path, description = "The batch id")),
    responses(
        (status = 200, body = BatchReport),
        (status = 404, body = ErrorBody),
    ))]
async fn batch_report(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BatchReport>, ApiError> {
    let scope = caller.require(Permission::ReadBatches)?;
    let catalog = &state.archive.catalog;
    let summary = catalog
        .batch(&scope, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let documents = catalog.batch_documents(&scope, &id).await?;
    Ok(Json(BatchReport { summary, documents }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    source: Option<String>,
    /// Received from (date or RFC 3339).
    #[param(value_type = Option<DateOrInstant>)]
    from: Option<String>,
    /// Received before (date or RFC 3339).
    #[param(value_type = Option<DateOrInstant>)]
    to: Option<String>,
    #[param(pattern = "^(?:archiving|completed)$")]
    status: Option<String>,
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct BatchList {
    batches: Vec<BatchSummary>,
}

/// Batches newest first, with their totals: the supervisor's check that everything received
/// was archived.
#[utoipa::path(get, path = "/api/v1/batches", tag = "batches",
    params(ListQuery),
    responses(
        (status = 200, body = BatchList),
        (status = 422, body = ErrorBody),
    ))]
async fn list_batches(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<BatchList>, ApiError> {
    let scope = caller.require(Permission::ReadBatches)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut errors = ValidationErrors::default();
    let mut instant = |field: &str, value: Option<String>| {
        value.and_then(|value| {
            parse_instant_or_date(&value)
                .map(format_timestamp)
                .map_err(|message| errors.push(field, message))
                .ok()
        })
    };
    let from = instant("from", query.from);
    let to = instant("to", query.to);
    if let Some(status) = &query.status
        && !matches!(status.as_str(), "archiving" | "completed")
    {
        errors.push("status", "must be archiving or completed");
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        errors.push("limit", "must be between 1 and 1000");
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let filter = BatchFilter {
        source: query.source,
        from,
        to,
        status: query.status,
        limit,
    };
    let batches = state.archive.catalog.batches(&scope, &filter).await?;
    Ok(Json(BatchList { batches }))
}

impl From<BatchError> for ApiError {
    fn from(error: BatchError) -> Self {
        match error {
            BatchError::Invalid(errors) => ApiError::Invalid(errors),
            BatchError::Forbidden(error) => error.into(),
            BatchError::Conflict { .. } => ApiError::Conflict {
                field: Some("batch_ref".into()),
                message: error.to_string(),
            },
            BatchError::Catalog(error) => error.into(),
            BatchError::Content(error) => error.into(),
            BatchError::Interrupted(error) => ApiError::Internal(error.into()),
        }
    }
}
