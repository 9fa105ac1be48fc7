//! `/api/v1/documents`: archive one document (multipart), read its metadata, stream its content.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Document, DocumentId, clean_file_name};
use crate::access::{Caller, Permission};
use crate::archive::document::{ArchiveOutcome, IncomingFile};
use crate::http::error::{ErrorBody, multipart_error};
use crate::http::representation::{
    RangeRequest, content_disposition, none_match, parse_range, range_condition_holds,
};
use crate::http::{ApiError, AppState};

/// Metadata is small; a larger part is a mistake or an attack.
const MAX_METADATA_BYTES: usize = 1024 * 1024;
/// Room for the multipart framing around the file and the metadata.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Personal data: shared office PCs must not keep a copy.
const NO_STORE: &str = "private, no-store";

/// `max_upload_bytes` caps the file; the whole body may carry the metadata and framing besides.
/// The body limit stops oversized requests before multipart parsing buffers them.
pub fn router(max_upload_bytes: u64) -> OpenApiRouter<Arc<AppState>> {
    let body_limit = max_upload_bytes
        .saturating_add(MAX_METADATA_BYTES as u64 + MULTIPART_OVERHEAD)
        .try_into()
        .unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(archive_document))
        .layer(DefaultBodyLimit::max(body_limit))
        .routes(routes!(document_metadata))
        .routes(routes!(document_content))
        .routes(routes!(document_text))
}

/// `multipart/form-data` of `POST /api/v1/documents`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the request for the OpenAPI document
pub struct ArchiveForm {
    /// The document's metadata, JSON text following the `DocumentMetadata` schema.
    metadata: String,
    /// The file (PDF, TIFF, JPEG, PNG, email, plain text).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Archives one document: content and metadata, whole or not at all.
///
/// The same `external_id` sent again by the same source answers 200 with the document
/// archived the first time.
#[utoipa::path(post, path = "/api/v1/documents", tag = "documents",
    request_body(content = ArchiveForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Archived", body = Document),
        (status = 200, description = "Archived before under this external id", body = Document),
        (status = 403, description = "The token may not archive this", body = ErrorBody),
        (status = 409, description = "The external id names other content, or references contradict", body = ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = ErrorBody),
        (status = 415, description = "A file type the archive does not keep", body = ErrorBody),
        (status = 422, description = "Invalid metadata or file, every field named", body = ErrorBody),
    ))]
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
                // Validated with the file: an email fills in fields the sender left out.
                let value = crate::json::from_str(&text).map_err(|e| {
                    ApiError::invalid("metadata", format!("is not valid JSON: {e}"))
                })?;
                metadata = Some(value);
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
    let outcome = state.archive.archive(&scope, &metadata, file).await?;
    Ok(match outcome {
        ArchiveOutcome::Created(document) => (StatusCode::CREATED, Json(document)).into_response(),
        ArchiveOutcome::AlreadyArchived(document) => {
            (StatusCode::OK, Json(document)).into_response()
        }
    })
}

/// A document's metadata; the read is recorded in the audit trail.
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents",
    params(("id" = String, Path, description = "The document id (UUID)")),
    responses(
        (status = 200, body = Document),
        (status = 404, description = "No such document in the caller's scope", body = ErrorBody),
    ))]
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
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "documents",
    params(
        ("id" = String, Path, description = "The document id (UUID)"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=0-1023`"),
        ("If-None-Match" = Option<String>, Header, description = "The content's ETag (its SHA-256, quoted)"),
    ),
    responses(
        (status = 200, description = "The whole content, as its media type", content_type = "*/*", body = Vec<u8>),
        (status = 206, description = "The requested range", content_type = "*/*", body = Vec<u8>),
        (status = 304, description = "The client's copy is this content"),
        (status = 404, description = "No such document in the caller's scope", body = ErrorBody),
        (status = 416, description = "The range lies outside the content", body = ErrorBody),
    ))]
async fn document_content(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    method: Method,
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
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };

    if header_text(header::IF_NONE_MATCH).is_some_and(|v| none_match(v, &etag)) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag.as_str()),
                (header::CACHE_CONTROL, NO_STORE),
            ],
        )
            .into_response());
    }
    // If-Range: serve the range only if the client's copy is this very content.
    let range_applies =
        header_text(header::IF_RANGE).is_none_or(|v| range_condition_holds(v, &etag));
    let range = match header_text(header::RANGE) {
        Some(range) if range_applies => parse_range(range, size),
        _ => RangeRequest::Whole,
    };
    let (status, start, end) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, size),
        RangeRequest::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeRequest::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size }),
    };

    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, &document.media_type)
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, NO_STORE)
        .header("x-content-type-options", "nosniff");
    if let Ok(value) = HeaderValue::from_str(&content_disposition(document.file_name.as_deref())) {
        response = response.header(header::CONTENT_DISPOSITION, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    let body = if method == Method::HEAD {
        // The caller learns what a metadata read tells (size, type, name), not the content:
        // recorded as that, not as a download.
        state
            .archive
            .catalog
            .record_access(
                &scope,
                "document.viewed",
                Some(&document.id),
                &serde_json::json!({ "request": "HEAD content" }),
            )
            .await?;
        Body::empty()
    } else {
        let stream = state
            .archive
            .read_content(&scope, &document, start..end)
            .await?;
        Body::from_stream(stream)
    };
    response
        .body(body)
        .map_err(|e| ApiError::Internal(e.into()))
}

/// The text the archive read from the document (text layer, OCR or email body), as plain
/// text; the read is recorded in the audit trail. 404 while there is none yet: the
/// document's `text` says whether extraction is pending, failed or skipped.
#[utoipa::path(get, path = "/api/v1/documents/{id}/text", tag = "documents",
    params(("id" = String, Path, description = "The document id (UUID)")),
    responses(
        (status = 200, description = "The extracted text; pages separated by form feeds", content_type = "text/plain", body = String),
        (status = 404, description = "No such document in the caller's scope, or no text yet", body = ErrorBody),
    ))]
async fn document_text(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ReadContent)?;
    let id = DocumentId::parse(&id).ok_or(ApiError::NotFound)?;
    let text = state
        .archive
        .read_text(&scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, NO_STORE),
            // The words are the sender's (an email body, OCR): never anything but text here.
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "sandbox"),
        ],
        text,
    )
        .into_response())
}
