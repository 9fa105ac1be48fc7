//! `/api/v1/blobs/{sha256}`: content uploaded on its own, under its hash, before the batch
//! manifest that names it. `HEAD` tells a client what it need not send again.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use futures::StreamExt;

use super::PutOutcome;
use crate::access::{Caller, Permission};
use crate::http::{ApiError, AppState};
use crate::identifiers::Sha256Hex;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/blobs/{sha256}", put(put_blob).head(head_blob))
}

fn parse_hash(text: &str) -> Result<Sha256Hex, ApiError> {
    // The path is the hash as the client computed it: upper-case hex would name another key.
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid("sha256", "must be written in lower case"));
    }
    Sha256Hex::parse(text).map_err(|e| ApiError::invalid("sha256", e.0))
}

/// Streams the body into staging while hashing it; stores it only if it hashes to its name.
async fn put_blob(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sha256): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let expected = parse_hash(&sha256)?;
    let mut writer = state.archive.content.staging_writer(state.max_upload_bytes);
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
    let outcome = state.archive.content.put(staged).await?;
    state
        .archive
        .catalog
        .record_blob_upload(&scope, expected.as_str())
        .await?;
    tracing::info!(sha256 = %expected, size, created = outcome == PutOutcome::Created, "blob stored");
    let (status, stored) = match outcome {
        PutOutcome::Created => (StatusCode::CREATED, "created"),
        PutOutcome::AlreadyPresent => (StatusCode::OK, "already_present"),
    };
    let body = serde_json::json!({ "sha256": expected.as_str(), "size": size, "stored": stored });
    Ok((status, Json(body)).into_response())
}

/// 200 with the stored size as `Content-Length` when the caller's tenant uploaded or archived
/// this content, 404 otherwise: content is stored once for every tenant, but a tenant neither
/// learns what another holds nor names it in a manifest.
async fn head_blob(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let sha256 = parse_hash(&sha256)?;
    if !state
        .archive
        .catalog
        .tenant_holds_blob(&scope, sha256.as_str())
        .await?
    {
        return Err(ApiError::NotFound);
    }
    match state.archive.content.stored_size(&sha256).await? {
        Some(size) => Ok((StatusCode::OK, [(header::CONTENT_LENGTH, size)]).into_response()),
        None => Err(ApiError::NotFound),
    }
}
