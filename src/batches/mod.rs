//! Batches ("lots"): how scanning centres deliver scanned mail, hundreds to tens of thousands
//! of files at a time, over networks that drop.
//!
//! The protocol has two steps. The centre first uploads each file's bytes under their SHA-256
//! (`PUT /api/v1/blobs/{sha256}`, skipping what `POST /api/v1/blobs/missing` or `HEAD` says is
//! there), then commits the
//! manifest (`POST /api/v1/batches`), which archives each document atomically and answers with
//! a per-document report. A batch is identified by its source and the centre's own
//! `batch_ref`: sending it again returns the first report, and a batch interrupted anywhere
//! resumes where it stopped, because each document's outcome is written in the same catalog
//! transaction as the document. See docs/batches.md.

pub mod client;
pub mod http;
pub mod manifest;

use serde::Serialize;

pub use manifest::{BatchHeader, Manifest, ManifestEntry, ManifestFormat, read_manifest};

use crate::documents::new::NewDocument;
use crate::validation::FieldError;

/// Where a document of a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Accepted, not archived yet (the batch was interrupted, or is being archived).
    Pending,
    Archived,
    /// The source had already archived this document (same external id and content).
    AlreadyArchived,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Archived => "archived",
            Self::AlreadyArchived => "already_archived",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "pending" => Self::Pending,
            "archived" => Self::Archived,
            "already_archived" => Self::AlreadyArchived,
            "rejected" => Self::Rejected,
            _ => return None,
        })
    }
}

/// How many documents of a batch stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BatchTotals {
    pub documents: i64,
    pub archived: i64,
    pub already_archived: i64,
    pub rejected: i64,
    pub pending: i64,
}

/// A batch as listed: what it is and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BatchSummary {
    pub id: String,
    pub batch_ref: String,
    pub source: String,
    pub scanned_at: String,
    /// `archiving` until every document has an outcome, then `completed`.
    pub status: String,
    pub received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    pub totals: BatchTotals,
    #[serde(skip)]
    pub fingerprint: String,
}

/// One document's line in a batch report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BatchDocumentReport {
    pub position: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    pub file: String,
    pub outcome: Outcome,
    /// The archived document, or the one archived before (`already_archived`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// A batch about to be recorded, every document with its outcome so far.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub id: String,
    pub header: BatchHeader,
    pub fingerprint: String,
    pub documents: Vec<NewBatchDocument>,
}

#[derive(Debug, Clone)]
pub struct NewBatchDocument {
    pub position: i64,
    pub line: Option<i64>,
    pub file: String,
    pub sha256: String,
    pub size: i64,
    pub media_type: Option<String>,
    /// The metadata to archive the document with, or why it was refused.
    pub metadata: Result<String, Vec<FieldError>>,
}

/// A document of a batch still to archive, as recorded when the batch was received.
#[derive(Debug, Clone)]
pub struct PendingBatchDocument {
    pub position: i64,
    pub file: String,
    pub sha256: String,
    pub size: i64,
    pub media_type: Option<String>,
    pub metadata: Option<String>,
}

/// What to do with one pending document: archive it, or record why it cannot be.
#[derive(Debug, Clone)]
pub struct BatchArchive {
    pub position: i64,
    pub document: Result<NewDocument, Vec<FieldError>>,
}

/// The batch a document arrived in.
#[derive(Debug, Clone, Copy)]
pub struct BatchOfDocument<'a> {
    pub id: &'a str,
    pub batch_ref: &'a str,
}

/// `GET /api/v1/batches` criteria.
#[derive(Debug, Clone, Default)]
pub struct BatchFilter {
    pub source: Option<String>,
    /// Received at or after (RFC 3339, UTC).
    pub from: Option<String>,
    /// Received before.
    pub to: Option<String>,
    pub status: Option<String>,
    pub limit: u32,
}
