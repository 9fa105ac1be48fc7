//! The text extraction queue: jobs leased to the servers' workers, their outcomes, and the
//! queue's length.

use async_trait::async_trait;

use super::{CatalogError, CommitWatch};
use crate::extraction::{ExtractionJob, ExtractionOutcome, QueueLength};

#[async_trait]
pub trait ExtractionQueue: Send + Sync + 'static {
    /// Resolves each time a write of this catalog queued jobs: the worker's wake-up.
    fn watch_jobs(&self) -> CommitWatch;

    /// Takes up to `limit` pending extraction jobs, oldest first, leasing them until
    /// `lease_until` (RFC 3339): another worker takes a job again only once its lease lapses.
    /// With `ocr_off` (why this server runs no OCR), jobs that need OCR are left, and say why
    /// they wait unless they already say so.
    /// `node` names the server taking them (its lease is its own to release).
    async fn claim_extractions(
        &self,
        node: &str,
        ocr_off: Option<&str>,
        limit: u32,
        now: &str,
        lease_until: &str,
    ) -> Result<Vec<ExtractionJob>, CatalogError>;

    /// Records what a worker made of a job. Done stores the text and re-indexes the document
    /// (a change in the sequence), in one transaction.
    async fn finish_extraction(
        &self,
        job: &ExtractionJob,
        outcome: ExtractionOutcome,
    ) -> Result<(), CatalogError>;

    /// Puts every failed extraction back in the queue, its tries counted afresh; how many.
    async fn retry_failed_extractions(&self) -> Result<u64, CatalogError>;

    /// Releases the leases a server left when it stopped, at its start: every lease of a
    /// single-file catalog (its only server), the leases of `node` on a shared one (the other
    /// nodes' jobs are running).
    async fn release_extraction_claims(&self, node: &str) -> Result<(), CatalogError>;

    /// Pending jobs, and how many of them need OCR.
    async fn extraction_queue(&self) -> Result<QueueLength, CatalogError>;
}
