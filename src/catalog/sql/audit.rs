//! The audit log's SQL: the hash chain every write appends to, read events, a tenant's trail
//! and the operator-level reads of `ged verify`.

use async_trait::async_trait;

use super::{Backend, Connection, Db, Pool, begin_write, pick};
use crate::access::Scope;
use crate::audit::{AuditEntry, AuditFilter, GENESIS_HASH, entry_hash};
use crate::catalog::{AuditLog, CatalogError};
use crate::dates::now_timestamp;
use crate::documents::model::DocumentId;

#[async_trait]
impl AuditLog for Backend {
    async fn record_access(
        &self,
        scope: &Scope,
        action: &str,
        document: Option<&DocumentId>,
        details: &serde_json::Value,
    ) -> Result<(), CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let document = document.map(DocumentId::to_string);
        append_audit(
            &mut transaction,
            scope,
            action,
            document.as_deref(),
            &details.to_string(),
            &now_timestamp(),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn audit_trail(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        const CONTAINS_NIR_HASH: &str = pick("instr(details, $9) > 0", "strpos(details, $9) > 0");
        let statement = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log \
             WHERE tenant_id = $1 AND seq > $2 \
             AND ($3 IS NULL OR document_id = $3) \
             AND ($4 IS NULL OR actor = $4) \
             AND ($5 IS NULL OR action = $5) \
             AND ($6 IS NULL OR at >= $6) \
             AND ($7 IS NULL OR at < $7) \
             AND ($8 IS NULL \
                  OR document_id IN (SELECT dp.document_id FROM document_parties dp \
                                     JOIN party_references r ON r.party_id = dp.party_id \
                                     WHERE r.tenant_id = $1 AND r.kind = 'nir' AND r.value = $8) \
                  OR {CONTAINS_NIR_HASH}) \
             ORDER BY seq LIMIT $10",
        );
        let trail = sqlx::query_as(&statement)
            .bind(scope.tenant().as_str())
            .bind(filter.after_seq)
            .bind(filter.document.map(|id| id.to_string()))
            .bind(&filter.actor)
            .bind(&filter.action)
            .bind(&filter.from)
            .bind(&filter.to)
            .bind(filter.nir.as_ref().map(|nir| nir.as_str().to_string()))
            .bind(&filter.nir_hash)
            .bind(i64::from(filter.limit));
        read_entries(&self.readers, trail).await
    }

    async fn audit_entries(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        let statement =
            format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let entries = sqlx::query_as(&statement)
            .bind(after_seq)
            .bind(i64::from(limit));
        read_entries(&self.readers, entries).await
    }

    async fn documents_disagreeing_with_audit(
        &self,
        limit: u32,
    ) -> Result<Vec<String>, CatalogError> {
        Ok(sqlx::query_scalar(pick(
            "SELECT d.id FROM documents d WHERE NOT EXISTS \
             (SELECT 1 FROM audit_log a WHERE a.document_id = d.id AND a.action = 'document.archived' \
              AND json_extract(a.details, '$.sha256') = d.sha256 \
              AND json_extract(a.details, '$.size') = d.size \
              AND json_extract(a.details, '$.seq') = d.archived_seq) \
             ORDER BY d.id LIMIT $1",
            "SELECT d.id FROM documents d WHERE NOT EXISTS \
             (SELECT 1 FROM audit_log a WHERE a.document_id = d.id AND a.action = 'document.archived' \
              AND a.details::jsonb ->> 'sha256' = d.sha256 \
              AND (a.details::jsonb ->> 'size')::bigint = d.size \
              AND (a.details::jsonb ->> 'seq')::bigint = d.archived_seq) \
             ORDER BY d.id LIMIT $1",
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?)
    }
}

/// The columns of an [`AuditEntryRow`], of `audit_log`.
const ENTRY_COLUMNS: &str =
    "seq, at, tenant_id, actor, action, document_id, details, prev_hash, hash";

/// Runs a query selecting [`ENTRY_COLUMNS`] and reads its audit entries.
async fn read_entries<'q>(
    readers: &Pool,
    query: sqlx::query::QueryAs<'q, Db, AuditEntryRow, <Db as sqlx::Database>::Arguments<'q>>,
) -> Result<Vec<AuditEntry>, CatalogError> {
    let rows = query.fetch_all(readers).await?;
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}

/// An audit entry as stored.
#[derive(sqlx::FromRow)]
struct AuditEntryRow {
    seq: i64,
    at: String,
    tenant_id: String,
    actor: String,
    action: String,
    document_id: Option<String>,
    details: String,
    prev_hash: String,
    hash: String,
}

impl From<AuditEntryRow> for AuditEntry {
    fn from(row: AuditEntryRow) -> Self {
        Self {
            seq: row.seq,
            at: row.at,
            tenant_id: row.tenant_id,
            actor: row.actor,
            action: row.action,
            document_id: row.document_id,
            details: row.details,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// Appends one entry to the audit chain; the caller's write transaction serialises appends.
pub(super) async fn append_audit(
    connection: &mut Connection,
    scope: &Scope,
    action: &str,
    document_id: Option<&str>,
    details: &str,
    at: &str,
) -> Result<(), CatalogError> {
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *connection)
            .await?;
    AuditRow::after(last, scope, action, document_id, details, at)
        .bind(sqlx::query(INSERT_AUDIT))
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// The audit entry that follows `last` (the chain's head, read in the same write
/// transaction), or the first entry: the values hashed are the values written.
pub(super) struct AuditRow<'a> {
    pub(super) seq: i64,
    pub(super) at: &'a str,
    pub(super) tenant: &'a str,
    pub(super) actor: &'a str,
    pub(super) action: &'a str,
    pub(super) document_id: Option<&'a str>,
    pub(super) details: &'a str,
    pub(super) prev_hash: String,
    pub(super) hash: String,
}

impl<'a> AuditRow<'a> {
    pub(super) fn after(
        last: Option<(i64, String)>,
        scope: &'a Scope,
        action: &'a str,
        document_id: Option<&'a str>,
        details: &'a str,
        at: &'a str,
    ) -> Self {
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_HASH.to_string()),
        };
        let (tenant, actor) = (scope.tenant().as_str(), scope.actor());
        let hash = entry_hash(
            seq,
            at,
            tenant,
            actor,
            action,
            document_id,
            details,
            &prev_hash,
        );
        Self {
            seq,
            at,
            tenant,
            actor,
            action,
            document_id,
            details,
            prev_hash,
            hash,
        }
    }

    /// Binds the entry at `$1` to `$9`, in [`INSERT_AUDIT`]'s order.
    pub(super) fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    ) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>> {
        query
            .bind(self.seq)
            .bind(self.at)
            .bind(self.tenant)
            .bind(self.actor)
            .bind(self.action)
            .bind(self.document_id)
            .bind(self.details)
            .bind(&self.prev_hash)
            .bind(&self.hash)
    }
}

/// The audit entry's columns, bound at `$1` to `$9` in this order.
pub(super) const INSERT_AUDIT: &str = "INSERT INTO audit_log (seq, at, tenant_id, actor, action, \
     document_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
