//! `/api/v1/blobs/{sha256}`: content uploaded on its own, under its hash, before the batch
//! manifest that names it. `HEAD` tells a client what it need not send again.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, HttpBody};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PutOutcome;
use crate::access::{Caller, Permission};
use crate::http::error::{ErrorBody, json_body};
use crate::http::{ApiError, AppState};
use crate::identifiers::Sha256Hex;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(put_blob, head_blob))
        .routes(routes!(missing_blobs))
}

/// The most files one `POST /api/v1/blobs/missing` may ask about.
const MISSING_QUERY_LIMIT: usize = 10_000;
/// Stored sizes read at once when a query names content the tenant holds.
const SIZE_CHECKS_IN_FLIGHT: usize = 16;

/// Files a client is about to upload.
#[derive(Deserialize, utoipa::ToSchema)]
struct BlobsQuery {
    /// At most 10,000.
    blobs: Vec<BlobQuery>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct BlobQuery {
    sha256: String,
    size: u64,
}

/// The files to send.
#[derive(Serialize, utoipa::ToSchema)]
struct MissingBlobs {
    /// The hashes asked about that the tenant does not hold with that size, each once, in the
    /// order first asked.
    missing: Vec<String>,
}

/// What an upload stored.
#[derive(Serialize, utoipa::ToSchema)]
struct BlobStored {
    sha256: String,
    size: u64,
    /// `created`, or `already_present` (nothing was rewritten).
    stored: &'static str,
}

fn parse_hash(text: &str) -> Result<Sha256Hex, ApiError> {
    // The path is the hash as the client computed it: upper-case hex would name another key.
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid("sha256", "must be written in lower case"));
    }
    Sha256Hex::parse(text).map_err(|e| ApiError::invalid("sha256", e.0))
}

/// Streams the body into staging while hashing it; stores it only if it hashes to its name.
/// Uploads one file's bytes under their SHA-256, for a batch manifest to name.
#[utoipa::path(put, path = "/api/v1/blobs/{sha256}", tag = "batches",
    params(("sha256" = String, Path, description = "The content's SHA-256, 64 lower-case hex digits")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored", body = BlobStored),
        (status = 200, description = "Already stored; nothing rewritten", body = BlobStored),
        (status = 403, description = "Not an archiving token", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "The bytes do not hash to the name, or are empty", body = ErrorBody),
    ))]
async fn put_blob(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sha256): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let expected = parse_hash(&sha256)?;
    let mut writer = state.archive.content.staging_writer(state.max_upload_bytes);
    if let Some(length) = body.size_hint().exact() {
        writer.expect(length);
    }
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::BadRequest(format!("the body could not be read to its end: {e}"))
        })?;
        writer.write(&chunk).await?;
    }
    let staged = writer.finish().await?;
    if staged.size == 0 {
        return Err(ApiError::invalid("content", "is empty"));
    }
    if staged.sha256 != expected {
        return Err(ApiError::invalid(
            "content",
            format!(
                "hashes to {}, not to the SHA-256 named in the URL: the upload was damaged or the name is wrong",
                staged.sha256
            ),
        ));
    }
    let size = staged.size;
    // The tenant's upload record is committed only once the content is durable, so it never
    // names content a crash could lose; with the uploads of the moment on the local disk.
    let (recorded, record_result) = oneshot::channel();
    let record = {
        let (catalog, scope) = (Arc::clone(&state.archive.catalog), scope.clone());
        let sha256 = expected.as_str().to_string();
        async move {
            let _ = recorded.send(catalog.record_blob_upload(&scope, &sha256).await);
        }
        // It may run in the flush's task, among other requests' records.
        .in_current_span()
        .boxed()
    };
    let outcome = state.archive.content.put_then(staged, record).await?;
    record_result.await.map_err(|_| {
        ApiError::Internal(anyhow::anyhow!(
            "the upload record was not written after the content was stored"
        ))
    })??;
    tracing::info!(sha256 = %expected, size, created = outcome == PutOutcome::Created, "blob stored");
    let (status, stored) = match outcome {
        PutOutcome::Created => (StatusCode::CREATED, "created"),
        PutOutcome::AlreadyPresent => (StatusCode::OK, "already_present"),
    };
    let body = BlobStored {
        sha256: expected.as_str().to_string(),
        size,
        stored,
    };
    Ok((status, Json(body)).into_response())
}

