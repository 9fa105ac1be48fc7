//! `/api/v1/documents`: archive one document (multipart), read its metadata, stream its content.

use std::ops::Bound;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use headers::HeaderMapExt;

use super::metadata::parse_metadata_json;
use super::model::{Document, DocumentId};
use crate::access::{Caller, Permission};
use crate::http::{ApiError, AppState};
use crate::ingest::{ArchiveOutcome, IncomingFile};

/// Metadata is small; a larger part is a mistake or an attack.
const MAX_METADATA_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        // The upload limit is enforced on the streamed file part, not on the whole body.
        .route(
            "/api/v1/documents",
            post(archive_document).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/documents/{id}", get(document_metadata))
        .route("/api/v1/documents/{id}/content", get(document_content))
}

async fn archive_document(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "send multipart/form-data with the parts `metadata` and `file`: {}",
            rejection.body_text()
        ))
    })?;
    let mut metadata = None;
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "metadata" if metadata.is_none() => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if text.len() + chunk.len() > MAX_METADATA_BYTES {
                        return Err(ApiError::invalid("metadata", "is larger than 1 MiB"));
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(text)
                    .map_err(|_| ApiError::invalid("metadata", "is not UTF-8 text"))?;
                metadata = Some(parse_metadata_json(&text).map_err(ApiError::Invalid)?);
            }
            "file" if file.is_none() => {
                let file_name = field.file_name().and_then(clean_file_name);
                let declared_media_type = field.content_type().map(str::to_string);
                let mut writer = state.archive.content.staging_writer(state.max_upload_bytes);
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    writer.write(&chunk).await?;
                }
                file = Some(IncomingFile {
                    staged: writer.finish().await?,
                    file_name,
                    declared_media_type,
                });
            }
            name @ ("metadata" | "file") => {
                return Err(ApiError::invalid(name, "is sent twice"));
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    "is not a known part: send the parts `metadata` and `file`",
                ));
            }
        }
    }
    let metadata = metadata.ok_or_else(|| ApiError::invalid("metadata", "is required"))?;
    let file = file.ok_or_else(|| ApiError::invalid("file", "is required"))?;
    Ok(match state.archive.archive(&scope, metadata, file).await? {
        ArchiveOutcome::Created(document) => (StatusCode::CREATED, Json(document)).into_response(),
        ArchiveOutcome::AlreadyArchived(document) => {
            (StatusCode::OK, Json(document)).into_response()
        }
    })
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(error.body_text())
    } else {
        ApiError::BadRequest(format!(
            "the multipart body cannot be read: {}",
            error.body_text()
        ))
    }
}

/// Keeps the last path component of a client-supplied name, without control characters.
fn clean_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty() && cleaned != "." && cleaned != "..").then(|| cleaned.to_string())
}

async fn document_metadata(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Document>, ApiError> {
    let scope = caller.require(Permission::ReadMetadata)?;
    let id = DocumentId::parse(&id).ok_or(ApiError::NotFound)?;
    let document = state.archive.view_document(&scope, id).await?;
    Ok(Json(document.ok_or(ApiError::NotFound)?))
}

/// Streams the content, whole (200) or one byte range (206), verified as it goes.
async fn document_content(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ReadContent)?;
    let id = DocumentId::parse(&id).ok_or(ApiError::NotFound)?;
    let document = state
        .archive
        .catalog
        .document(&scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let etag = format!("\"{}\"", document.sha256);
    let size = document.size;

    let etag_matches = |value: Option<&HeaderValue>| {
        value.and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
    };
    if etag_matches(headers.get(header::IF_NONE_MATCH)) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    // If-Range: serve the range only if the client's copy is this content.
    let range_applies = headers
        .get(header::IF_RANGE)
        .is_none_or(|_| etag_matches(headers.get(header::IF_RANGE)));
    let range = match headers.typed_get::<headers::Range>() {
        Some(range) if range_applies => byte_range(&range, size)?,
        _ => None,
    };

    let (status, start, end) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        None => (StatusCode::OK, 0, size),
    };
    let stream = state
        .archive
        .read_content(&scope, &document, start..end)
        .await?;
    let disposition = match &document.file_name {
        Some(name) => format!("inline; filename=\"{}\"", name.replace(['"', '\\'], "_")),
        None => "inline".to_string(),
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, &document.media_type)
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        // Personal data: shared office PCs must not keep a copy.
        .header(header::CACHE_CONTROL, "private, no-store")
        .header("x-content-type-options", "nosniff");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response = response.header(header::CONTENT_DISPOSITION, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    response
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::Internal(e.into()))
}

/// The one byte range to serve, as `start..end` (end exclusive); `None` serves everything
/// (several ranges, or a suffix longer than the content, are answered with the whole).
fn byte_range(range: &headers::Range, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let ranges: Vec<_> = range.satisfiable_ranges(size).collect();
    let [(start, end)] = ranges.as_slice() else {
        return Ok(None);
    };
    let start = match start {
        Bound::Included(start) => *start,
        Bound::Excluded(start) => start + 1,
        Bound::Unbounded => 0,
    };
    let end = match end {
        Bound::Included(end) => end.saturating_add(1).min(size),
        Bound::Excluded(end) => (*end).min(size),
        Bound::Unbounded => size,
    };
    if start >= size {
        return Err(ApiError::RangeNotSatisfiable { size });
    }
    if start >= end {
        return Ok(None);
    }
    Ok(Some((start, end)))
}
