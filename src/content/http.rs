//! `/api/v1/blobs/{sha256}`: content uploaded on its own, under its hash, before the batch
//! manifest that names it. `HEAD` tells a client what it need not send again. `POST
//! /api/v1/blobs` carries several files in one request, made durable together.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, HttpBody};
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ContentError, PutGroup, PutOutcome, StagingError};
use crate::access::{Caller, Permission, Scope};
use crate::http::error::{ErrorBody, json_body, multipart_error};
use crate::http::formats::Sha256;
use crate::http::{ApiError, AppState};
use crate::identifiers::Sha256Hex;
use crate::validation::ValidationErrors;

/// `max_upload_bytes` caps each file and, with the multipart framing, a request of several,
/// which may always carry `SEVERAL_FILES_BYTES`.
pub fn router(max_upload_bytes: u64) -> OpenApiRouter<Arc<AppState>> {
    let body_limit = max_upload_bytes
        .max(SEVERAL_FILES_BYTES)
        .saturating_add(MULTIPART_OVERHEAD)
        .try_into()
        .unwrap_or(usize::MAX);
    OpenApiRouter::new()
        .routes(routes!(put_blobs))
        .layer(DefaultBodyLimit::max(body_limit))
        .routes(routes!(put_blob, head_blob))
        .routes(routes!(missing_blobs))
}

/// The most files one `POST /api/v1/blobs/missing` may ask about.
const MISSING_QUERY_LIMIT: usize = 10_000;
/// The most files one `POST /api/v1/blobs` may carry.
pub const PARTS_LIMIT: usize = 1_000;
/// What a `POST /api/v1/blobs` may carry whatever the upload limit: a lower limit still caps
/// each file, not the few megabytes of small files `ged ingest` sends in one request.
pub const SEVERAL_FILES_BYTES: u64 = 16 * 1024 * 1024;
/// A part of a `POST /api/v1/blobs` once written: its position, its size, what it stored.
type PartWritten = (usize, u64, Result<BlobStored, ContentError>);

/// Bytes of a `POST /api/v1/blobs` being written to the store at once (at least one part)...
const WRITE_BYTES_IN_FLIGHT: u64 = 8 * 1024 * 1024;
/// ...and parts: each local write holds a blocking thread, and a thousand 1 KB parts in
/// flight took the server's peak memory from 209 to 255 MiB (100,000 × 1 KB).
const WRITES_IN_FLIGHT: usize = 8;
/// Room for the part headers of a `POST /api/v1/blobs` of `PARTS_LIMIT` files.
const MULTIPART_OVERHEAD: u64 = 1024 * 1024;
/// Stored sizes read at once when a query names content the tenant holds.
const SIZE_CHECKS_IN_FLIGHT: usize = 16;

