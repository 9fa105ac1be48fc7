//! The catalog: the source of truth for metadata (documents, parties, the change sequence and
//! the audit log), behind one narrow interface that each SQL backend fills.
//!
//! Every method that touches documents takes the caller's [`Scope`]: tenant isolation is
//! applied here, never left to handlers.

mod postgres;
mod sqlite;

use std::collections::HashSet;

use async_trait::async_trait;
use tracing::Instrument;

pub use postgres::PostgresCatalog;
pub use sqlite::SqliteCatalog;

/// The SQL dialect a catalog backend speaks, where the shared statements differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

use crate::access::tokens::TokenRecord;
use crate::access::{Scope, TenantId};
use crate::audit::{AuditEntry, AuditFilter};
use crate::batches::{
    BatchArchive, BatchDocumentReport, BatchFilter, BatchOfDocument, BatchSummary, NewBatch,
    PendingBatchDocument,
};
use crate::documents::model::{
    Channel, ContentDescription, Direction, Document, DocumentId, DocumentMetadata,
};
use crate::dossiers::{
    Dossier, DossierFilter, DossierOnDocument, DossierPage, DossierStatus, Linked, NewDossier,
};
use crate::email::EmailHeaders;
use crate::extraction::{ExtractionJob, ExtractionOutcome, InitialText, QueueLength};
use crate::parties::{CompanyOnDocument, IndividualOnDocument, Party, ReferenceKind};

/// Begins a transaction with `statement`, in a task of its own.
///
/// sqlx 0.8 can leave the transaction of a caller dropped while beginning it open on the
/// pooled connection, without the rollback it queues for a transaction dropped later
/// (PostgreSQL: during `BEGIN`'s round trip, launchbadge/sqlx#4393; SQLite: while a custom
/// `BEGIN` is checked). The next borrower's statements then run inside it: an upload record
/// acknowledged there is never committed, and on SQLite every later write fails. A request the
/// client gives up on is dropped wherever it stands; this task is not, and a transaction
/// nobody takes from it is dropped whole, its rollback queued.
async fn begin_detached<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statement: &'static str,
) -> Result<sqlx::Transaction<'static, DB>, CatalogError> {
    let pool = pool.clone();
    // In the request's span: a BEGIN queued behind other writes is logged with its request.
    tokio::spawn(async move { pool.begin_with(statement).await }.in_current_span())
        .await
        .unwrap_or_else(|error| match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a runtime shutting down cancels the task.
            Err(_) => Err(sqlx::Error::PoolClosed),
        })
        .map_err(CatalogError::from)
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog database error")]
    Database(#[from] sqlx::Error),
    #[error("catalog migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The input contradicts what is archived (HTTP 409): the references of one party entry
    /// designate different parties or contradict the party they designate; a dossier
    /// reference is taken; a status change a dossier cannot make.
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// The input names what the catalog does not hold or refuses (HTTP 422): an unknown
    /// dossier or category, a cancelled dossier.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A stored row the code cannot read back: a bug or a hand-edited database.
    #[error("catalog holds an unreadable value: {0}")]
    Corrupt(String),
}

impl CatalogError {
    /// Places a party conflict at the entry of the input that caused it.
    pub(crate) fn at_field(self, entry: &str) -> Self {
        let place = |field: String| {
            if field.is_empty() {
                entry.to_string()
            } else {
                format!("{entry}.{field}")
            }
        };
        match self {
            Self::Conflict { field, message } => Self::Conflict {
                field: place(field),
                message,
            },
            Self::Invalid { field, message } => Self::Invalid {
                field: place(field),
                message,
            },
            other => other,
        }
    }
}

/// A document about to be archived; its content is already stored durably.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub id: DocumentId,
    pub metadata: DocumentMetadata,
    pub content: ContentDescription,
    pub text: InitialText,
    /// The headers, when the document is an email.
    pub email: Option<EmailHeaders>,
    /// Documents archived with this one (an email's attachments): same metadata but the
    /// title, no external id, each pointing back at this document.
    pub attachments: Vec<NewAttachment>,
}

impl NewDocument {
    /// A document whose text the extraction queue will read.
    pub fn new(metadata: DocumentMetadata, content: ContentDescription) -> Self {
        Self {
            id: DocumentId::new(),
            metadata,
            content,
            text: InitialText::Queue,
            email: None,
            attachments: Vec::new(),
        }
    }
}

/// An email attachment archived as a document of its own; its content is already stored.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub id: DocumentId,
    pub content: ContentDescription,
    pub text: InitialText,
}

/// What an insert did.
#[derive(Debug, Clone)]
pub enum Inserted {
    Created(Document),
    /// A document with the same source and external id was already archived; nothing was written.
    Existing(Document),
}

