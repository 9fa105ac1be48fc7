//! The catalog: the source of truth for metadata (documents, parties, dossiers, batches, the
//! change sequence and the audit log), behind narrow interfaces that each SQL backend fills.
//!
//! One trait per thing the catalog holds, each in its own file ([`DocumentStore`],
//! [`PartyStore`], [`DossierStore`], [`BatchStore`], [`AccessStore`], [`AuditLog`],
//! [`ContentRecords`], [`ChangeFeed`], [`ExtractionQueue`], [`ArchiveSettings`]); [`Catalog`]
//! is their sum, what the server holds as `Arc<dyn Catalog>`. A consumer that needs one aspect
//! takes that trait. The SQL of each lives in `sql/`, one file per aggregate, compiled for
//! both backends.
//!
//! Every method that touches documents takes the caller's [`Scope`](crate::access::Scope):
//! tenant isolation is applied here, never left to handlers.

mod access;
mod audit;
mod batches;
mod changes;
mod content;
mod documents;
mod dossiers;
mod extraction;
mod followers;
mod parties;
mod postgres;
mod settings;
mod sqlite;

use tracing::Instrument;

pub use access::AccessStore;
pub use audit::AuditLog;
pub use batches::BatchStore;
pub use changes::{ChangeFeed, ChangedDocuments, IndexPage, IndexSource, IndexedDocument};
pub use content::{ContentRecords, ContentReference};
pub use documents::DocumentStore;
pub use dossiers::DossierStore;
pub use extraction::ExtractionQueue;
pub use followers::CommitWatch;
pub(crate) use followers::Followers;
pub use parties::PartyStore;
pub use postgres::PostgresCatalog;
pub use settings::ArchiveSettings;
pub use sqlite::SqliteCatalog;

/// The whole catalog: every aggregate's trait, as one backend provides them. Through
/// `dyn Catalog` every aggregate's methods are callable without importing its trait; code
/// generic over a backend imports the traits it calls.
pub trait Catalog:
    DocumentStore
    + ContentRecords
    + AuditLog
    + ArchiveSettings
    + AccessStore
    + ChangeFeed
    + BatchStore
    + DossierStore
    + PartyStore
    + ExtractionQueue
{
}

impl<T> Catalog for T where
    T: DocumentStore
        + ContentRecords
        + AuditLog
        + ArchiveSettings
        + AccessStore
        + ChangeFeed
        + BatchStore
        + DossierStore
        + PartyStore
        + ExtractionQueue
{
}

/// The SQL dialect a catalog backend speaks, where the shared statements differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

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