/// Files a client is about to upload.
#[derive(Deserialize, utoipa::ToSchema)]
struct BlobsQuery {
    #[schema(max_items = 10_000)]
    blobs: Vec<BlobQuery>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct BlobQuery {
    #[schema(value_type = Sha256)]
    sha256: String,
    #[schema(maximum = 9_223_372_036_854_775_807_u64)]
    size: u64,
}

/// The files to send.
#[derive(Serialize, utoipa::ToSchema)]
struct MissingBlobs {
    /// The hashes asked about that the tenant does not hold with that size, each once, in the
    /// order first asked.
    missing: Vec<String>,
}

/// What a request of several files stored, in the order of its parts.
#[derive(Serialize, utoipa::ToSchema)]
struct BlobsStored {
    blobs: Vec<BlobStored>,
}

/// `multipart/form-data` of `POST /api/v1/blobs`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the request for the OpenAPI document
struct BlobsForm {
    /// Stands for each file's part: one part per file (at most 1,000), each named with the
    /// SHA-256 of its bytes, 64 lower-case hex digits (`{sha256}` is that name, not a literal
    /// part name); a file name, if given, names the part in errors.
    #[schema(rename = "{sha256}", value_type = String, format = Binary)]
    sha256: Vec<u8>,
}

/// What an upload stored.
#[derive(Serialize, utoipa::ToSchema)]
struct BlobStored {
    sha256: String,
    size: u64,
    /// `created`, or `already_present` (the tenant had uploaded or archived it before).
    #[serde(rename = "stored", serialize_with = "outcome_name")]
    #[schema(value_type = String, rename = "stored")]
    outcome: PutOutcome,
}

impl BlobStored {
    fn new(sha256: &Sha256Hex, size: u64, outcome: PutOutcome) -> Self {
        Self {
            sha256: sha256.as_str().to_string(),
            size,
            outcome,
        }
    }
}

fn outcome_name<S: serde::Serializer>(outcome: &PutOutcome, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(match outcome {
        PutOutcome::Created => "created",
        PutOutcome::AlreadyPresent => "already_present",
    })
}

/// The store's outcome as the uploading tenant may know it. Content is stored once for every
/// tenant, so the store finds bytes another tenant sent; saying so would tell this tenant what
/// another holds (a letter it guesses, a file it wants to know was received). Content the
/// tenant did not hold is `created` for it, whoever wrote it first.
fn as_seen_by_tenant(outcome: PutOutcome, held_by_tenant: bool) -> PutOutcome {
    if held_by_tenant {
        outcome
    } else {
        PutOutcome::Created
    }
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
    params(("sha256" = Sha256, Path)),
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
    // Asked before the upload is recorded: what the tenant held before, not what it holds now.
    let held = state
        .archive
        .catalog
        .blobs_held(&scope, &[expected.as_str()])
        .await?;
    let group = state.archive.content.put_group();
    let outcome = as_seen_by_tenant(group.put(staged).await?, !held.is_empty());
    finish_and_record(&state, &scope, group, vec![expected.as_str().to_string()]).await?;
    tracing::info!(sha256 = %expected, size, created = outcome == PutOutcome::Created, "blob stored");
    let status = match outcome {
        PutOutcome::Created => StatusCode::CREATED,
        PutOutcome::AlreadyPresent => StatusCode::OK,
    };
    Ok((status, Json(BlobStored::new(&expected, size, outcome))).into_response())
}

/// Uploads several files in one request, each a part named with its SHA-256: the form of
/// `PUT /api/v1/blobs/{sha256}` for many small files (a batch's scans), which the server makes
/// durable together and records in one commit instead of one each.
///
/// Every part is checked as it arrives; the parts that hash to their names are stored even
/// when others are refused, and the answer is 200 only if none was refused (422 names each
/// refused part, `blobs[n]`, counted from 0).
#[utoipa::path(post, path = "/api/v1/blobs", tag = "batches",
    request_body(content = BlobsForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Every part stored, in order, each `created` or `already_present`", body = BlobsStored),
        (status = 400, description = "Not a multipart body, or one cut short", body = ErrorBody),
        (status = 403, description = "Not an archiving token", body = ErrorBody),
        (status = 413, description = "The body is larger than the upload limit (at least 16 MiB) plus 1 MiB: nothing was recorded, ask `POST /api/v1/blobs/missing`", body = ErrorBody),
        (status = 422, description = "No part at all (`blobs`), or refused parts, each named `blobs[n]` with its reason: a name that is not a SHA-256, empty, not hashing to its name, over the upload limit, or after the 1,000th. The other parts were stored and recorded; `POST /api/v1/blobs/missing` tells which", body = ErrorBody),
    ))]
