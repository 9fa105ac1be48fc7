//! The change feed: every write to a document takes a number in one sequence, and the search
//! index follows it (or reads every document in archive order to rebuild from scratch).

use async_trait::async_trait;

use super::{CatalogError, CommitWatch};
use crate::documents::model::{Channel, Direction, DocumentId};
use crate::dossiers::DossierOnDocument;
use crate::parties::{CompanyOnDocument, IndividualOnDocument};

/// A document as the search index needs it: its tenant, its stable archive order, its text.
#[derive(Debug, Clone)]
pub struct IndexSource {
    pub tenant: String,
    pub archived_seq: i64,
    pub text: Option<String>,
    pub document: IndexedDocument,
}

impl IndexSource {
    /// The bytes of its extracted text.
    pub fn text_bytes(&self) -> u64 {
        self.text.as_ref().map_or(0, |text| text.len() as u64)
    }
}

/// The part of a [`Document`](crate::documents::model::Document) the index holds. Read by its
/// own query: a rebuild reads every document, and the rest of a document (content, extraction
/// state, email headers, attachments) cost a third of that read.
#[derive(Debug, Clone)]
pub struct IndexedDocument {
    pub id: DocumentId,
    pub media_type: String,
    pub direction: Direction,
    pub channel: Channel,
    pub source: String,
    pub document_type: String,
    pub document_date: String,
    pub title: Option<String>,
    pub agent: Option<String>,
    pub recipient: Option<String>,
    pub sensitive: bool,
    pub archived_at: String,
    pub batch_ref: Option<String>,
    pub individuals: Vec<IndividualOnDocument>,
    pub companies: Vec<CompanyOnDocument>,
    pub dossiers: Vec<DossierOnDocument>,
}

/// How much one bulk read for the index takes: at most `documents` (changes, for
/// [`ChangeFeed::changed_documents`]), and none further once the texts before it reach
/// `text_bytes`. The first is always taken, so a page's texts stay under `text_bytes` plus
/// one text (2 MiB at most); a document changed several times in a run counts its text each
/// time, which only makes the page smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexPage {
    pub documents: u32,
    pub text_bytes: u64,
}

impl IndexPage {
    /// Texts read at once. A page is read as one JSON value, which SQLite and PostgreSQL refuse
    /// beyond 1 GB: a text grows at most 6-fold escaped (a control character is `\u00XX`),
    /// so 16 MiB stays far below it, and adds at most a few tens of MiB to `ged reindex`'s
    /// peak memory (its target is 512 MB). Scanned letters of 20 KB of text still come
    /// 800 to a page.
    pub const TEXT_BYTES: u64 = 16 * 1024 * 1024;

    /// Pages of at most `documents` documents and [`Self::TEXT_BYTES`] of text.
    pub const fn of(documents: u32) -> Self {
        Self {
            documents,
            text_bytes: Self::TEXT_BYTES,
        }
    }
}

/// The documents touched by a run of changes, in their current state.
#[derive(Debug, Clone, Default)]
pub struct ChangedDocuments {
    /// The highest change sequence number covered; the next run starts after it.
    pub upto_seq: i64,
    /// How many changes the run covered.
    pub changes: usize,
    /// Whether the run reached the last change (when it was read).
    pub caught_up: bool,
    pub documents: Vec<IndexSource>,
    /// Documents changed in the run that no longer exist.
    pub removed: Vec<String>,
}

#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Resolves each time a write of this catalog took change numbers: the index writer's
    /// wake-up.
    fn watch_changes(&self) -> CommitWatch;

    /// The highest change sequence number (0 for an empty catalog).
    async fn latest_seq(&self) -> Result<i64, CatalogError>;

    /// The documents touched by the changes after `after_seq`, as many changes as `page`
    /// allows, every tenant, sensitive included: for the search index, which applies the scope
    /// at query time.
    async fn changed_documents(
        &self,
        after_seq: i64,
        page: IndexPage,
    ) -> Result<ChangedDocuments, CatalogError>;

    /// The documents in archive order after `after_archived_seq`, as many as `page` allows:
    /// for rebuilding the index from scratch.
    async fn documents_in_archive_order(
        &self,
        after_archived_seq: i64,
        page: IndexPage,
    ) -> Result<Vec<IndexSource>, CatalogError>;

    async fn document_count(&self) -> Result<i64, CatalogError>;
}
