//! The catalog on PostgreSQL, for several nodes sharing one archive.
//!
//! The SQL is the SQLite catalog's (`sql/`), with PostgreSQL's statements where the dialects
//! differ. Writes are serialised across every node by a transaction-scoped advisory lock, as
//! SQLite's single writer serialises them: the change sequence the nodes' indexes follow then
//! commits in order (no number becomes visible after a higher one), and the audit chain never
//! forks. Reads run in parallel.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use super::{CatalogError, Dialect};

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
const MAX_CONNECTIONS: u32 = 16;

pub struct PostgresCatalog {
    readers: PgPool,
    writer: PgPool,
}

impl PostgresCatalog {
    /// Connects to the database `url` names and applies pending migrations (several nodes
    /// starting at once wait for one another: sqlx takes a lock around migrations).
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            readers: pool.clone(),
            writer: pool,
        })
    }
}

/// A write transaction holding the archive's write lock until it ends.
async fn begin_write(writer: &PgPool) -> Result<Transaction<'static, Postgres>, CatalogError> {
    let mut transaction = writer.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *transaction)
        .await?;
    Ok(transaction)
}
