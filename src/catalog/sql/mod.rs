//! The catalog's SQL, written once for both backends: this module is compiled inside
//! `catalog::sqlite` and inside `catalog::postgres`, each of which supplies `Db` (the sqlx
//! database), `Backend` (its catalog type, with `readers` and `writer` pools), `DIALECT` and
//! `begin_write`. Where the two SQL dialects differ, [`pick`] chooses the statement.
//!
//! Every write runs in a transaction opened by `begin_write`, which admits one writer at a
//! time across all processes (SQLite's write lock, a PostgreSQL advisory lock): the change
//! sequence is then committed in order, and the audit chain is appended without forks.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;

mod batches;
mod document_rows;
mod dossiers;
pub(super) use batches::record_blob_uploads;
use document_rows::{DocumentRows, MAX_TEXT_BYTES, NewRows, next_numbers, parse_numbers};
mod extraction;

use super::Db;
use super::{Backend, DIALECT, begin_snapshot, begin_write};
use crate::access::tokens::TokenRecord;
use crate::access::{Role, Scope, TenantId};
use crate::audit::{AuditEntry, AuditFilter, GENESIS_HASH, entry_hash};
use crate::batches::{
    BatchArchive, BatchDocumentReport, BatchFilter, BatchOfDocument, BatchSummary, NewBatch,
    PendingBatchDocument,
};
use crate::catalog::{
    Archived, Catalog, CatalogError, ChangedDocuments, ContentReference, Dialect, IndexPage,
    IndexSource, IndexedDocument, Inserted, NewDocument,
};
use crate::dates::{format_date, format_timestamp, now_timestamp};
use crate::documents::model::{Channel, Direction, Document, DocumentId, DocumentMetadata};
use crate::dossiers::{
    Dossier, DossierFilter, DossierOnDocument, DossierPage, DossierStatus, Linked, NewDossier,
};
use crate::extraction::{ExtractionJob, ExtractionOutcome, QueueLength};
use crate::parties::{
    CompanyOnDocument, CompanyReference, IndividualOnDocument, IndividualReference, Party,
    PartyKind, ReferenceKind,
};

type Connection = <Db as sqlx::Database>::Connection;
type Pool = sqlx::Pool<Db>;

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

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: String,
    sha256: String,
    size: i64,
    media_type: String,
    file_name: Option<String>,
    direction: String,
    channel: String,
    source: String,
    document_type: String,
    document_date: String,
    received_at: Option<String>,
    sent_at: Option<String>,
    title: Option<String>,
    agent: Option<String>,
    recipient: Option<String>,
    sensitive: bool,
    external_id: Option<String>,
    archived_at: String,
    seq: i64,
    batch_id: Option<String>,
    batch_ref: Option<String>,
    attached_to: Option<String>,
    text_state: Option<String>,
    email: Option<String>,
    attachments: String,
}

#[derive(sqlx::FromRow)]
struct DocumentPartyRow {
    party_id: i64,
    kind: String,
    role: Option<String>,
    siret: Option<String>,
    last_name: Option<String>,
    first_name: Option<String>,
    birth_date: Option<String>,
    name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ReferenceRow {
    party_id: i64,
    kind: String,
    value: String,
}

/// The columns of [`DocumentRow`], of `documents d`: the text state, email headers and
/// attachments come as JSON from correlated subqueries, one row per document.
const DOCUMENT_COLUMNS: &str = pick(
    "d.id, d.sha256, d.size, d.media_type, d.file_name, d.direction, \
     d.channel, d.source, d.document_type, d.document_date, d.received_at, d.sent_at, d.title, \
     d.agent, d.recipient, d.sensitive, d.external_id, d.archived_at, d.seq, d.batch_id, \
     d.batch_ref, d.attached_to, \
     (SELECT json_object('status', e.status, 'method', e.method, 'pages', e.pages, \
      'reason', e.reason, 'finished_at', e.finished_at) \
      FROM text_extractions e WHERE e.document_id = d.id) AS text_state, \
     (SELECT json_object('message_id', m.message_id, 'from', m.sender, 'to', json(m.recipients), \
      'cc', json(m.cc), 'subject', m.subject, 'date', m.sent_date) \
      FROM document_emails m WHERE m.document_id = d.id) AS email, \
     (SELECT json_group_array(json_object('id', a.id, 'file_name', a.file_name, \
      'media_type', a.media_type, 'size', a.size) ORDER BY a.attachment_position) \
      FROM documents a WHERE a.attached_to = d.id) AS attachments",
    "d.id, d.sha256, d.size, d.media_type, d.file_name, d.direction, \
     d.channel, d.source, d.document_type, d.document_date, d.received_at, d.sent_at, d.title, \
     d.agent, d.recipient, d.sensitive, d.external_id, d.archived_at, d.seq, d.batch_id, \
     d.batch_ref, d.attached_to, \
     (SELECT json_build_object('status', e.status, 'method', e.method, 'pages', e.pages, \
      'reason', e.reason, 'finished_at', e.finished_at)::text \
      FROM text_extractions e WHERE e.document_id = d.id) AS text_state, \
     (SELECT json_build_object('message_id', m.message_id, 'from', m.sender, \
      'to', m.recipients::json, 'cc', m.cc::json, 'subject', m.subject, 'date', m.sent_date)::text \
      FROM document_emails m WHERE m.document_id = d.id) AS email, \
     COALESCE((SELECT json_agg(json_build_object('id', a.id, 'file_name', a.file_name, \
      'media_type', a.media_type, 'size', a.size) ORDER BY a.attachment_position)::text \
      FROM documents a WHERE a.attached_to = d.id), '[]') AS attachments",
);

#[async_trait]
impl Catalog for Backend {
    async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn insert_document(
        &self,
        scope: &Scope,
        new: NewDocument,
    ) -> Result<Inserted, CatalogError> {
        let tenant = scope.tenant().as_str();
        let mut transaction = begin_write(&self.writer).await?;
        let mut rows = DocumentRows::default();
        let inserted =
            insert_document_rows(&mut transaction, None, &mut rows, scope, &new, None).await?;
        let id = match inserted {
            RowsInserted::Created => {
                rows.write(&mut transaction, scope).await?;
                transaction.commit().await?;
                new.id.to_string()
            }
            RowsInserted::Existing(existing) => {
                transaction.rollback().await?;
                let document = load_document(
                    &self.writer,
                    tenant,
                    &existing.id,
                    Visibility::IncludingSensitive,
                )
                .await?
                .ok_or_else(|| {
                    CatalogError::Corrupt(format!("document {} vanished", existing.id))
                })?;
                return Ok(Inserted::Existing(document));
            }
        };
        let document = load_document(&self.writer, tenant, &id, Visibility::IncludingSensitive)
            .await?
            .ok_or_else(|| CatalogError::Corrupt(format!("document {id} vanished after commit")))?;
        Ok(Inserted::Created(document))
    }

    async fn document(
        &self,
        scope: &Scope,
        id: DocumentId,
    ) -> Result<Option<Document>, CatalogError> {
        load_document(
            &self.readers,
            scope.tenant().as_str(),
            &id.to_string(),
            Visibility::Of(scope.sees_sensitive()),
        )
        .await
    }

