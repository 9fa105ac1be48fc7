//! Receiving a batch on the server: check the manifest against the content store, record it
//! whole, then archive its documents in chunks, resuming whatever an earlier attempt left.

use std::collections::{HashMap, HashSet};

use std::time::{Duration, Instant};

use futures::StreamExt;
use tracing::Instrument;

use super::Archive;
use crate::access::{AccessError, Scope};
use crate::batches::manifest::{csv_field, located_errors};
use crate::batches::{
    BatchArchive, BatchDocumentReport, BatchOfDocument, BatchSummary, Manifest, ManifestEntry,
    NewBatch, NewBatchDocument, PendingBatchDocument,
};
use crate::catalog::CatalogError;
use crate::content::ContentError;
use crate::documents::media_type::{SNIFF_LENGTH, Sniffed};
use crate::documents::metadata::parse_metadata_json;
use crate::documents::model::{ContentDescription, DocumentId, DocumentMetadata};
use crate::documents::new::NewDocument;
use crate::dossiers::{DossierStatus, cancelled_message, unknown_message};
use crate::identifiers::Sha256Hex;
use crate::metrics::{METRICS, OutcomeLabels};
use crate::validation::{FieldError, ValidationErrors};

/// Documents archived per catalog transaction: one fsync per chunk instead of per document,
/// short enough that searches and other uploads are not held up.
const CHUNK: u32 = 200;
/// Store lookups in flight while checking a manifest's content.
const CONTENT_CHECKS_IN_FLIGHT: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The manifest or some of its documents are refused (HTTP 422); nothing was recorded.
    #[error("invalid batch")]
    Invalid(ValidationErrors),
    /// The token may not archive for this source or direction (HTTP 403).
    #[error(transparent)]
    Forbidden(#[from] AccessError),
    /// The batch reference already names a batch with other documents (HTTP 409).
    #[error("batch_ref {batch_ref} already names batch {existing}, received with other documents")]
    Conflict { batch_ref: String, existing: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The server shut down while archiving the batch; a retry resumes it.
    #[error("archiving the batch was interrupted")]
    Interrupted(#[source] tokio::task::JoinError),
}

/// Where receiving a batch spent its time, logged with its outcome.
#[derive(Debug, Default)]
struct PhaseTimings {
    check: Duration,
    record: Duration,
    read_pending: Duration,
    archive: Duration,
    report: Duration,
}

/// What receiving a batch did, and the batch's report.
#[derive(Debug)]
pub struct BatchReceipt {
    /// Whether this request recorded the batch (a re-sent batch answers with its report).
    pub created: bool,
    pub summary: BatchSummary,
    pub documents: Vec<BatchDocumentReport>,
}

/// Manifests being archived at once; more wait their turn (SQLite has one writer anyway).
static COMMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

impl Archive {
    /// Archives the documents of a manifest whose content was uploaded beforehand. With
    /// `accept_partial`, documents that fail their checks are recorded as rejected and the
    /// others archived; without it, any failure refuses the whole batch.
    ///
    /// Archiving runs in its own task, holding a permit: a client that disconnects (a proxy
    /// timeout on a large batch) does not cancel it, its retry finds the batch further along,
    /// and at most a few manifests are in memory at once.
    pub async fn receive_batch(
        &self,
        scope: Scope,
        manifest: Manifest,
        accept_partial: bool,
    ) -> Result<BatchReceipt, BatchError> {
        let permit = COMMITS
            .acquire()
            .await
            .expect("the semaphore of batch commits is never closed");
        let archive = self.clone();
        // The request's span goes with it: the archiving's log lines keep the request id.
        tokio::spawn(
            async move {
                let _permit = permit;
                archive
                    .receive_batch_now(&scope, manifest, accept_partial)
                    .await
            }
            .instrument(tracing::Span::current()),
        )
        .await
        .unwrap_or_else(|error| match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => Err(BatchError::Interrupted(error)),
        })
    }

    async fn receive_batch_now(
        &self,
        scope: &Scope,
        manifest: Manifest,
        accept_partial: bool,
    ) -> Result<BatchReceipt, BatchError> {
        let header = manifest.header.clone();
        if let Some(bound) = scope.bound_source()
            && bound != header.source
        {
            return Err(AccessError::Forbidden {
                field: Some("source".into()),
                message: format!("this token archives for the source {bound} only"),
            }
            .into());
        }
        let fingerprint = manifest.fingerprint();
        let mut timings = PhaseTimings::default();
        let existing = self
            .catalog
            .batch_by_ref(scope, &header.source, &header.batch_ref)
            .await?;
        let (batch, created) = match existing {
            Some(batch) => (batch, false),
            None => {
                // The entries become the documents to record: a large manifest is held once.
                let started = Instant::now();
                let documents = self.check_content(scope, manifest.entries).await?;
                timings.check += started.elapsed();
                if !accept_partial {
                    let errors = located_errors(documents.iter().map(|document| {
                        (
                            document.position as usize,
                            document.line.map(|line| line as usize),
                            &document.metadata,
                        )
                    }));
                    if !errors.is_empty() {
                        return Err(BatchError::Invalid(errors));
                    }
                }
                let new = NewBatch {
                    id: DocumentId::new().to_string(),
                    header: header.clone(),
                    fingerprint: fingerprint.clone(),
                    documents,
                };
                let started = Instant::now();
                let created = self.catalog.create_batch(scope, &new).await?;
                timings.record += started.elapsed();
                created
            }
        };
        if batch.fingerprint != fingerprint {
            return Err(BatchError::Conflict {
                batch_ref: header.batch_ref,
                existing: batch.id,
            });
        }
        let batch_of = BatchOfDocument {
            id: &batch.id,
            batch_ref: &batch.batch_ref,
        };
        loop {
            let started = Instant::now();
            let pending = self
                .catalog
                .pending_batch_documents(scope, &batch.id, CHUNK)
                .await?;
            timings.read_pending += started.elapsed();
            if pending.is_empty() {
                break;
            }
            let documents: Vec<BatchArchive> = pending.into_iter().map(to_archive).collect();
            // A batch resumed by another token of the same source: its rights are checked too.
            for document in &documents {
                if let Ok(new) = &document.document {
                    scope.check_archive(&new.metadata)?;
                }
            }
            let started = Instant::now();
            let archived = self
                .catalog
                .archive_batch_documents(scope, batch_of, documents)
                .await?;
            timings.archive += started.elapsed();
            METRICS.archived(archived.documents, archived.bytes);
        }
        let started = Instant::now();
        let (summary, completed_now) = self
            .catalog
            .complete_batch(scope, &batch.id)
            .await?
            .ok_or_else(|| CatalogError::Corrupt(format!("batch {} vanished", batch.id)))?;
        if completed_now {
            METRICS.batches_completed.inc();
            for (outcome, count) in [
                ("archived", summary.totals.archived),
                ("already_archived", summary.totals.already_archived),
                ("rejected", summary.totals.rejected),
            ] {
                METRICS
                    .batch_documents
                    .get_or_create(&OutcomeLabels { outcome })
                    .inc_by(count as u64);
            }
        }
        let documents = self.catalog.batch_documents(scope, &batch.id).await?;
        timings.report += started.elapsed();
        tracing::info!(
            check_ms = timings.check.as_millis(),
            record_ms = timings.record.as_millis(),
            read_pending_ms = timings.read_pending.as_millis(),
            archive_ms = timings.archive.as_millis(),
            report_ms = timings.report.as_millis(),
            batch_id = %summary.id,
            archived = summary.totals.archived,
            already_archived = summary.totals.already_archived,
            rejected = summary.totals.rejected,
            created,
            "batch received"
        );
        Ok(BatchReceipt {
            created,
            summary,
            documents,
        })
    }

    /// Checks every accepted document against the content store (present, of the declared
    /// size, of an accepted type agreeing with its file name) and the caller's rights.
    async fn check_content(
        &self,
        scope: &Scope,
        entries: Vec<ManifestEntry>,
    ) -> Result<Vec<NewBatchDocument>, BatchError> {
        let created = dossiers_created(&entries);
        let hashes: Vec<&str> = entries
            .iter()
            .filter_map(|entry| Some(entry.sha256.as_ref()?.as_str()))
            .collect();
        let held = self.catalog.blobs_held(scope, &hashes).await?;
        // Futures are made as the stream pulls them: a future per document made up front
        // would hold kilobytes each, hundreds of megabytes for a large batch.
        futures::stream::iter(entries)
            .map(|entry| self.check_entry(scope, entry, &created, &held))
            .buffered(CONTENT_CHECKS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    async fn check_entry(
        &self,
        scope: &Scope,
        entry: ManifestEntry,
        created: &HashMap<String, usize>,
        held: &HashSet<String>,
    ) -> Result<NewBatchDocument, BatchError> {
        let mut errors = match &entry.metadata {
            Ok(_) => Vec::new(),
            Err(errors) => errors.clone(),
        };
        let mut media = None;
        if let (Some(sha256), Some(size)) = (&entry.sha256, entry.size) {
            let held = held.contains(sha256.as_str());
            match self.check_blob(held, sha256, size, &entry.file).await? {
                Ok(media_type) => media = Some(media_type),
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty()
            && let Some(metadata) = entry.parsed_metadata()
        {
            scope.check_archive(&metadata)?;
            errors.extend(
                self.check_dossiers(scope, &metadata, &entry, created)
                    .await?,
            );
        }
        Ok(NewBatchDocument {
            position: entry.position as i64,
            line: entry.line.map(|line| line as i64),
            sha256: entry
                .sha256
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            size: entry.size.unwrap_or(0) as i64,
            media_type: media,
            metadata: match entry.metadata {
                Ok(text) if errors.is_empty() => Ok(text),
                _ => Err(errors),
            },
            file: entry.file,
        })
    }

    /// The dossiers a document names that it cannot be linked to: unknown (and neither to be
    /// created by it nor by an earlier document of the batch) or cancelled. Checked again when
    /// the document is archived.
    async fn check_dossiers(
        &self,
        scope: &Scope,
        metadata: &DocumentMetadata,
        entry: &ManifestEntry,
        created: &HashMap<String, usize>,
    ) -> Result<Vec<FieldError>, BatchError> {
        if metadata.dossiers.is_empty() {
            return Ok(Vec::new());
        }
        let references: Vec<String> = metadata
            .dossiers
            .iter()
            .map(|link| link.reference.clone())
            .collect();
        let statuses = self.catalog.dossier_statuses(scope, &references).await?;
        let mut errors = Vec::new();
        for (index, link) in metadata.dossiers.iter().enumerate() {
            let status = statuses
                .iter()
                .find(|(reference, _)| *reference == link.reference)
                .map(|(_, status)| *status);
            let message = match status {
                Some(DossierStatus::Cancelled) => cancelled_message(&link.reference),
                None if link.create.is_none()
                    && created
                        .get(&link.reference)
                        .is_none_or(|first| *first >= entry.position) =>
                {
                    unknown_message(&link.reference)
                }
                _ => continue,
            };
            let field = format!("dossiers[{index}]");
            errors.push(FieldError::new(
                if entry.line.is_some() {
                    csv_field(&field)
                } else {
                    field
                },
                message,
            ));
        }
        Ok(errors)
    }

    /// The media type of an uploaded blob, or why it cannot be archived as named.
    /// `held`: whether the tenant uploaded or archived this content.
    async fn check_blob(
        &self,
        held: bool,
        sha256: &Sha256Hex,
        size: u64,
        file: &str,
    ) -> Result<Result<String, FieldError>, BatchError> {
        // Content this process stored lately need not be read back: its size and type were
        // taken from the upload itself.
        let recent = held.then(|| self.content.recently_stored(sha256)).flatten();
        let stored = match recent {
            Some(recent) => Some(recent.size),
            None if held => self.content.stored_size(sha256).await?,
            None => None,
        };
        match stored {
            None => {
                return Ok(Err(FieldError::new(
                    "sha256",
                    format!(
                        "no content with this hash was uploaded: PUT /api/v1/blobs/{sha256} first"
                    ),
                )));
            }
            Some(stored) if stored != size => {
                return Ok(Err(FieldError::new(
                    "size",
                    format!("is {size} but the uploaded content has {stored} bytes"),
                )));
            }
            Some(_) => {}
        }
        let sniffed = match recent {
            Some(recent) => recent.sniffed,
            None => Sniffed::of(&self.content.first_bytes(sha256, size, SNIFF_LENGTH).await?),
        };
        let name = file.rsplit('/').next();
        Ok(sniffed
            .detect(name, None)
            .map(|media_type| media_type.to_string())
            .map_err(|error| FieldError::new("file", error.to_string())))
    }
}

/// The dossiers a batch asks to create, each with the position of the first document asking:
/// documents after it may name the dossier by its reference alone, as they are archived in
/// manifest order.
fn dossiers_created(entries: &[ManifestEntry]) -> HashMap<String, usize> {
    let mut created = HashMap::new();
    for entry in entries {
        // Most entries create nothing: a substring test spares them a parse.
        let Ok(text) = &entry.metadata else { continue };
        if !text.contains("\"create\"") {
            continue;
        }
        let Ok(metadata) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        for link in metadata["dossiers"].as_array().into_iter().flatten() {
            if link["create"] == true
                && let Some(reference) = link["reference"].as_str()
            {
                created
                    .entry(reference.trim().to_string())
                    .or_insert(entry.position);
            }
        }
    }
    created
}

/// A pending document as the catalog archives it: its metadata parsed again from what was
/// recorded (it passed the same checks when the batch was received).
fn to_archive(pending: PendingBatchDocument) -> BatchArchive {
    let parsed = (|| {
        let text = pending.metadata.as_deref().ok_or("no metadata recorded")?;
        let metadata =
            parse_metadata_json(text).map_err(|_| "recorded metadata no longer valid")?;
        let sha256 = Sha256Hex::parse(&pending.sha256).map_err(|_| "recorded hash unreadable")?;
        let media_type = pending.media_type.clone().ok_or("no media type recorded")?;
        Ok::<_, &str>(NewDocument::new(
            metadata,
            ContentDescription {
                sha256,
                size: pending.size as u64,
                media_type,
                file_name: pending.file.rsplit('/').next().map(str::to_string),
            },
        ))
    })();
    BatchArchive {
        position: pending.position,
        document: parsed.map_err(|reason| vec![FieldError::new("metadata", reason)]),
    }
}
