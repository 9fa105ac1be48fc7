//! The embedded catalog: one SQLite file in WAL mode.
//!
//! Writes go through a pool of one connection and start with `BEGIN IMMEDIATE`, so they queue
//! for SQLite's single writer lock instead of failing with SQLITE_BUSY; `synchronous=FULL` makes
//! a commit durable across a power cut. Reads use a separate pool and never block writes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::{CatalogError, Dialect, Followers};
use crate::group_commit::GroupCommit;

// The catalog's SQL is shared with the other backend: compiled once per backend, on its types.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

type Db = Sqlite;
type Backend = SqliteCatalog;
const DIALECT: Dialect = Dialect::Sqlite;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Longer than SQLite's busy timeout, so a queued writer gets the lock's answer, not the pool's.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A tenant's upload of content: (tenant, sha256).
type Upload = (String, String);

pub struct SqliteCatalog {
    readers: SqlitePool,
    writer: SqlitePool,
    /// Upload records (tenant, sha256) of concurrent blob uploads, committed together: each
    /// commit is an fsync, and SQLite runs one at a time.
    blob_uploads: Arc<GroupCommit<Vec<Upload>, Arc<str>>>,
    followers: Followers,
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, CatalogError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // A connection to a local file does not go stale: pinging it before each use (sqlx's
        // default) would be a second round trip to its thread on every query.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let blob_uploads = {
            let writer = writer.clone();
            GroupCommit::new(move |uploads: Vec<Vec<Upload>>| {
                let writer = writer.clone();
                let uploads: Vec<_> = uploads.into_iter().flatten().collect();
                async move {
                    sql::record_blob_uploads(&writer, &uploads)
                        .await
                        .map_err(|error| Arc::from(error.to_string()))
                }
                .boxed()
            })
        };
        Ok(Self {
            readers,
            writer,
            blob_uploads,
            followers: Followers::new(),
        })
    }

    async fn record_blob_uploads_as_backend_prefers(
        &self,
        uploads: Vec<Upload>,
    ) -> Result<(), CatalogError> {
        if self.blob_uploads.submit(uploads.clone()).await.is_ok() {
            return Ok(());
        }
        // The group's commit failed: alone, these uploads get their own error (or succeed).
        sql::record_blob_uploads(&self.writer, &uploads).await
    }
}

/// A read transaction: its reads see one state of the catalog (WAL mode keeps the snapshot
/// its first read takes).
async fn begin_snapshot(
    readers: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, CatalogError> {
    super::begin_detached(readers, "BEGIN").await
}

/// A write transaction holding SQLite's write lock from its first statement.
async fn begin_write(writer: &SqlitePool) -> Result<Transaction<'static, Sqlite>, CatalogError> {
    super::begin_detached(writer, "BEGIN IMMEDIATE").await
}
