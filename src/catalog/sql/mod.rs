//! The catalog's SQL, written once for both backends: this module is compiled inside
//! `catalog::sqlite` and inside `catalog::postgres`, each of which supplies `Db` (the sqlx
//! database), `Backend` (its catalog type, with `readers` and `writer` pools), `DIALECT` and
//! `begin_write`. Where the two SQL dialects differ, [`pick`] chooses the statement.
//!
//! Every write runs in a transaction opened by `begin_write`, which admits one writer at a
//! time across all processes (SQLite's write lock, a PostgreSQL advisory lock): the change
//! sequence is then committed in order, and the audit chain is appended without forks.
//!
//! One file per aggregate, each holding its trait's `impl … for Backend` with the statements
//! (`documents`, `parties`, `dossiers`, `batches`, `access`, `audit`, `content`, `changes`,
//! `extraction`, `settings`); `document_rows` gathers the rows of archived documents,
//! `document_reads` and `dossier_rows` read documents and dossiers back for several of them.
//! This file keeps what all of them share.

mod access;
mod audit;
mod batches;
mod changes;
mod content;
mod document_reads;
mod document_rows;
mod documents;
mod dossier_rows;
mod dossiers;
mod extraction;
mod parties;
mod settings;

pub(super) use content::record_blob_uploads;

use super::{Backend, DIALECT, Db, begin_snapshot, begin_write};
use crate::catalog::{CatalogError, Dialect};

type Connection = <Db as sqlx::Database>::Connection;
type Pool = sqlx::Pool<Db>;

/// A document's or a dossier's link to a party: party id, role, establishment (SIRET).
type PartyLink = (i64, Option<String>, Option<String>);

/// The statement written for this backend's dialect.
const fn pick(sqlite: &'static str, postgres: &'static str) -> &'static str {
    match DIALECT {
        Dialect::Sqlite => sqlite,
        Dialect::Postgres => postgres,
    }
}

/// A FROM item `j` over the JSON array bound at `$n`: one row per element, named `value`, whose
/// items `value ->> 0`, `value ->> 1`… both dialects read (as text in PostgreSQL: cast them).
fn json_rows(n: u8) -> String {
    match DIALECT {
        Dialect::Sqlite => format!("json_each(${n}) AS j"),
        Dialect::Postgres => format!("jsonb_array_elements(${n}::jsonb) AS j(value)"),
    }
}

/// A subquery listing the JSON array of strings (`sql_type` TEXT) or integers (BIGINT) bound
/// at `$n`, for `x IN (…)`.
fn json_values(n: u8, sql_type: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => format!("SELECT value FROM json_each(${n})"),
        Dialect::Postgres => {
            format!(
                "SELECT CAST(v AS {sql_type}) FROM jsonb_array_elements_text(${n}::jsonb) AS j(v)"
            )
        }
    }
}

/// Records one change of a document (kind `kind`) and makes it the document's latest; returns
/// its sequence number.
async fn record_change(
    connection: &mut Connection,
    document_id: &str,
    kind: &str,
    now: &str,
) -> Result<i64, CatalogError> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO changes (tenant_id, document_id, kind, at) \
         SELECT tenant_id, id, $2, $3 FROM documents WHERE id = $1 RETURNING seq",
    )
    .bind(document_id)
    .bind(kind)
    .bind(now)
    .fetch_one(&mut *connection)
    .await?;
    sqlx::query("UPDATE documents SET seq = $2 WHERE id = $1")
        .bind(document_id)
        .bind(seq)
        .execute(&mut *connection)
        .await?;
    Ok(seq)
}