/// Which of a list of files the tenant still has to upload: the bulk form of `HEAD`, one
/// request for a batch's files instead of one per file. Content the tenant holds with another
/// size is damaged and listed as missing, so that uploading it again repairs it.
#[utoipa::path(post, path = "/api/v1/blobs/missing", tag = "batches",
    request_body = BlobsQuery,
    responses(
        (status = 200, body = MissingBlobs),
        (status = 403, description = "Not an archiving token", body = ErrorBody),
        (status = 422, description = "A hash that is not a SHA-256 in lower-case hex, or too many files", body = ErrorBody),
    ))]
async fn missing_blobs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<BlobsQuery>, JsonRejection>,
) -> Result<Json<MissingBlobs>, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let query = json_body(body)?;
    if query.blobs.len() > MISSING_QUERY_LIMIT {
        return Err(ApiError::invalid(
            "blobs",
            format!("at most {MISSING_QUERY_LIMIT} files per request"),
        ));
    }
    let mut asked = Vec::with_capacity(query.blobs.len());
    let mut seen = HashSet::new();
    for (n, blob) in query.blobs.into_iter().enumerate() {
        let sha256 = parse_hash(&blob.sha256).map_err(|_| {
            ApiError::invalid(
                format!("blobs[{n}].sha256"),
                "must be a SHA-256: 64 lower-case hex digits",
            )
        })?;
        if seen.insert((sha256.clone(), blob.size)) {
            asked.push((sha256, blob.size));
        }
    }
    let hashes: Vec<&str> = asked.iter().map(|(sha256, _)| sha256.as_str()).collect();
    let held = state.archive.catalog.blobs_held(&scope, &hashes).await?;
    let content = &state.archive.content;
    let missing = futures::stream::iter(asked)
        .map(|(sha256, size)| {
            let held = held.contains(sha256.as_str());
            async move {
                let stored = if held {
                    content.stored_size(&sha256).await?
                } else {
                    None
                };
                Ok::<_, ApiError>((stored != Some(size)).then(|| sha256.as_str().to_string()))
            }
        })
        .buffered(SIZE_CHECKS_IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await?;
    let mut listed = HashSet::new();
    let missing = missing
        .into_iter()
        .flatten()
        .filter(|sha256| listed.insert(sha256.clone()))
        .collect();
    Ok(Json(MissingBlobs { missing }))
}

/// 200 with the stored size as `Content-Length` when the caller's tenant uploaded or archived
/// this content, 404 otherwise: content is stored once for every tenant, but a tenant neither
/// learns what another holds nor names it in a manifest.
/// Whether the tenant holds this content: 200 with its size as `Content-Length`, or 404.
#[utoipa::path(head, path = "/api/v1/blobs/{sha256}", tag = "batches",
    params(("sha256" = String, Path, description = "The content's SHA-256")),
    responses(
        (status = 200, description = "Held; `Content-Length` is the stored size"),
        (status = 404, description = "Not uploaded by this tenant"),
        (status = 422, description = "Not a SHA-256 in lower-case hex"),
    ))]
async fn head_blob(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let sha256 = parse_hash(&sha256)?;
    if state
        .archive
        .catalog
        .blobs_held(&scope, &[sha256.as_str()])
        .await?
        .is_empty()
    {
        return Err(ApiError::NotFound);
    }
    match state.archive.content.stored_size(&sha256).await? {
        Some(size) => Ok((StatusCode::OK, [(header::CONTENT_LENGTH, size)]).into_response()),
        None => Err(ApiError::NotFound),
    }
}