async fn put_blobs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<BlobsStored>, ApiError> {
    let scope = caller.require(Permission::ArchiveDocument)?;
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "send multipart/form-data, one part per file named with its SHA-256: {}",
            rejection.body_text()
        ))
    })?;
    let content = &state.archive.content;
    let group = content.put_group();
    let mut refused = ValidationErrors::default();
    let mut parts = 0;
    // Sound parts are written while the next ones arrive, a few megabytes at a time.
    let mut writes: FuturesUnordered<BoxFuture<'_, PartWritten>> = FuturesUnordered::new();
    let mut writing = 0;
    let mut written = Vec::new();
    let received = async {
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
            let index = parts;
            let part = format!("blobs[{parts}]");
            parts += 1;
            if parts > PARTS_LIMIT {
                // Read to the end, so that the client reads the answer instead of a reset.
                while field.chunk().await.map_err(multipart_error)?.is_some() {}
                continue;
            }
            let name = field.name().unwrap_or_default().to_string();
            let file = field
                .file_name()
                .map_or(String::new(), |file| format!(" ({file})"));
            // A refused part is read to its end, unkept: the parts after it are still stored.
            let Ok(expected) = parse_hash(&name) else {
                while field.chunk().await.map_err(multipart_error)?.is_some() {}
                refused.push(
                    part,
                    format!("is named `{name}`{file}: name each part with the SHA-256 of its bytes, 64 lower-case hex digits"),
                );
                continue;
            };
            let mut writer = content.staging_writer(state.max_upload_bytes);
            let mut too_large = None;
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if too_large.is_none()
                    && let Err(error) = writer.write(&chunk).await
                {
                    match error {
                        StagingError::TooLarge { .. } => too_large = Some(error),
                        StagingError::Io(_) => return Err(ApiError::from(error)),
                    }
                }
            }
            if let Some(error) = too_large {
                refused.push(part, format!("{name}{file}: {error}"));
                continue;
            }
            let staged = writer.finish().await?;
            if staged.size == 0 {
                refused.push(part, format!("{name}{file} is empty"));
                continue;
            }
            if staged.sha256 != expected {
                refused.push(
                    part,
                    format!(
                        "{name}{file} hashes to {}: the upload was damaged or the name is wrong",
                        staged.sha256
                    ),
                );
                continue;
            }
            let size = staged.size;
            while !writes.is_empty()
                && (writes.len() >= WRITES_IN_FLIGHT || writing + size > WRITE_BYTES_IN_FLIGHT)
            {
                if let Some(done) = writes.next().await {
                    writing -= done.1;
                    written.push(done);
                }
            }
            writing += size;
            let group = &group;
            writes.push(async move {
                let stored = group.put(staged).await;
                (index, size, stored.map(|outcome| BlobStored::new(&expected, size, outcome)))
            }
            .boxed());
        }
        Ok(())
    }
    .await;
    // Every write started is waited for, even when the request failed: an object written and
    // not handed to the group's flush could outlive a failed flush looking intact.
    while let Some(done) = writes.next().await {
        written.push(done);
    }
    drop(writes);
    received?;
    written.sort_by_key(|(index, _, _)| *index);
    let stored = written
        .into_iter()
        .map(|(_, _, stored)| stored)
        .collect::<Result<Vec<_>, _>>()?;
    let hashes: Vec<String> = stored.iter().map(|blob| blob.sha256.clone()).collect();
    // Asked before the uploads are recorded: what the tenant held before this request.
    let held = {
        let asked: Vec<&str> = hashes.iter().map(String::as_str).collect();
        state.archive.catalog.blobs_held(&scope, &asked).await?
    };
    let mut seen = HashSet::new();
    let stored: Vec<BlobStored> = stored
        .into_iter()
        .map(|mut blob| {
            let held = held.contains(&blob.sha256) || !seen.insert(blob.sha256.clone());
            blob.outcome = as_seen_by_tenant(blob.outcome, held);
            blob
        })
        .collect();
    finish_and_record(&state, &scope, group, hashes).await?;
    if parts == 0 {
        // An empty request is a client's mistake (a file list that came out empty), not a
        // success that stored nothing.
        refused.push(
            "blobs",
            "holds no part: send one part per file, named with the SHA-256 of its bytes",
        );
    }
    if parts > PARTS_LIMIT {
        refused.push(
            "blobs",
            format!("at most {PARTS_LIMIT} files per request: {parts} were sent, those after the {PARTS_LIMIT}th were not stored"),
        );
    }
    tracing::info!(
        stored = stored.len(),
        refused = refused.0.len(),
        "blobs stored"
    );
    if !refused.is_empty() {
        return Err(ApiError::Invalid(refused));
    }
    Ok(Json(BlobsStored { blobs: stored }))
}

/// Makes what `group` stored durable, then records that the tenant uploaded `hashes`; returns
/// once both are done. The records are committed only once the content is durable, so they
/// never name content a crash could lose; on the local disk, in the step that flushed it, with
/// the records of the other uploads of the moment: on SQLite one commit for all (see
/// docs/archive-core.md, "Content store"). The commit runs in the flush's task, which every
/// write of the moment waits for: nothing holds the catalog's write lock while it writes
/// content, so it cannot wait for them in turn.
async fn finish_and_record(
    state: &AppState,
    scope: &Scope,
    group: PutGroup<'_>,
    hashes: Vec<String>,
) -> Result<(), ApiError> {
    let (recorded, record_result) = oneshot::channel();
    let record = {
        let (catalog, scope) = (Arc::clone(&state.archive.catalog), scope.clone());
        async move {
            let hashes: Vec<&str> = hashes.iter().map(String::as_str).collect();
            let result = if hashes.is_empty() {
                Ok(())
            } else {
                catalog.record_blob_uploads(&scope, &hashes).await
            };
            let _ = recorded.send(result);
        }
        .in_current_span()
        .boxed()
    };
    group.finish(record).await?;
    record_result.await.map_err(|_| {
        ApiError::Internal(anyhow::anyhow!(
            "the upload records were not written after the content was stored"
        ))
    })??;
    Ok(())
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
        if i64::try_from(blob.size).is_err() {
            return Err(ApiError::invalid(
                format!("blobs[{n}].size"),
                "is larger than any file the archive can hold",
            ));
        }
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
    params(("sha256" = Sha256, Path)),
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