/// What a write archived: new documents and their bytes (re-sent ones not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Archived {
    pub documents: u64,
    pub bytes: u64,
}

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

/// The part of a [`Document`] the index holds. Read by its own query: a rebuild reads every
/// document, and the rest of a document (content, extraction state, email headers,
/// attachments) cost a third of that read.
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
/// [`Catalog::changed_documents`]), and none further once the texts before it reach
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

/// Where a document's content should be, for verification.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ContentReference {
    pub id: String,
    pub sha256: String,
    pub size: i64,
}

#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Answers when the database can serve a query.
    async fn ping(&self) -> Result<(), CatalogError>;

    /// Archives a document's metadata, its parties, a change sequence number and an audit entry
    /// in one transaction: all of them or none.
    async fn insert_document(
        &self,
        scope: &Scope,
        new: NewDocument,
    ) -> Result<Inserted, CatalogError>;

    async fn document(
        &self,
        scope: &Scope,
        id: DocumentId,
    ) -> Result<Option<Document>, CatalogError>;

    async fn document_by_external_id(
        &self,
        scope: &Scope,
        source: &str,
        external_id: &str,
    ) -> Result<Option<Document>, CatalogError>;

    /// Whether any tenant uploaded or archived this content: operator-level, for `ged verify`
    /// to tell an interrupted upload's leftover from damaged content.
    async fn content_recorded(&self, sha256: &str) -> Result<bool, CatalogError>;

    /// Documents of every tenant, by id, after `after`: operator-level, for `ged verify`.
    async fn content_references(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ContentReference>, CatalogError>;

    /// Audit entries of every tenant in sequence order after `after_seq`: for `ged verify`.
    async fn audit_entries(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CatalogError>;

    /// Documents whose row disagrees with the audit entry of their archiving (missing entry,
    /// or another hash, size or sequence number): for `ged verify`.
    async fn documents_disagreeing_with_audit(
        &self,
        limit: u32,
    ) -> Result<Vec<String>, CatalogError>;

    /// Appends a read event (view, download, search) to the audit log.
    async fn record_access(
        &self,
        scope: &Scope,
        action: &str,
        document: Option<&DocumentId>,
        details: &serde_json::Value,
    ) -> Result<(), CatalogError>;

    /// The scope's tenant's audit entries matching `filter`, in sequence order.
    async fn audit_trail(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, CatalogError>;

    /// A random secret of the archive, created on first use and shared by every node: the
    /// key that hashes identifiers in the audit log, the catalog's identity.
    async fn archive_secret(&self, name: &str) -> Result<Vec<u8>, CatalogError>;

    /// The archive's setting `name`, recorded as `value` when it has none yet.
    async fn bind_setting(&self, name: &str, value: &str) -> Result<String, CatalogError>;

    /// Creates the tenant unless it exists.
    async fn ensure_tenant(&self, tenant: &TenantId) -> Result<(), CatalogError>;

    /// Stores a token (its secret only as a hash) and audits its creation.
    async fn insert_token(
        &self,
        scope: &Scope,
        token: &TokenRecord,
        secret_sha256: &str,
    ) -> Result<(), CatalogError>;

    async fn token_by_secret_hash(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<TokenRecord>, CatalogError>;

    /// Opens a web session for a token: stores the session id's hash and its form secret, and
    /// forgets sessions that expired.
    async fn open_session(
        &self,
        token_id: &str,
        session_sha256: &str,
        csrf: &str,
        expires_at: &str,
    ) -> Result<(), CatalogError>;

    /// The token of an unexpired session, and the session's form secret.
    async fn session(
        &self,
        session_sha256: &str,
        now: &str,
    ) -> Result<Option<(TokenRecord, String)>, CatalogError>;

    async fn close_session(&self, session_sha256: &str) -> Result<(), CatalogError>;

    /// Tokens of one tenant, or of all when `None` (the operator's view).
    async fn tokens(&self, tenant: Option<&TenantId>) -> Result<Vec<TokenRecord>, CatalogError>;

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

    /// Revokes a token of the scope's tenant; `false` when there is no such (unrevoked) token.
    async fn revoke_token(&self, scope: &Scope, id: &str) -> Result<bool, CatalogError>;

    /// Records that the scope's tenant uploaded this content (so its manifests may name it).
    async fn record_blob_uploads(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<(), CatalogError>;

    /// Those of `sha256s` that the scope's tenant uploaded or archived a document of: one
    /// query for a whole manifest, or for a client asking which of its files to send.
    async fn blobs_held(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<HashSet<String>, CatalogError>;

    /// Records a batch and its documents (pending, or rejected with their errors) and audits
    /// its receipt, unless the tenant already has a batch of that source and reference.
    /// Returns the batch as recorded, and whether this call created it.
    async fn create_batch(
        &self,
        scope: &Scope,
        batch: &NewBatch,
    ) -> Result<(BatchSummary, bool), CatalogError>;

    /// A batch in the scope (its tenant, and its source for source-bound roles).
    async fn batch(&self, scope: &Scope, id: &str) -> Result<Option<BatchSummary>, CatalogError>;

    async fn batch_by_ref(
        &self,
        scope: &Scope,
        source: &str,
        batch_ref: &str,
    ) -> Result<Option<BatchSummary>, CatalogError>;

    /// Every document of a batch with its outcome, in manifest order.
    async fn batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Vec<BatchDocumentReport>, CatalogError>;

    /// The first `limit` documents of a batch still to archive, in manifest order.
    async fn pending_batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
        limit: u32,
    ) -> Result<Vec<PendingBatchDocument>, CatalogError>;

    /// Archives documents of a batch, each atomically with its outcome; skips those no longer
    /// pending. Tells what this call archived.
    async fn archive_batch_documents(
        &self,
        scope: &Scope,
        batch: BatchOfDocument<'_>,
        documents: Vec<BatchArchive>,
    ) -> Result<Archived, CatalogError>;

    /// Marks the batch completed when nothing in it is pending; the batch as it then stands,
    /// and whether this call completed it.
    async fn complete_batch(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Option<(BatchSummary, bool)>, CatalogError>;

    /// The scope's batches matching `filter`, newest first.
    async fn batches(
        &self,
        scope: &Scope,
        filter: &BatchFilter,
    ) -> Result<Vec<BatchSummary>, CatalogError>;

    /// The scope's tenant's dossier categories, in their order.
    async fn dossier_categories(&self, scope: &Scope) -> Result<Vec<String>, CatalogError>;

    /// Replaces the tenant's dossier categories (dossiers keep theirs) and audits the change.
    async fn set_dossier_categories(
        &self,
        scope: &Scope,
        categories: &[String],
    ) -> Result<(), CatalogError>;

    /// Creates an open dossier with its parties and audits it; a taken reference is a conflict,
    /// a category outside the tenant's list or an unknown `follows` is invalid.
    async fn create_dossier(
        &self,
        scope: &Scope,
        new: &NewDossier,
    ) -> Result<Dossier, CatalogError>;

    async fn dossier(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Dossier>, CatalogError>;

    /// The statuses of the dossiers of these references that exist in the scope's tenant.
    async fn dossier_statuses(
        &self,
        scope: &Scope,
        references: &[String],
    ) -> Result<Vec<(String, DossierStatus)>, CatalogError>;

    /// The scope's tenant's dossiers matching `filter`, newest opened first.
    async fn dossiers(
        &self,
        scope: &Scope,
        filter: &DossierFilter,
    ) -> Result<DossierPage, CatalogError>;

    /// Closes or cancels an open dossier, records who and when, and re-indexes its documents.
    /// `None` when there is no such dossier; a change the status cannot make is a conflict.
    async fn change_dossier_status(
        &self,
        scope: &Scope,
        reference: &str,
        status: DossierStatus,
        reason: Option<&str>,
    ) -> Result<Option<(Dossier, i64)>, CatalogError>;

    /// Links a document the scope sees to a dossier. `None` when either does not exist in the
    /// scope; a cancelled dossier is invalid.
    async fn link_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<Linked>, CatalogError>;

    /// Unlinks; `None` when the document (seen by the scope) is not in that dossier. Returns the
    /// change sequence number.
    async fn unlink_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<i64>, CatalogError>;

    /// The documents of a dossier the scope sees, by document date then archive order.
    async fn dossier_documents(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Vec<Document>>, CatalogError>;

    /// The party of the scope's tenant one of its references designates. A SIREN or SIRET
    /// designates the company that holds it (or, for a SIRET, its SIREN).
    async fn party(
        &self,
        scope: &Scope,
        kind: ReferenceKind,
        value: &str,
    ) -> Result<Option<Party>, CatalogError>;

    /// The dossiers concerning a party, open ones first, then newest opened first.
    async fn party_dossiers(
        &self,
        scope: &Scope,
        party_id: i64,
    ) -> Result<Vec<Dossier>, CatalogError>;

    /// The documents concerning a party that the scope sees, newest document date first: at
    /// most `limit` of them (all with `None`), and how many there are.
    async fn party_documents(
        &self,
        scope: &Scope,
        party_id: i64,
        limit: Option<u32>,
    ) -> Result<(Vec<Document>, u64), CatalogError>;

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

    /// The text of the documents the scope sees, for those that have one: its first
    /// `max_chars` characters.
    async fn document_texts(
        &self,
        scope: &Scope,
        ids: &[DocumentId],
        max_chars: u32,
    ) -> Result<Vec<(DocumentId, String)>, CatalogError>;
}
