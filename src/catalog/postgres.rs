//! The catalog on PostgreSQL, for several nodes sharing one archive.
//!
//! The SQL is the SQLite catalog's (`sql/`), with PostgreSQL's statements where the dialects
//! differ. Writes are serialised across every node by a transaction-scoped advisory lock, as
//! SQLite's single writer serialises them: the change sequence the nodes' indexes follow then
//! commits in order (no number becomes visible after a higher one), and the audit chain never
//! forks. Reads run in parallel, on a pool of their own.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

use super::{CatalogError, Dialect, Followers};

// The catalog's SQL is shared with the other backend: compiled once per backend, on its types.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

type Db = Postgres;
type Backend = PostgresCatalog;
const DIALECT: Dialect = Dialect::Postgres;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The advisory lock every write transaction takes (any fixed number: "ged" in ASCII).
const WRITE_LOCK: i64 = 0x0067_6564;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Writes wait for one another: a few connections are enough, and they must not take the
/// readers' (searches, `/readyz`) while they queue for the lock.
const WRITER_CONNECTIONS: u32 = 4;
const READER_CONNECTIONS: u32 = 12;
/// Session settings of every connection: a writer queues for the lock at most this long, and
/// a transaction left idle (a node hung or cut off while holding the lock) is ended by the
/// server instead of stopping every node's writes.
const SESSION_OPTIONS: [(&str, &str); 3] = [
    ("lock_timeout", "60s"),
    ("idle_in_transaction_session_timeout", "5min"),
    ("application_name", "ged"),
];

pub struct PostgresCatalog {
    readers: PgPool,
    writer: PgPool,
    /// This node's followers; writes of other nodes reach them by polling.
    followers: Followers,
}

impl PostgresCatalog {
    /// Connects to the database `url` names and applies pending migrations (several nodes
    /// starting at once wait for one another: sqlx takes a lock around migrations).
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        let options = url.parse::<PgConnectOptions>()?.options(SESSION_OPTIONS);
        // One connection first: a wrong password or host is reported as such, not as the
        // pool's timeout.
        let mut first = PgConnection::connect_with(&options).await?;
        let collation: String = sqlx::query_scalar(
            "SELECT datcollate::text FROM pg_database WHERE datname = current_database()",
        )
        .fetch_one(&mut first)
        .await?;
        if !matches!(
            collation.as_str(),
            "C" | "POSIX" | "C.UTF-8" | "C.utf8" | "ucs_basic"
        ) {
            // Sorting (references, token lists) then follows the language's rules where the
            // embedded catalog sorts by code point; nothing else depends on it.
            tracing::warn!(
                collation,
                "the catalog database does not sort text by code point (create it with \
                 --locale=C.UTF-8 to sort exactly as the embedded catalog)"
            );
        }
        first.close().await?;
        let pool = |connections: u32| {
            PgPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
        };
        let writer = pool(WRITER_CONNECTIONS).await?;
        MIGRATOR.run(&writer).await?;
        let readers = pool(READER_CONNECTIONS).await?;
        Ok(Self {
            readers,
            writer,
            followers: Followers::new(),
        })
    }

    /// Each request's upload records commit on their own: PostgreSQL runs the commits of
    /// concurrent requests in parallel, where one committer for all measured slower.
    async fn record_blob_uploads_as_backend_prefers(
        &self,
        uploads: Vec<(String, String)>,
    ) -> Result<(), CatalogError> {
        sql::record_blob_uploads(&self.writer, &uploads).await
    }
}

/// A read transaction: its reads see one state of the catalog.
async fn begin_snapshot(readers: &PgPool) -> Result<Transaction<'static, Postgres>, CatalogError> {
    super::begin_detached(readers, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
}

/// A write transaction holding the archive's write lock until it ends. READ COMMITTED whatever
/// the server's default: each statement must see what the previous lock holder committed.
async fn begin_write(writer: &PgPool) -> Result<Transaction<'static, Postgres>, CatalogError> {
    let mut transaction =
        super::begin_detached(writer, "BEGIN ISOLATION LEVEL READ COMMITTED").await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *transaction)
        .await?;
    Ok(transaction)
}
