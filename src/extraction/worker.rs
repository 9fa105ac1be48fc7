//! The extraction worker: takes jobs from the catalog's queue one at a time, reads the
//! content (verified), extracts its text and records the outcome, which re-indexes the
//! document. One job at a time: OCR takes a core for seconds per page, and archiving and
//! search must keep the other.

use std::path::PathBuf;
use std::time::Duration;

use futures::TryStreamExt;
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use super::ocr::{Ocr, OcrError};
use super::{ExtractionJob, ExtractionOutcome, TextMethod, needs_ocr, pdf};
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
/// A PDF's text layer is read in well under a second per page.
const PDF_TIMEOUT: Duration = Duration::from_secs(120);
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
/// this server may run OCR (if Tesseract is installed).
pub async fn start(
    archive: Archive,
    scratch: PathBuf,
    ocr: bool,
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
        scratch,
        node,
        ocr_off: ocr.as_ref().err().cloned(),
        ocr: ocr.ok(),
    };
    let task = tokio::spawn(worker.run(queued));
    Ok((extraction, ExtractionTask { task }))
}

struct Worker {
    archive: Archive,
    scratch: PathBuf,
    /// This server's node id: whose leases it takes.
    node: String,
    ocr: Option<Ocr>,
    ocr_off: Option<String>,
}

impl Worker {
    async fn run(self, mut queued: CommitWatch) {
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
                let outcome = match self.extract(&job).await {
                    ExtractionOutcome::Done {
                        method,
                        pages,
                        text,
                    } => ExtractionOutcome::Done {
                        method,
                        pages,
                        text: super::bounded(text),
                    },
                    other => other,
                };
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

    async fn extract(&self, job: &ExtractionJob) -> ExtractionOutcome {
        if job.size > MAX_INPUT_BYTES {
            return ExtractionOutcome::Failed(format!(
                "the file ({} MiB) is larger than the {} MiB text extraction reads",
                job.size >> 20,
                MAX_INPUT_BYTES >> 20
            ));
        }
        let bytes = match self.read(job).await {
            Ok(bytes) => bytes,
            Err(reason) => return ExtractionOutcome::Retry(reason),
        };
        match job.media_type.as_str() {
            "text/plain" => ExtractionOutcome::Done {
                method: TextMethod::Text,
                pages: 1,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            },
            "message/rfc822" => {
                let parsed =
                    match tokio::task::spawn_blocking(move || crate::email::parse(&bytes)).await {
                        Ok(parsed) => parsed,
                        Err(error) => return ExtractionOutcome::Failed(error.to_string()),
                    };
                match parsed.unreadable {
                    Some(reason) => ExtractionOutcome::Failed(reason),
                    None => ExtractionOutcome::Done {
                        method: TextMethod::Email,
                        pages: 1,
                        text: parsed.body.unwrap_or_default(),
                    },
                }
            }
            "application/pdf" => self.pdf(bytes).await,
            media_type if needs_ocr(media_type) => match &self.ocr {
                Some(ocr) => {
                    self.with_file(&bytes, |path, _| async move { ocr.image(&path).await })
                        .await
                }
                None => ExtractionOutcome::NeedsOcr,
            },
            other => ExtractionOutcome::Failed(format!("no text is read from {other} content")),
        }
    }

    async fn pdf(&self, bytes: Vec<u8>) -> ExtractionOutcome {
        let parsing = tokio::task::spawn_blocking(move || (pdf::page_texts(&bytes), bytes));
        // A parse that hangs fails its job; its thread runs on until the parser gives up.
        let (bytes, pages) = match tokio::time::timeout(PDF_TIMEOUT, parsing).await {
            Ok(Ok((pages, bytes))) => (bytes, pages),
            Ok(Err(error)) => return ExtractionOutcome::Failed(error.to_string()),
            Err(_) => {
                return ExtractionOutcome::Failed(format!(
                    "reading the PDF took longer than {} s",
                    PDF_TIMEOUT.as_secs()
                ));
            }
        };
        let pages = match pages {
            Ok(pages) => pages,
            Err(reason) => return ExtractionOutcome::Failed(reason),
        };
        if pdf::has_text_layer(&pages) {
            return ExtractionOutcome::Done {
                method: TextMethod::Pdf,
                pages: pages.len() as u32,
                text: pdf::join_pages(&pages),
            };
        }
        match &self.ocr {
            Some(ocr) => {
                self.with_file(&bytes, |path, scratch| async move {
                    ocr.pdf(&path, &scratch).await
                })
                .await
            }
            None => ExtractionOutcome::NeedsOcr,
        }
    }

    /// Runs OCR on the bytes written to a temporary file, in a temporary folder.
    async fn with_file<F, Fut>(&self, bytes: &[u8], ocr: F) -> ExtractionOutcome
    where
        F: FnOnce(PathBuf, PathBuf) -> Fut,
        Fut: std::future::Future<Output = Result<super::ocr::Recognised, OcrError>>,
    {
        let folder = match tempfile::Builder::new()
            .prefix("extract-")
            .tempdir_in(&self.scratch)
        {
            Ok(folder) => folder,
            Err(error) => return ExtractionOutcome::Retry(format!("no scratch folder: {error}")),
        };
        let input = folder.path().join("input");
        if let Err(error) = tokio::fs::write(&input, bytes).await {
            return ExtractionOutcome::Retry(format!("cannot write a scratch file: {error}"));
        }
        let pages = folder.path().join("pages");
        if let Err(error) = tokio::fs::create_dir(&pages).await {
            return ExtractionOutcome::Retry(format!("cannot write a scratch folder: {error}"));
        }
        match ocr(input, pages).await {
            Ok(recognised) => ExtractionOutcome::Done {
                method: TextMethod::Ocr,
                pages: recognised.pages,
                text: recognised.text,
            },
            Err(OcrError::Input(reason)) => ExtractionOutcome::Failed(reason),
            Err(OcrError::Program(reason)) => ExtractionOutcome::Retry(reason),
        }
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