    async fn document_by_external_id(
        &self,
        scope: &Scope,
        source: &str,
        external_id: &str,
    ) -> Result<Option<Document>, CatalogError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM documents WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
        )
        .bind(scope.tenant().as_str())
        .bind(source)
        .bind(external_id)
        .fetch_optional(&self.readers)
        .await?;
        match id {
            Some(id) => {
                load_document(
                    &self.readers,
                    scope.tenant().as_str(),
                    &id,
                    Visibility::IncludingSensitive,
                )
                .await
            }
            None => Ok(None),
        }
    }

    async fn content_references(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ContentReference>, CatalogError> {
        Ok(sqlx::query_as(
            "SELECT id, sha256, size FROM documents WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?)
    }

    async fn audit_entries(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        Ok(sqlx::query_as(
            "SELECT seq, at, tenant_id, actor, action, document_id, details, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?)
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
        Ok(sqlx::query_as(&format!(
            "SELECT seq, at, tenant_id, actor, action, document_id, details, prev_hash, hash FROM audit_log \
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
        ))
        .bind(scope.tenant().as_str())
        .bind(filter.after_seq)
        .bind(filter.document.map(|id| id.to_string()))
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(&filter.from)
        .bind(&filter.to)
        .bind(filter.nir.as_ref().map(|nir| nir.as_str().to_string()))
        .bind(&filter.nir_hash)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.readers)
        .await?)
    }

    async fn archive_secret(&self, name: &str) -> Result<Vec<u8>, CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let existing: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM archive_secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *transaction)
                .await?;
        let secret = match existing {
            Some(secret) => secret,
            None => {
                let mut secret = vec![0u8; 32];
                getrandom::fill(&mut secret).expect("the operating system provides randomness");
                sqlx::query("INSERT INTO archive_secrets (name, value) VALUES ($1, $2)")
                    .bind(name)
                    .bind(&secret)
                    .execute(&mut *transaction)
                    .await?;
                secret
            }
        };
        transaction.commit().await?;
        Ok(secret)
    }

    async fn bind_setting(&self, name: &str, value: &str) -> Result<String, CatalogError> {
        sqlx::query(
            "INSERT INTO archive_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.writer)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM archive_settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.writer)
                .await?,
        )
    }

    async fn ensure_tenant(&self, tenant: &TenantId) -> Result<(), CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let created = sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(now_timestamp())
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if created {
            let categories: Vec<String> = crate::dossiers::DEFAULT_CATEGORIES
                .iter()
                .map(|c| c.to_string())
                .collect();
            dossiers::replace_categories(&mut transaction, tenant.as_str(), &categories).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn insert_token(
        &self,
        scope: &Scope,
        token: &TokenRecord,
        secret_sha256: &str,
    ) -> Result<(), CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, role, name, source, secret_sha256, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&token.id)
        .bind(token.tenant.as_str())
        .bind(token.role.as_str())
        .bind(&token.name)
        .bind(&token.source)
        .bind(secret_sha256)
        .bind(&token.created_at)
        .bind(&token.expires_at)
        .execute(&mut *transaction)
        .await?;
        let details = serde_json::json!({
            "token_id": token.id,
            "role": token.role.as_str(),
            "source": token.source,
            "expires_at": token.expires_at,
        });
        append_audit(
            &mut transaction,
            scope,
            "token.created",
            None,
            &details.to_string(),
            &token.created_at,
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn token_by_secret_hash(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<TokenRecord>, CatalogError> {
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE secret_sha256 = $1"
        ))
        .bind(secret_sha256)
        .fetch_optional(&self.readers)
        .await?;
        row.map(TokenRow::into_record).transpose()
    }

    async fn open_session(
        &self,
        token_id: &str,
        session_sha256: &str,
        csrf: &str,
        expires_at: &str,
    ) -> Result<(), CatalogError> {
        let now = now_timestamp();
        sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
            .bind(&now)
            .execute(&self.writer)
            .await?;
        sqlx::query(
            "INSERT INTO ui_sessions (id_sha256, token_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $5, $4)",
        )
        .bind(session_sha256)
        .bind(token_id)
        .bind(csrf)
        .bind(expires_at)
        .bind(&now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        session_sha256: &str,
        now: &str,
    ) -> Result<Option<(TokenRecord, String)>, CatalogError> {
        #[derive(sqlx::FromRow)]
        struct SessionRow {
            csrf: String,
            #[sqlx(flatten)]
            token: TokenRow,
        }
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT s.csrf, {} FROM ui_sessions s JOIN tokens t ON t.id = s.token_id \
             WHERE s.id_sha256 = $1 AND s.expires_at > $2",
            TOKEN_COLUMNS
                .split(", ")
                .map(|column| format!("t.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(session_sha256)
        .bind(now)
        .fetch_optional(&self.readers)
        .await?;
        row.map(|row| Ok((row.token.into_record()?, row.csrf)))
            .transpose()
    }

    async fn close_session(&self, session_sha256: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM ui_sessions WHERE id_sha256 = $1")
            .bind(session_sha256)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn tokens(&self, tenant: Option<&TenantId>) -> Result<Vec<TokenRecord>, CatalogError> {
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY tenant_id, created_at"
        ))
        .bind(tenant.map(TenantId::as_str))
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter().map(TokenRow::into_record).collect()
    }

    async fn latest_seq(&self) -> Result<i64, CatalogError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
                .fetch_one(&self.readers)
                .await?,
        )
    }

    async fn changed_documents(
        &self,
        after_seq: i64,
        page: IndexPage,
    ) -> Result<ChangedDocuments, CatalogError> {
        // One snapshot: a text recorded between the reads would join the page unmeasured.
        let mut snapshot = begin_snapshot(&self.readers).await?;
        let (upto_seq, changes, listed) = page_end(
            &mut snapshot,
            "SELECT c.seq AS k, COALESCE(octet_length(t.text), 0) AS bytes FROM changes c \
             LEFT JOIN document_texts t ON t.document_id = c.document_id \
             WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
            after_seq,
            page,
        )
        .await?;
        let Some(upto_seq) = upto_seq else {
            return Ok(ChangedDocuments {
                upto_seq: after_seq,
                caught_up: true,
                ..Default::default()
            });
        };
        const CHANGED: &str = "SELECT document_id FROM changes WHERE seq > $1 AND seq <= $2";
        let documents = load_index_sources(
            &mut snapshot,
            &format!("d.id IN ({CHANGED})"),
            after_seq,
            upto_seq,
        )
        .await?;
        let changed: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT document_id FROM ({CHANGED}) AS run"
        ))
        .bind(after_seq)
        .bind(upto_seq)
        .fetch_all(&mut *snapshot)
        .await?;
        snapshot.commit().await?;
        let present: std::collections::HashSet<String> = documents
            .iter()
            .map(|source| source.document.id.to_string())
            .collect();
        let removed = changed
            .into_iter()
            .filter(|id| !present.contains(id))
            .collect();
        Ok(ChangedDocuments {
            upto_seq,
            changes: changes as usize,
            caught_up: changes == listed && listed < i64::from(page.documents),
            documents,
            removed,
        })
    }

    async fn documents_in_archive_order(
        &self,
        after_archived_seq: i64,
        page: IndexPage,
    ) -> Result<Vec<IndexSource>, CatalogError> {
        let mut snapshot = begin_snapshot(&self.readers).await?;
        let (upto, _, _) = page_end(
            &mut snapshot,
            "SELECT d.archived_seq AS k, COALESCE(octet_length(t.text), 0) AS bytes \
             FROM documents d LEFT JOIN document_texts t ON t.document_id = d.id \
             WHERE d.archived_seq > $1 ORDER BY d.archived_seq LIMIT $2",
            after_archived_seq,
            page,
        )
        .await?;
        let Some(upto) = upto else {
            return Ok(Vec::new());
        };
        let mut documents = load_index_sources(
            &mut snapshot,
            "d.archived_seq > $1 AND d.archived_seq <= $2",
            after_archived_seq,
            upto,
        )
        .await?;
        snapshot.commit().await?;
        documents.sort_by_key(|source| source.archived_seq);
        Ok(documents)
    }

    async fn document_count(&self) -> Result<i64, CatalogError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM documents")
            .fetch_one(&self.readers)
            .await?)
    }

    async fn revoke_token(&self, scope: &Scope, id: &str) -> Result<bool, CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let now = now_timestamp();
        let revoked = sqlx::query(
            "UPDATE tokens SET revoked_at = $3 WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(scope.tenant().as_str())
        .bind(&now)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if revoked {
            let details = serde_json::json!({ "token_id": id });
            append_audit(
                &mut transaction,
                scope,
                "token.revoked",
                None,
                &details.to_string(),
                &now,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(revoked)
    }
    async fn record_blob_uploads(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<(), CatalogError> {
        let tenant = scope.tenant().as_str();
        let uploads = sha256s
            .iter()
            .map(|sha256| (tenant.to_string(), sha256.to_string()))
            .collect();
        self.record_blob_uploads_as_backend_prefers(uploads).await
    }

    async fn content_recorded(&self, sha256: &str) -> Result<bool, CatalogError> {
        batches::content_recorded(&self.readers, sha256).await
    }

    async fn blobs_held(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<HashSet<String>, CatalogError> {
        batches::blobs_held(&self.readers, scope, sha256s).await
    }

    async fn create_batch(
        &self,
        scope: &Scope,
        batch: &NewBatch,
    ) -> Result<(BatchSummary, bool), CatalogError> {
        batches::create(&self.writer, scope, batch).await
    }

    async fn batch(&self, scope: &Scope, id: &str) -> Result<Option<BatchSummary>, CatalogError> {
        batches::by_id(&self.readers, scope, id).await
    }

    async fn batch_by_ref(
        &self,
        scope: &Scope,
        source: &str,
        batch_ref: &str,
    ) -> Result<Option<BatchSummary>, CatalogError> {
        batches::by_ref(&self.readers, scope, source, batch_ref).await
    }

    async fn batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Vec<BatchDocumentReport>, CatalogError> {
        batches::documents(&self.readers, scope, batch_id).await
    }

    async fn pending_batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
        limit: u32,
    ) -> Result<Vec<PendingBatchDocument>, CatalogError> {
        batches::pending(&self.readers, scope, batch_id, limit).await
    }

    async fn archive_batch_documents(
        &self,
        scope: &Scope,
        batch: BatchOfDocument<'_>,
        documents: Vec<BatchArchive>,
    ) -> Result<Archived, CatalogError> {
        batches::archive(&self.writer, scope, batch, documents).await
    }

    async fn complete_batch(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Option<(BatchSummary, bool)>, CatalogError> {
        batches::complete(&self.writer, scope, batch_id).await
    }

    async fn batches(
        &self,
        scope: &Scope,
        filter: &BatchFilter,
    ) -> Result<Vec<BatchSummary>, CatalogError> {
        batches::list(&self.readers, scope, filter).await
    }

    async fn dossier_categories(&self, scope: &Scope) -> Result<Vec<String>, CatalogError> {
        dossiers::categories(&self.readers, scope).await
    }

    async fn set_dossier_categories(
        &self,
        scope: &Scope,
        categories: &[String],
    ) -> Result<(), CatalogError> {
        dossiers::set_categories(&self.writer, scope, categories).await
    }

    async fn create_dossier(
        &self,
        scope: &Scope,
        new: &NewDossier,
    ) -> Result<Dossier, CatalogError> {
        dossiers::create(&self.writer, scope, new).await
    }

    async fn dossier(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Dossier>, CatalogError> {
        dossiers::by_reference(&self.readers, scope, reference).await
    }

    async fn dossier_statuses(
        &self,
        scope: &Scope,
        references: &[String],
    ) -> Result<Vec<(String, DossierStatus)>, CatalogError> {
        dossiers::statuses(&self.readers, scope, references).await
    }

    async fn dossiers(
        &self,
        scope: &Scope,
        filter: &DossierFilter,
    ) -> Result<DossierPage, CatalogError> {
        dossiers::list(&self.readers, scope, filter).await
    }

    async fn change_dossier_status(
        &self,
        scope: &Scope,
        reference: &str,
        status: DossierStatus,
        reason: Option<&str>,
    ) -> Result<Option<(Dossier, i64)>, CatalogError> {
        dossiers::change_status(&self.writer, scope, reference, status, reason).await
    }

    async fn link_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<Linked>, CatalogError> {
        dossiers::link(&self.writer, scope, reference, document).await
    }

    async fn unlink_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<i64>, CatalogError> {
        dossiers::unlink(&self.writer, scope, reference, document).await
    }

    async fn dossier_documents(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Vec<Document>>, CatalogError> {
        dossiers::documents(&self.readers, scope, reference).await
    }

    async fn party(
        &self,
        scope: &Scope,
        kind: ReferenceKind,
        value: &str,
    ) -> Result<Option<Party>, CatalogError> {
        dossiers::party(&self.readers, scope, kind, value).await
    }

    async fn party_dossiers(
        &self,
        scope: &Scope,
        party_id: i64,
    ) -> Result<Vec<Dossier>, CatalogError> {
        dossiers::of_party(&self.readers, scope, party_id).await
    }

    async fn party_documents(
        &self,
        scope: &Scope,
        party_id: i64,
        limit: Option<u32>,
    ) -> Result<(Vec<Document>, u64), CatalogError> {
        dossiers::party_documents(&self.readers, scope, party_id, limit).await
    }

    async fn claim_extractions(
        &self,
        node: &str,
        ocr_off: Option<&str>,
        limit: u32,
        now: &str,
        lease_until: &str,
    ) -> Result<Vec<ExtractionJob>, CatalogError> {
        extraction::claim(&self.writer, node, ocr_off, limit, now, lease_until).await
    }

    async fn finish_extraction(
        &self,
        job: &ExtractionJob,
        outcome: ExtractionOutcome,
    ) -> Result<(), CatalogError> {
        extraction::finish(&self.writer, job, outcome).await
    }

    async fn retry_failed_extractions(&self) -> Result<u64, CatalogError> {
        extraction::retry_failed(&self.writer).await
    }

    async fn release_extraction_claims(&self, node: &str) -> Result<(), CatalogError> {
        extraction::release_claims(&self.writer, node).await
    }

    async fn extraction_queue(&self) -> Result<QueueLength, CatalogError> {
        extraction::queue_length(&self.readers).await
    }

    async fn document_texts(
        &self,
        scope: &Scope,
        ids: &[DocumentId],
        max_chars: u32,
    ) -> Result<Vec<(DocumentId, String)>, CatalogError> {
        extraction::texts(&self.readers, scope, ids, max_chars).await
    }
}

const TOKEN_COLUMNS: &str = "id, tenant_id, role, name, source, created_at, expires_at, revoked_at";

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    tenant_id: String,
    role: String,
    name: Option<String>,
    source: Option<String>,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

impl TokenRow {
    fn into_record(self) -> Result<TokenRecord, CatalogError> {
        Ok(TokenRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(CatalogError::Corrupt)?,
            role: Role::parse(&self.role)
                .ok_or_else(|| CatalogError::Corrupt(format!("token role {}", self.role)))?,
            id: self.id,
            name: self.name,
            source: self.source,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// What [`insert_document_rows`] did.
enum RowsInserted {
    Created,
    /// The source already archived a document under this external id; nothing was written.
    Existing(ExistingDocument),
}

#[derive(Clone, sqlx::FromRow)]
struct ExistingDocument {
    id: String,
    sha256: String,
    direction: String,
}

/// Gathers a document's rows (content reference, change, document, links, audit entry) into
/// `rows`, written by [`DocumentRows::write`] in the caller's write transaction, unless its
/// external id is taken. Its parties and dossiers are resolved (and written) now.
async fn insert_document_rows(
    connection: &mut Connection,
    known: Option<&mut KnownReferences>,
    rows: &mut DocumentRows,
    scope: &Scope,
    new: &NewDocument,
    batch: Option<BatchOfDocument<'_>>,
) -> Result<RowsInserted, CatalogError> {
    insert_document_tree(connection, known, rows, scope, new, batch, None).await
}

/// [`insert_document_rows`] for a document and, after it, its attachments, which point back at
/// it (`attached`: the email's id and the attachment's position in it).
async fn insert_document_tree(
    connection: &mut Connection,
    mut known: Option<&mut KnownReferences>,
    rows: &mut DocumentRows,
    scope: &Scope,
    new: &NewDocument,
    batch: Option<BatchOfDocument<'_>>,
    attached: Option<(&str, i64)>,
) -> Result<RowsInserted, CatalogError> {
    let tenant = scope.tenant().as_str();
    let metadata = &new.metadata;
    if let Some(external_id) = &metadata.external_id {
        let existing = match rows.existing(&metadata.source, external_id) {
            Some(existing) => Some(existing),
            None if rows.looked_up(&metadata.source, external_id) => None,
            None => {
                sqlx::query_as(
                    "SELECT id, sha256, direction FROM documents \
                     WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
                )
                .bind(tenant)
                .bind(&metadata.source)
                .bind(external_id)
                .fetch_optional(&mut *connection)
                .await?
            }
        };
        if let Some(existing) = existing {
            return Ok(RowsInserted::Existing(existing));
        }
    }

    let now = now_timestamp();
    let id = new.id.to_string();

    let mut links = Vec::new();
    for (index, individual) in metadata.individuals.iter().enumerate() {
        let party = resolve_individual(connection, known.as_deref_mut(), tenant, individual, &now)
            .await
            .map_err(|e| e.at_field(&format!("individuals[{index}]")))?;
        links.push((party, individual.role.clone(), None));
    }
    for (index, company) in metadata.companies.iter().enumerate() {
        let party = resolve_company(connection, known.as_deref_mut(), tenant, company, &now)
            .await
            .map_err(|e| e.at_field(&format!("companies[{index}]")))?;
        links.push((
            party,
            company.role.clone(),
            company.siret.as_ref().map(|s| s.as_str().to_string()),
        ));
    }

    let mut dossier_ids = Vec::with_capacity(metadata.dossiers.len());
    for (index, link) in metadata.dossiers.iter().enumerate() {
        let dossier = dossiers::resolve_for_document(
            connection,
            scope,
            link,
            &links,
            metadata.agent.as_deref(),
            metadata.sensitive,
            &now,
        )
        .await
        .map_err(|e| e.at_field(&format!("dossiers[{index}]")))?;
        dossier_ids.push(dossier);
    }

    let row = serde_json::json!({
        "id": id,
        "tenant": tenant,
        "sha256": new.content.sha256.as_str(),
        "size": new.content.size,
        "media_type": new.content.media_type,
        "file_name": new.content.file_name,
        "direction": metadata.direction.as_str(),
        "channel": metadata.channel.as_str(),
        "source": metadata.source,
        "document_type": metadata.document_type,
        "document_date": format_date(metadata.document_date),
        "received_at": metadata.received_at.map(format_timestamp),
        "sent_at": metadata.sent_at.map(format_timestamp),
        "title": metadata.title,
        "agent": metadata.agent,
        "recipient": metadata.recipient,
        "sensitive": metadata.sensitive,
        "external_id": metadata.external_id,
        "at": now,
        "batch_id": batch.map(|b| b.id),
        "batch_ref": batch.map(|b| b.batch_ref),
        "attached_to": attached.map(|(email, _)| email),
        "attachment_position": attached.map(|(_, position)| position),
        "links": links
            .iter()
            .map(|(party_id, role, siret)| serde_json::json!([party_id, role, siret]))
            .collect::<Vec<_>>(),
        "dossiers": dossier_ids,
    });
    // The change's number joins the details when the rows are written.
    let mut details = serde_json::Map::new();
    details.insert("sha256".into(), new.content.sha256.as_str().into());
    details.insert("size".into(), new.content.size.into());
    details.insert("source".into(), metadata.source.clone().into());
    details.insert(
        "document_type".into(),
        metadata.document_type.clone().into(),
    );
    if let Some(batch) = batch {
        details.insert("batch_id".into(), batch.id.into());
    }
    if !metadata.dossiers.is_empty() {
        details.insert(
            "dossiers".into(),
            metadata
                .dossiers
                .iter()
                .map(|link| link.reference.as_str())
                .collect(),
        );
    }
    if let Some((email, _)) = attached {
        details.insert("attached_to".into(), email.into());
    }
    rows.push(NewRows {
        row,
        details,
        text: extraction::NewText::of(&new.content, &new.text),
        email: new.email.as_ref(),
    });
    for (position, attachment) in new.attachments.iter().enumerate() {
        let mut metadata = metadata.clone();
        metadata.title = attachment.content.file_name.clone().or(metadata.title);
        metadata.external_id = None;
        let child = NewDocument {
            id: attachment.id,
            metadata,
            content: attachment.content.clone(),
            text: attachment.text.clone(),
            email: None,
            attachments: Vec::new(),
        };
        Box::pin(insert_document_tree(
            connection,
            known.as_deref_mut(),
            rows,
            scope,
            &child,
            batch,
            Some((&id, position as i64)),
        ))
        .await?;
    }
    Ok(RowsInserted::Created)
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

/// Appends one entry to the audit chain; the caller's write transaction serialises appends.
async fn append_audit(
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
struct AuditRow<'a> {
    seq: i64,
    at: &'a str,
    tenant: &'a str,
    actor: &'a str,
    action: &'a str,
    document_id: Option<&'a str>,
    details: &'a str,
    prev_hash: String,
    hash: String,
}

impl<'a> AuditRow<'a> {
    fn after(
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
    fn bind<'q>(
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
const INSERT_AUDIT: &str = "INSERT INTO audit_log (seq, at, tenant_id, actor, action, \
     document_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

struct PartyNames<'a> {
    last_name: Option<&'a str>,
    first_name: Option<&'a str>,
    birth_date: Option<String>,
    name: Option<&'a str>,
}

impl<'a> PartyNames<'a> {
    fn of_individual(individual: &'a IndividualReference) -> Self {
        Self {
            last_name: individual.last_name.as_deref(),
            first_name: individual.first_name.as_deref(),
            birth_date: individual.birth_date.map(format_date),
            name: None,
        }
    }

    fn of_company(company: &'a CompanyReference) -> Self {
        Self {
            last_name: None,
            first_name: None,
            birth_date: None,
            name: company.name.as_deref(),
        }
    }
}

/// `[[kind, value], …]`: references as the SQL statements read them.
fn references_json<'a>(references: impl Iterator<Item = (ReferenceKind, &'a str)>) -> String {
    serde_json::Value::Array(
        references
            .map(|(kind, value)| serde_json::json!([kind.as_str(), value]))
            .collect(),
    )
    .to_string()
}

/// Those of the references (`references_json`) that the tenant's parties hold, with the names
/// each party lacks, in one call.
async fn held_references(
    connection: &mut Connection,
    tenant: &str,
    references_json: &str,
) -> Result<Vec<HeldReference>, CatalogError> {
    Ok(sqlx::query_as(&format!(
        "SELECT r.kind, r.value, r.party_id, p.last_name IS NULL AS no_last_name, \
         p.first_name IS NULL AS no_first_name, p.birth_date IS NULL AS no_birth_date, \
         p.name IS NULL AS no_name \
         FROM {} CROSS JOIN party_references r JOIN parties p ON p.id = r.party_id \
         WHERE r.tenant_id = $1 AND r.kind = j.value ->> 0 AND r.value = j.value ->> 1",
        json_rows(2)
    ))
    .bind(tenant)
    .bind(references_json)
    .fetch_all(&mut *connection)
    .await?)
}

/// The party references a chunk of a batch names, looked up in one call before its documents
/// are written (under the write lock) and kept up to date as they are: each document's parties
/// are then resolved without a lookup of their own.
#[derive(Default)]
pub(super) struct KnownReferences {
    held: HashMap<(String, String), HeldReference>,
}

impl KnownReferences {
    /// Looks up every reference of `documents`' parties.
    pub(super) async fn load(
        connection: &mut Connection,
        tenant: &str,
        documents: &[&DocumentMetadata],
    ) -> Result<Self, CatalogError> {
        let mut references = Vec::new();
        for metadata in documents {
            for individual in &metadata.individuals {
                references.extend(individual.references());
            }
            for company in &metadata.companies {
                references.extend(company.references());
            }
        }
        let json = references_json(references.iter().map(|(k, v)| (*k, v.as_str())));
        let mut known = Self::default();
        for held in held_references(connection, tenant, &json).await? {
            known.insert(held);
        }
        Ok(known)
    }

    fn get(&self, kind: ReferenceKind, value: &str) -> Option<HeldReference> {
        self.held
            .get(&(kind.as_str().to_string(), value.to_string()))
            .cloned()
    }

    fn insert(&mut self, held: HeldReference) {
        self.held
            .insert((held.kind.clone(), held.value.clone()), held);
    }

    /// Creates together the parties that `documents` introduce, as [`resolve_party`] would
    /// one entry at a time, and adds them to the known references, so that their entries then
    /// resolve without a call. An entry introduces a party when none of its references is
    /// held, nor named by an earlier entry of the documents (that one resolves it, in order).
    /// A document whose external id is taken (in the catalog, as `rows` looked it up, or by
    /// an earlier document) is not archived and resolves no party: its entries are left out.
    async fn create_new_parties(
        &mut self,
        connection: &mut Connection,
        tenant: &str,
        documents: &[&DocumentMetadata],
        rows: &DocumentRows,
        now: &str,
    ) -> Result<(), CatalogError> {
        let mut earlier = HashSet::new();
        let archived = documents
            .iter()
            .filter(|metadata| match &metadata.external_id {
                Some(external_id) => {
                    rows.existing(&metadata.source, external_id).is_none()
                        && earlier.insert((&metadata.source, external_id))
                }
                None => true,
            });
        let entries = archived.flat_map(|metadata| {
            let individuals = metadata.individuals.iter().map(|individual| {
                (
                    PartyKind::Individual,
                    individual.references(),
                    PartyNames::of_individual(individual),
                )
            });
            let companies = metadata.companies.iter().map(|company| {
                (
                    PartyKind::Company,
                    company.references(),
                    PartyNames::of_company(company),
                )
            });
            individuals.chain(companies)
        });
        let mut named: HashSet<(String, String)> = HashSet::new();
        let mut new = Vec::new();
        for (kind, references, names) in entries {
            let keys: Vec<(String, String)> = references
                .iter()
                .map(|(reference_kind, value)| (reference_kind.as_str().to_string(), value.clone()))
                .collect();
            let introduces = !keys.is_empty()
                && keys
                    .iter()
                    .all(|key| !self.held.contains_key(key) && !named.contains(key));
            named.extend(keys);
            if introduces {
                new.push((kind, references, names));
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let (ids,): (String,) =
            sqlx::query_as(&format!("SELECT {}", next_numbers("parties", "id")))
                .bind(new.len() as i64)
                .fetch_one(&mut *connection)
                .await?;
        let ids = parse_numbers(&ids, new.len())?;
        let mut parties = Vec::with_capacity(new.len());
        let mut references = Vec::new();
        for ((kind, entry_references, names), id) in new.iter().zip(ids) {
            parties.push(serde_json::json!([
                id,
                kind.as_str(),
                names.last_name,
                names.first_name,
                names.birth_date,
                names.name,
            ]));
            for (reference_kind, value) in entry_references {
                references.push(serde_json::json!([reference_kind.as_str(), value, id]));
                self.insert(HeldReference {
                    kind: reference_kind.as_str().to_string(),
                    value: value.clone(),
                    party_id: id,
                    no_last_name: names.last_name.is_none(),
                    no_first_name: names.first_name.is_none(),
                    no_birth_date: names.birth_date.is_none(),
                    no_name: names.name.is_none(),
                });
            }
        }
        let (cast, party_id) = match DIALECT {
            Dialect::Sqlite => ("value ->> 0", "value ->> 2"),
            Dialect::Postgres => ("(value ->> 0)::bigint", "(value ->> 2)::bigint"),
        };
        let insert_parties = format!(
            "INSERT INTO parties (id, tenant_id, kind, last_name, first_name, birth_date, name, \
             created_at, updated_at) SELECT {cast}, $1, value ->> 1, value ->> 2, value ->> 3, \
             value ->> 4, value ->> 5, $2, $2 FROM {}",
            json_rows(3)
        );
        let insert_references = format!(
            "INSERT INTO party_references (tenant_id, kind, value, party_id) \
             SELECT $1, value ->> 0, value ->> 1, {party_id} FROM {}",
            json_rows(4)
        );
        sqlx::query(&match DIALECT {
            Dialect::Sqlite => format!("{insert_parties}; {insert_references}"),
            Dialect::Postgres => format!("WITH p AS ({insert_parties}) {insert_references}"),
        })
        .bind(tenant)
        .bind(now)
        .bind(serde_json::Value::Array(parties).to_string())
        .bind(serde_json::Value::Array(references).to_string())
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// The names `party` now has, on each of its references.
    fn party_named(&mut self, party: &HeldReference) {
        for held in self.held.values_mut() {
            if held.party_id == party.party_id {
                held.no_last_name = party.no_last_name;
                held.no_first_name = party.no_first_name;
                held.no_birth_date = party.no_birth_date;
                held.no_name = party.no_name;
            }
        }
    }
}

/// A reference of a party entry that the catalog holds, and the names its party lacks.
#[derive(Clone, sqlx::FromRow)]
struct HeldReference {
    kind: String,
    value: String,
    party_id: i64,
    no_last_name: bool,
    no_first_name: bool,
    no_birth_date: bool,
    no_name: bool,
}

async fn resolve_individual(
    connection: &mut Connection,
    known: Option<&mut KnownReferences>,
    tenant: &str,
    individual: &IndividualReference,
    now: &str,
) -> Result<i64, CatalogError> {
    let names = PartyNames::of_individual(individual);
    resolve_party(
        connection,
        known,
        tenant,
        PartyKind::Individual,
        &individual.references(),
        names,
        now,
    )
    .await
}

async fn resolve_company(
    connection: &mut Connection,
    known: Option<&mut KnownReferences>,
    tenant: &str,
    company: &CompanyReference,
    now: &str,
) -> Result<i64, CatalogError> {
    let names = PartyNames::of_company(company);
    resolve_party(
        connection,
        known,
        tenant,
        PartyKind::Company,
        &company.references(),
        names,
        now,
    )
    .await
}

/// Finds the party the references designate, or creates it; adds the references it lacked and
/// the names it did not have yet (names already recorded are kept: the first writer wins).
/// `known`: the references of a chunk of documents, looked up together beforehand, instead of
/// a lookup for this entry alone; kept up to date with what this call writes.
async fn resolve_party(
    connection: &mut Connection,
    known: Option<&mut KnownReferences>,
    tenant: &str,
    kind: PartyKind,
    references: &[(ReferenceKind, String)],
    names: PartyNames<'_>,
    now: &str,
) -> Result<i64, CatalogError> {
    let all = references_json(references.iter().map(|(k, v)| (*k, v.as_str())));
    let held: Vec<HeldReference> = match known.as_deref() {
        Some(known) => references
            .iter()
            .filter_map(|(reference_kind, value)| known.get(*reference_kind, value))
            .collect(),
        None => held_references(connection, tenant, &all).await?,
    };
    let found: BTreeSet<i64> = held.iter().map(|reference| reference.party_id).collect();
    let (party_id, party_changed) = match found.len() {
        // A new party and all its references in one call: none of them is held (looked up
        // above, under the write lock).
        0 => {
            let party_id: i64 = sqlx::query_scalar(&format!(
                "{}{} SELECT $1, value ->> 0, value ->> 1, p.id FROM p, {}{}",
                pick(
                    // The new party has the largest id (AUTOINCREMENT) while this transaction
                    // holds the write lock; last_insert_rowid() would change with each
                    // reference written.
                    "INSERT INTO parties (tenant_id, kind, last_name, first_name, birth_date, \
                     name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7); \
                     WITH p(id) AS (SELECT max(id) FROM parties) ",
                    "WITH p AS (INSERT INTO parties (tenant_id, kind, last_name, first_name, \
                     birth_date, name, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id), r AS (",
                ),
                "INSERT INTO party_references (tenant_id, kind, value, party_id)",
                json_rows(8),
                pick("; SELECT max(id) FROM parties", ") SELECT id FROM p"),
            ))
            .bind(tenant)
            .bind(kind.as_str())
            .bind(names.last_name)
            .bind(names.first_name)
            .bind(&names.birth_date)
            .bind(names.name)
            .bind(now)
            .bind(&all)
            .fetch_one(&mut *connection)
            .await?;
            if let Some(known) = known {
                for (reference_kind, value) in references {
                    known.insert(HeldReference {
                        kind: reference_kind.as_str().to_string(),
                        value: value.clone(),
                        party_id,
                        no_last_name: names.last_name.is_none(),
                        no_first_name: names.first_name.is_none(),
                        no_birth_date: names.birth_date.is_none(),
                        no_name: names.name.is_none(),
                    });
                }
            }
            return Ok(party_id);
        }
        1 => {
            let party_id = *found.first().expect("one party");
            let missing: Vec<&(ReferenceKind, String)> = references
                .iter()
                .filter(|(reference_kind, value)| {
                    !held
                        .iter()
                        .any(|held| held.kind == reference_kind.as_str() && held.value == *value)
                })
                .collect();
            // A reference the party has one of at most (a NIR, a SIREN), new to it: the party
            // must not hold another.
            for (reference_kind, value) in missing.iter().filter(|(k, _)| k.is_single_valued()) {
                let other: Option<String> = sqlx::query_scalar(
                    "SELECT value FROM party_references WHERE party_id = $1 AND kind = $2",
                )
                .bind(party_id)
                .bind(reference_kind.as_str())
                .fetch_optional(&mut *connection)
                .await?;
                if other.as_ref().is_some_and(|other| other != value) {
                    return Err(CatalogError::Conflict {
                        field: reference_kind.as_str().to_string(),
                        message: format!(
                            "the other references of this entry designate a party archived with a different {}",
                            reference_kind.as_str()
                        ),
                    });
                }
            }
            let mut lacks = held[0].clone();
            let named = if (lacks.no_last_name && names.last_name.is_some())
                || (lacks.no_first_name && names.first_name.is_some())
                || (lacks.no_birth_date && names.birth_date.is_some())
                || (lacks.no_name && names.name.is_some())
            {
                sqlx::query(
                    "UPDATE parties SET last_name = COALESCE(last_name, $2), first_name = COALESCE(first_name, $3), \
                     birth_date = COALESCE(birth_date, $4), name = COALESCE(name, $5), updated_at = $6 \
                     WHERE id = $1 AND ((last_name IS NULL AND $2 IS NOT NULL) OR (first_name IS NULL AND $3 IS NOT NULL) \
                     OR (birth_date IS NULL AND $4 IS NOT NULL) OR (name IS NULL AND $5 IS NOT NULL))",
                )
                .bind(party_id)
                .bind(names.last_name)
                .bind(names.first_name)
                .bind(&names.birth_date)
                .bind(names.name)
                .bind(now)
                .execute(&mut *connection)
                .await?
                .rows_affected()
            } else {
                0
            };
            if let Some(known) = known {
                lacks.no_last_name &= names.last_name.is_none();
                lacks.no_first_name &= names.first_name.is_none();
                lacks.no_birth_date &= names.birth_date.is_none();
                lacks.no_name &= names.name.is_none();
                known.party_named(&lacks);
                for (reference_kind, value) in &missing {
                    known.insert(HeldReference {
                        kind: reference_kind.as_str().to_string(),
                        value: value.clone(),
                        ..lacks.clone()
                    });
                }
            }
            if !missing.is_empty() {
                let missing_json = references_json(missing.iter().map(|(k, v)| (*k, v.as_str())));
                // `WHERE true`: SQLite would read `ON` as the join's.
                sqlx::query(&format!(
                    "INSERT INTO party_references (tenant_id, kind, value, party_id) \
                     SELECT $1, value ->> 0, value ->> 1, $2 FROM {} WHERE true \
                     ON CONFLICT (tenant_id, kind, value) DO NOTHING",
                    json_rows(3)
                ))
                .bind(tenant)
                .bind(party_id)
                .bind(missing_json)
                .execute(&mut *connection)
                .await?;
            }
            // Other documents show the party's references, except SIRETs: each document shows
            // the establishment it was filed under, so a new SIRET changes no other document.
            let learned = missing
                .iter()
                .any(|(reference_kind, _)| *reference_kind != ReferenceKind::Siret);
            (party_id, named > 0 || learned)
        }
        _ => {
            return Err(CatalogError::Conflict {
                field: String::new(),
                message: "these references designate different parties already archived".into(),
            });
        }
    };
    if party_changed {
        // The documents already filed under this party are found by its references and names:
        // each gets a change, so that the index re-projects them with what was just learned.
        sqlx::query(
            "INSERT INTO changes (tenant_id, document_id, kind, at) \
             SELECT DISTINCT $1, document_id, 'party_updated', $2 FROM document_parties WHERE party_id = $3",
        )
        .bind(tenant)
        .bind(now)
        .bind(party_id)
        .execute(&mut *connection)
        .await?;
    }
    Ok(party_id)
}

/// A document of a bulk read with its parties and dossiers, for the index: one element of the
/// JSON list [`load_index_sources`] reads, a positional array in the order of these fields.
#[derive(serde::Deserialize)]
struct IndexRow {
    tenant_id: String,
    archived_seq: i64,
    text: Option<String>,
    /// `[[party_id, role, siret], …]` in the document's order.
    links: Vec<PartyLink>,
    dossiers: Vec<DossierOnDocument>,
    id: String,
    media_type: String,
    direction: String,
    channel: String,
    source: String,
    document_type: String,
    document_date: String,
    title: Option<String>,
    agent: Option<String>,
    recipient: Option<String>,
    /// 0 or 1: both dialects write it as a number.
    sensitive: u8,
    archived_at: String,
    batch_ref: Option<String>,
}

/// A document's link to a party: party id, role, SIRET.
type PartyLink = (i64, Option<String>, Option<String>);

/// A whole document of a bulk read, with its parties and dossiers.
#[derive(sqlx::FromRow)]
struct WholeDocumentRow {
    archived_seq: i64,
    /// `[[party_id, role, siret], …]` in the document's order.
    links: String,
    /// The document's dossiers, as [`DOSSIERS_OF_DOCUMENT`] lists them.
    dossiers: String,
    #[sqlx(flatten)]
    document: DocumentRow,
}

/// A document and its place in the archive order.
struct SequencedDocument {
    archived_seq: i64,
    document: Document,
}

/// The dossiers of document `d` as a JSON list of [`DossierOnDocument`], in link order.
const DOSSIERS_OF_DOCUMENT: &str = pick(
    "(SELECT json_group_array(json_object('reference', x.reference, \
     'kind', x.kind, 'category', x.category, 'status', x.status, 'linked_at', dd.linked_at, \
     'linked_by', dd.linked_by) ORDER BY dd.linked_at, dd.dossier_id) \
     FROM document_dossiers dd JOIN dossiers x ON x.id = dd.dossier_id WHERE dd.document_id = d.id)",
    "COALESCE((SELECT json_agg(json_build_object('reference', x.reference, \
     'kind', x.kind, 'category', x.category, 'status', x.status, 'linked_at', dd.linked_at, \
     'linked_by', dd.linked_by) ORDER BY dd.linked_at, dd.dossier_id)::text \
     FROM document_dossiers dd JOIN dossiers x ON x.id = dd.dossier_id WHERE dd.document_id = d.id), '[]')",
);

/// The parties of document `d` as `[[party_id, role, siret], …]`, in the document's order.
const LINKS_OF_DOCUMENT: &str = pick(
    "(SELECT json_group_array(json_array(dp.party_id, dp.role, dp.siret) ORDER BY dp.position) \
     FROM document_parties dp WHERE dp.document_id = d.id)",
    "COALESCE((SELECT json_agg(json_build_array(dp.party_id, dp.role, dp.siret) \
     ORDER BY dp.position)::text FROM document_parties dp WHERE dp.document_id = d.id), '[]')",
);

/// The references of party `p` as `[[kind, value], …]`, in no order: [`references_by_party`]
/// sorts them (a sort per party in SQLite was a third of reading the parties).
const REFERENCES_OF_PARTY: &str = pick(
    "(SELECT json_group_array(json_array(r.kind, r.value)) \
     FROM party_references r WHERE r.party_id = p.id)",
    "COALESCE((SELECT json_agg(json_build_array(r.kind, r.value))::text \
     FROM party_references r WHERE r.party_id = p.id), '[]')",
);

/// Bulk reads come back as one JSON list built by the database, one value in all: the driver's
/// cost is per row and per column (a copy of each value, handed over from its thread), and it
/// was half of `ged reindex`'s time. See docs/search.md (index build rate).
fn json_list_of(columns: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => format!("json_group_array(json_array({columns}))"),
        Dialect::Postgres => format!("COALESCE(json_agg(json_build_array({columns})), '[]')::text"),
    }
}

/// A JSON text (such as [`LINKS_OF_DOCUMENT`]) nested as JSON, not as a string, in
/// [`json_list_of`]'s list: a subquery's value loses SQLite's JSON subtype.
fn nested_json(text: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => format!("json({text})"),
        Dialect::Postgres => format!("({text})::json"),
    }
}

/// `d.sensitive` as 0 or 1 in both dialects (SQLite stores booleans as numbers).
const SENSITIVE_AS_NUMBER: &str = pick("d.sensitive", "d.sensitive::int");

/// Where the next page of an index read ends. `rows` lists `k` (the order) and `bytes` (the
/// length of the text read with the row) after `$1`, at most `$2` rows, in order; the page
/// takes them while the texts before each stay under `page.text_bytes`. Returns the page's
/// last `k` (`None` when nothing is listed), its rows and the rows listed.
async fn page_end(
    connection: &mut Connection,
    rows: &str,
    after: i64,
    page: IndexPage,
) -> Result<(Option<i64>, i64, i64), CatalogError> {
    let (last, taken, listed): (Option<i64>, i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT MAX(k), COUNT(*), MAX(listed) FROM \
         (SELECT k, bytes, SUM(bytes) OVER (ORDER BY k) AS running, COUNT(*) OVER () AS listed \
         FROM ({rows}) AS listing) AS sized WHERE running - bytes < $3"
    ))
    .bind(after)
    .bind(i64::from(page.documents))
    // A bound of 0 would take nothing, and the reader would think it had read everything.
    .bind(i64::try_from(page.text_bytes.max(1)).unwrap_or(i64::MAX))
    .fetch_one(connection)
    .await?;
    Ok((last, taken, listed.unwrap_or(0)))
}

/// Runs `query`, binding `low` and `high` to `$1` and `$2`, whose one value is a JSON list
/// made by [`json_list_of`], and reads it as `T`s; `what` names them in an error.
async fn read_json_list<T: serde::de::DeserializeOwned>(
    connection: &mut Connection,
    query: &str,
    low: i64,
    high: i64,
    what: &str,
) -> Result<Vec<T>, CatalogError> {
    let list: String = sqlx::query_scalar(query)
        .bind(low)
        .bind(high)
        .fetch_one(connection)
        .await?;
    serde_json::from_str(&list).map_err(|e| CatalogError::Corrupt(format!("{what}: {e}")))
}

fn dossiers_from_json(document: &str, json: &str) -> Result<Vec<DossierOnDocument>, CatalogError> {
    serde_json::from_str(json)
        .map_err(|e| CatalogError::Corrupt(format!("dossiers of document {document}: {e}")))
}

/// A party of a bulk read: one element of the JSON list [`PartiesOfDocuments::load`] reads.
#[derive(serde::Deserialize)]
struct IndexPartyRow {
    id: i64,
    kind: String,
    last_name: Option<String>,
    first_name: Option<String>,
    birth_date: Option<String>,
    name: Option<String>,
    /// `[[kind, value], …]`.
    references: Vec<(String, String)>,
}

/// Loads whole documents in bulk for the documents matching `filter`, an SQL condition on `d`
/// (documents) using `$1` and `$2`, in no particular order.
async fn load_documents(
    pool: &Pool,
    filter: &str,
    low: i64,
    high: i64,
) -> Result<Vec<SequencedDocument>, CatalogError> {
    let rows: Vec<WholeDocumentRow> = sqlx::query_as(&format!(
        "SELECT d.archived_seq, {LINKS_OF_DOCUMENT} AS links, \
         {DOSSIERS_OF_DOCUMENT} AS dossiers, {DOCUMENT_COLUMNS} \
         FROM documents d WHERE {filter}"
    ))
    .bind(low)
    .bind(high)
    .fetch_all(pool)
    .await?;
    let parties = PartiesOfDocuments::load(&mut *pool.acquire().await?, filter, low, high).await?;
    rows.into_iter()
        .map(|row| {
            let id = &row.document.id;
            let links = serde_json::from_str(&row.links)
                .map_err(|e| CatalogError::Corrupt(format!("parties of document {id}: {e}")))?;
            let linked = parties.linked(links)?;
            let dossiers = dossiers_from_json(id, &row.dossiers)?;
            Ok(SequencedDocument {
                archived_seq: row.archived_seq,
                document: document_from_rows(row.document, linked, &parties.references, dossiers)?,
            })
        })
        .collect()
}

/// Loads what the index holds of the documents matching `filter` (as [`load_documents`]).
async fn load_index_sources(
    connection: &mut Connection,
    filter: &str,
    low: i64,
    high: i64,
) -> Result<Vec<IndexSource>, CatalogError> {
    let columns = format!(
        "d.tenant_id, d.archived_seq, t.text, {}, {}, d.id, d.media_type, d.direction, \
         d.channel, d.source, d.document_type, d.document_date, d.title, d.agent, d.recipient, \
         {SENSITIVE_AS_NUMBER}, d.archived_at, d.batch_ref",
        nested_json(LINKS_OF_DOCUMENT),
        nested_json(DOSSIERS_OF_DOCUMENT),
    );
    let rows: Vec<IndexRow> = read_json_list(
        &mut *connection,
        &format!(
            "SELECT {} FROM documents d LEFT JOIN document_texts t ON t.document_id = d.id \
             WHERE {filter}",
            json_list_of(&columns)
        ),
        low,
        high,
        "documents to index",
    )
    .await?;
    let parties = PartiesOfDocuments::load(connection, filter, low, high).await?;
    rows.into_iter()
        .map(|row| {
            let linked = parties.linked(row.links)?;
            let (individuals, companies) = parties_from_rows(linked, &parties.references)?;
            Ok(IndexSource {
                tenant: row.tenant_id,
                archived_seq: row.archived_seq,
                text: row.text,
                document: IndexedDocument {
                    id: parse_document_id(&row.id)?,
                    media_type: row.media_type,
                    direction: parse_direction(&row.direction)?,
                    channel: parse_channel(&row.channel)?,
                    source: row.source,
                    document_type: row.document_type,
                    document_date: row.document_date,
                    title: row.title,
                    agent: row.agent,
                    recipient: row.recipient,
                    sensitive: row.sensitive != 0,
                    archived_at: row.archived_at,
                    batch_ref: row.batch_ref,
                    individuals,
                    companies,
                    dossiers: row.dossiers,
                },
            })
        })
        .collect()
}

/// The parties of the documents a bulk read selects, read in one query: the driver's cost is
/// per row, and a party shared by many documents of the read (a large company) is read once.
struct PartiesOfDocuments {
    rows: HashMap<i64, IndexPartyRow>,
    references: HashMap<i64, Vec<(ReferenceKind, String)>>,
}

impl PartiesOfDocuments {
    async fn load(
        connection: &mut Connection,
        filter: &str,
        low: i64,
        high: i64,
    ) -> Result<Self, CatalogError> {
        let columns = format!(
            "p.id, p.kind, p.last_name, p.first_name, p.birth_date, p.name, {}",
            nested_json(REFERENCES_OF_PARTY)
        );
        let parties: Vec<IndexPartyRow> = read_json_list(
            connection,
            &format!(
                "SELECT {} FROM parties p WHERE p.id IN \
                 (SELECT dp.party_id FROM document_parties dp JOIN documents d ON d.id = dp.document_id WHERE {filter})",
                json_list_of(&columns)
            ),
            low,
            high,
            "parties of documents",
        )
        .await?;
        let mut references = Vec::with_capacity(parties.len());
        let mut rows = HashMap::with_capacity(parties.len());
        for mut party in parties {
            references.extend(std::mem::take(&mut party.references).into_iter().map(
                |(kind, value)| ReferenceRow {
                    party_id: party.id,
                    kind,
                    value,
                },
            ));
            rows.insert(party.id, party);
        }
        let references = references_by_party(references)?;
        Ok(Self { rows, references })
    }

    /// The parties of a document, from its links as [`LINKS_OF_DOCUMENT`] lists them.
    fn linked(&self, links: Vec<PartyLink>) -> Result<Vec<DocumentPartyRow>, CatalogError> {
        links
            .into_iter()
            .map(|(party_id, role, siret)| {
                let party = self
                    .rows
                    .get(&party_id)
                    .ok_or_else(|| CatalogError::Corrupt(format!("party {party_id} missing")))?;
                Ok(DocumentPartyRow {
                    party_id,
                    kind: party.kind.clone(),
                    role,
                    siret,
                    last_name: party.last_name.clone(),
                    first_name: party.first_name.clone(),
                    birth_date: party.birth_date.clone(),
                    name: party.name.clone(),
                })
            })
            .collect()
    }
}

fn references_by_party(
    references: Vec<ReferenceRow>,
) -> Result<HashMap<i64, Vec<(ReferenceKind, String)>>, CatalogError> {
    let mut by_party: HashMap<i64, Vec<(ReferenceKind, String)>> = HashMap::new();
    for reference in references {
        let kind = ReferenceKind::parse(&reference.kind)
            .ok_or_else(|| CatalogError::Corrupt(format!("reference kind {}", reference.kind)))?;
        by_party
            .entry(reference.party_id)
            .or_default()
            .push((kind, reference.value));
    }
    // Values by bytes, whatever order and collation the query had: a party's numbers are
    // listed alike by every read and both dialects.
    for values in by_party.values_mut() {
        values.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    }
    Ok(by_party)
}

/// Whether a read may see documents marked sensitive.
#[derive(Clone, Copy)]
enum Visibility {
    IncludingSensitive,
    Of(bool),
}

async fn load_document(
    pool: &Pool,
    tenant: &str,
    id: &str,
    visibility: Visibility,
) -> Result<Option<Document>, CatalogError> {
    let sees_sensitive = match visibility {
        Visibility::IncludingSensitive => true,
        Visibility::Of(sees) => sees,
    };
    let row: Option<DocumentRow> = sqlx::query_as(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents d \
         WHERE d.tenant_id = $1 AND d.id = $2 AND (d.sensitive = FALSE OR $3)"
    ))
    .bind(tenant)
    .bind(id)
    .bind(sees_sensitive)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let parties: Vec<DocumentPartyRow> = sqlx::query_as(
        "SELECT dp.party_id, p.kind, dp.role, dp.siret, p.last_name, p.first_name, p.birth_date, p.name \
         FROM document_parties dp JOIN parties p ON p.id = dp.party_id \
         WHERE dp.document_id = $1 ORDER BY dp.position",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let references: Vec<ReferenceRow> = sqlx::query_as(
        "SELECT DISTINCT r.party_id, r.kind, r.value FROM party_references r \
         JOIN document_parties dp ON dp.party_id = r.party_id \
         WHERE dp.document_id = $1 ORDER BY r.kind, r.value",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let by_party = references_by_party(references)?;
    let dossiers: String = sqlx::query_scalar(&format!(
        "SELECT {DOSSIERS_OF_DOCUMENT} FROM documents d WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_one(pool)
    .await?;
    let dossiers = dossiers_from_json(id, &dossiers)?;
    document_from_rows(row, parties, &by_party, dossiers).map(Some)
}

fn document_from_rows(
    row: DocumentRow,
    parties: Vec<DocumentPartyRow>,
    references: &HashMap<i64, Vec<(ReferenceKind, String)>>,
    dossiers: Vec<DossierOnDocument>,
) -> Result<Document, CatalogError> {
    let (individuals, companies) = parties_from_rows(parties, references)?;
    let direction = parse_direction(&row.direction)?;
    let channel = parse_channel(&row.channel)?;
    let json = |what: &str, text: &str| {
        CatalogError::Corrupt(format!("{what} of document {}: {text}", row.id))
    };
    let text = row
        .text_state
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| json("text state", &e.to_string()))?;
    let email = row
        .email
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| json("email headers", &e.to_string()))?;
    let attachments =
        serde_json::from_str(&row.attachments).map_err(|e| json("attachments", &e.to_string()))?;
    let attached_to = row
        .attached_to
        .as_deref()
        .map(|id| DocumentId::parse(id).ok_or_else(|| json("attached_to", id)))
        .transpose()?;
    Ok(Document {
        id: parse_document_id(&row.id)?,
        sha256: row.sha256,
        size: u64::try_from(row.size)
            .map_err(|_| CatalogError::Corrupt(format!("size {}", row.size)))?,
        media_type: row.media_type,
        file_name: row.file_name,
        direction,
        channel,
        source: row.source,
        document_type: row.document_type,
        document_date: row.document_date,
        received_at: row.received_at,
        sent_at: row.sent_at,
        title: row.title,
        agent: row.agent,
        recipient: row.recipient,
        sensitive: row.sensitive,
        external_id: row.external_id,
        archived_at: row.archived_at,
        seq: row.seq,
        batch_id: row.batch_id,
        batch_ref: row.batch_ref,
        individuals,
        companies,
        dossiers,
        text,
        email,
        attachments,
        attached_to,
    })
}

fn parse_document_id(id: &str) -> Result<DocumentId, CatalogError> {
    DocumentId::parse(id).ok_or_else(|| CatalogError::Corrupt(format!("document id {id}")))
}

fn parse_direction(direction: &str) -> Result<Direction, CatalogError> {
    Direction::parse(direction)
        .ok_or_else(|| CatalogError::Corrupt(format!("direction {direction}")))
}

fn parse_channel(channel: &str) -> Result<Channel, CatalogError> {
    Channel::parse(channel).ok_or_else(|| CatalogError::Corrupt(format!("channel {channel}")))
}

/// The persons and companies of a document or dossier, from their link rows and references.
fn parties_from_rows(
    parties: Vec<DocumentPartyRow>,
    references: &HashMap<i64, Vec<(ReferenceKind, String)>>,
) -> Result<(Vec<IndividualOnDocument>, Vec<CompanyOnDocument>), CatalogError> {
    let values_of = |party_id: i64, wanted: ReferenceKind| -> Vec<String> {
        references
            .get(&party_id)
            .into_iter()
            .flatten()
            .filter(|(kind, _)| *kind == wanted)
            .map(|(_, value)| value.clone())
            .collect()
    };
    let mut individuals = Vec::new();
    let mut companies = Vec::new();
    for party in parties {
        match party.kind.as_str() {
            "individual" => individuals.push(IndividualOnDocument {
                party_id: party.party_id,
                role: party.role,
                nir: values_of(party.party_id, ReferenceKind::Nir)
                    .into_iter()
                    .next(),
                client_numbers: values_of(party.party_id, ReferenceKind::ClientNumber),
                last_name: party.last_name,
                first_name: party.first_name,
                birth_date: party.birth_date,
            }),
            "company" => companies.push(CompanyOnDocument {
                party_id: party.party_id,
                role: party.role,
                siren: values_of(party.party_id, ReferenceKind::Siren)
                    .into_iter()
                    .next(),
                siret: party.siret,
                company_numbers: values_of(party.party_id, ReferenceKind::CompanyNumber),
                name: party.name,
            }),
            other => return Err(CatalogError::Corrupt(format!("party kind {other}"))),
        }
    }
    Ok((individuals, companies))
}
