//! The extraction worker: takes jobs from the catalog's queue one at a time, reads the
//! content (verified), has the extraction process read its text ([`super::isolation`]) and
//! records the outcome, which re-indexes the document. One job at a time: OCR takes a core
//! for seconds per page, and archiving and search must keep the other.

use std::path::PathBuf;
use std::time::Duration;

use futures::TryStreamExt;
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use super::isolation::{IsolatedReader, UntrustedFileLimits};
use super::ocr::Ocr;
use super::{ExtractionJob, ExtractionOutcome, extractable};
use crate::archive::Archive;
use crate::catalog::CommitWatch;
use crate::dates::format_timestamp;
use crate::identifiers::Sha256Hex;
use crate::metrics::{METRICS, OutcomeLabels};

/// How long a taken job is this worker's: past it, another worker may take it.
const LEASE: Duration = Duration::from_secs(30 * 60);
/// How often an idle worker looks for jobs that other nodes queued.
const POLL: Duration = Duration::from_secs(5);
/// Larger files are not read: a 64 MiB scan is already hundreds of pages.
const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;
/// How long to wait after the catalog failed before trying again.
const BACKOFF: Duration = Duration::from_secs(5);

/// What the server tells of its worker: whether OCR runs. The worker is woken by the catalog
/// when a write queues jobs, by no one else.
#[derive(Clone)]
pub struct Extraction {
    /// Why OCR is off on this server, when it is.
    pub ocr_off: Option<String>,
}

/// The running worker; [`ExtractionTask::stop`] ends it.
pub struct ExtractionTask {
    task: JoinHandle<()>,
}

impl ExtractionTask {
    /// Stops at once: a job cut short stays in the queue (its lease is released at the next
    /// start) and runs again; extraction only ever writes its result whole.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Starts the worker. `scratch` holds the temporary files OCR needs; `ocr` says whether
/// this server may run OCR (if Tesseract is installed); `limits` bound the extraction
/// process that reads the files.
pub async fn start(
    archive: Archive,
    scratch: PathBuf,
    ocr: bool,
    limits: UntrustedFileLimits,
    node: String,
) -> Result<(Extraction, ExtractionTask), crate::catalog::CatalogError> {
    // Jobs this server was running when it stopped are taken again now, not at lease end.
    archive.catalog.release_extraction_claims(&node).await?;
    let ocr = if ocr {
        Ocr::detect().await
    } else {
        Err("OCR is turned off in this server's configuration (ocr = false)".to_string())
    };
    match &ocr {
        Ok(_) => tracing::info!("OCR on: Tesseract with French found"),
        Err(reason) => tracing::warn!(%reason, "OCR off: scans wait for a server with OCR"),
    }
    METRICS.ocr_enabled.set(i64::from(ocr.is_ok()));
    let extraction = Extraction {
        ocr_off: ocr.as_ref().err().cloned(),
    };
    let queued = archive.catalog.watch_jobs();
    let worker = Worker {
        archive,
        reader: IsolatedReader::new(limits, scratch),
        node,
        ocr_off: ocr.as_ref().err().cloned(),
        ocr: ocr.ok(),
    };
    let task = tokio::spawn(worker.run(queued));
    Ok((extraction, ExtractionTask { task }))
}

struct Worker {
    archive: Archive,
    /// The extraction process, which reads the files.
    reader: IsolatedReader,
    /// This server's node id: whose leases it takes.
    node: String,
    ocr: Option<Ocr>,
    ocr_off: Option<String>,
}

impl Worker {
    async fn run(mut self, mut queued: CommitWatch) {
        loop {
            let now = OffsetDateTime::now_utc();
            let claimed = self
                .archive
                .catalog
                .claim_extractions(
                    &self.node,
                    self.ocr_off.as_deref(),
                    1,
                    &format_timestamp(now),
                    &format_timestamp(now + LEASE),
                )
                .await;
            let jobs = match claimed {
                Ok(jobs) => jobs,
                Err(error) => {
                    tracing::error!(error = %error, "cannot take extraction jobs");
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    () = queued.committed() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            for job in jobs {
                // The extraction process bounds its text too; this server trusts no answer more.
                let outcome = self.extract(&job).await.bounded();
                let label = match &outcome {
                    ExtractionOutcome::Done { method, .. } => method.as_str(),
                    ExtractionOutcome::Failed(_) => "failed",
                    ExtractionOutcome::NeedsOcr => "needs_ocr",
                    ExtractionOutcome::Retry(_) => "retry",
                };
                // A file without readable text is the document's state, shown on it; a
                // failure around the job is the operator's business.
                match &outcome {
                    ExtractionOutcome::Failed(reason) => {
                        tracing::info!(document_id = %job.document_id, %reason, "no text could be read");
                    }
                    ExtractionOutcome::Retry(reason) => {
                        tracing::warn!(document_id = %job.document_id, %reason, "text extraction will be tried again");
                    }
                    _ => {
                        tracing::debug!(document_id = %job.document_id, outcome = label, "text extracted")
                    }
                }
                if let Err(error) = self.archive.catalog.finish_extraction(&job, outcome).await {
                    // The lease lapses and the job runs again.
                    tracing::error!(document_id = %job.document_id, error = %error, "cannot record a text extraction");
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
                METRICS
                    .text_extractions
                    .get_or_create(&OutcomeLabels { outcome: label })
                    .inc();
            }
        }
    }

    async fn extract(&mut self, job: &ExtractionJob) -> ExtractionOutcome {
        if job.size > MAX_INPUT_BYTES {
            return ExtractionOutcome::Failed(format!(
                "the file ({} MiB) is larger than the {} MiB text extraction reads",
                job.size >> 20,
                MAX_INPUT_BYTES >> 20
            ));
        }
        if !extractable(&job.media_type) {
            return ExtractionOutcome::Failed(format!(
                "no text is read from {} content",
                job.media_type
            ));
        }
        let bytes = match self.read(job).await {
            Ok(bytes) => bytes,
            Err(reason) => return ExtractionOutcome::Retry(reason),
        };
        // The file is from outside: read in the extraction process, never here.
        self.reader
            .read(&job.media_type, &bytes, self.ocr.as_ref())
            .await
    }

    async fn read(&self, job: &ExtractionJob) -> Result<Vec<u8>, String> {
        let sha256 =
            Sha256Hex::parse(&job.sha256).map_err(|_| format!("unreadable hash {}", job.sha256))?;
        let stream = self
            .archive
            .content
            .read(&sha256, job.size, 0..job.size)
            .await
            .map_err(|e| format!("cannot read the content: {e}"))?;
        stream
            .try_fold(Vec::with_capacity(job.size as usize), |mut all, chunk| {
                all.extend_from_slice(&chunk);
                std::future::ready(Ok(all))
            })
            .await
            .map_err(|e| format!("cannot read the content: {e}"))
    }
}
