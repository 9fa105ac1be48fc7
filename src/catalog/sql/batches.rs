//! Batches in the catalog: the manifest recorded whole, then documents archived in
//! chunks, each document's rows and its outcome in the chunk's one transaction.

use std::collections::HashSet;

use async_trait::async_trait;

use super::audit::append_audit;
use super::document_rows::{DocumentRows, MAX_TEXT_BYTES};
use super::documents::{RowsInserted, insert_document_rows};
use super::parties::KnownReferences;
use super::{Backend, Connection, Db, Pool, begin_write, json_rows};
use crate::access::Scope;
use crate::batches::{
    BatchArchive, BatchDocumentReport, BatchFilter, BatchOfDocument, BatchSummary, BatchTotals,
    NewBatch, Outcome, PendingBatchDocument,
};
use crate::catalog::{BatchStore, CatalogError};
use crate::dates::{format_timestamp, now_timestamp};
use crate::documents::model::DocumentMetadata;
use crate::documents::new::Archived;
use crate::validation::FieldError;

/// Rows of a batch's documents written per SQL call when the batch is recorded.
const INSERT_ROWS_PER_CALL: usize = 1000;

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    batch_ref: String,
    source: String,
    scanned_at: String,
    status: String,
    received_at: String,
    completed_at: Option<String>,
    manifest_sha256: String,
    document_count: i64,
    archived: i64,
    already_archived: i64,
    rejected: i64,
}

impl From<SummaryRow> for BatchSummary {
    fn from(row: SummaryRow) -> Self {
        let settled = row.archived + row.already_archived + row.rejected;
        Self {
            id: row.id,
            batch_ref: row.batch_ref,
            source: row.source,
            scanned_at: row.scanned_at,
            status: row.status,
            received_at: row.received_at,
            completed_at: row.completed_at,
            totals: BatchTotals {
                documents: row.document_count,
                archived: row.archived,
                already_archived: row.already_archived,
                rejected: row.rejected,
                pending: row.document_count - settled,
            },
            fingerprint: row.manifest_sha256,
        }
    }
}

/// Batches of the scope's tenant, and of its source for the scanning centres and outbound
/// systems (`$1` tenant, `$2` bound source), with their totals.
const SUMMARY: &str = "SELECT b.id, b.batch_ref, b.source, b.scanned_at, b.status, b.received_at, \
     b.completed_at, b.manifest_sha256, b.document_count, \
     COUNT(*) FILTER (WHERE x.outcome = 'archived') AS archived, \
     COUNT(*) FILTER (WHERE x.outcome = 'already_archived') AS already_archived, \
     COUNT(*) FILTER (WHERE x.outcome = 'rejected') AS rejected \
     FROM batches b LEFT JOIN batch_documents x ON x.batch_id = b.id \
     WHERE b.tenant_id = $1 AND ($2 IS NULL OR b.source = $2)";

#[async_trait]
impl BatchStore for Backend {
    async fn create_batch(
        &self,
        scope: &Scope,
        batch: &NewBatch,
    ) -> Result<(BatchSummary, bool), CatalogError> {
        let tenant = scope.tenant().as_str();
        let header = &batch.header;
        let mut transaction = begin_write(&self.writer).await?;
        let inserted = sqlx::query(
            "INSERT INTO batches (id, tenant_id, source, batch_ref, scanned_at, manifest_sha256, status, \
             document_count, received_at, actor) VALUES ($1, $2, $3, $4, $5, $6, 'archiving', $7, $8, $9) \
             ON CONFLICT (tenant_id, source, batch_ref) DO NOTHING",
        )
        .bind(&batch.id)
        .bind(tenant)
        .bind(&header.source)
        .bind(&header.batch_ref)
        .bind(format_timestamp(header.scanned_at))
        .bind(&batch.fingerprint)
        .bind(batch.documents.len() as i64)
        .bind(now_timestamp())
        .bind(scope.actor())
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            // Many rows per call: each call is a round trip to the database, and a batch
            // can hold 100,000 documents.
            for rows in batch.documents.chunks(INSERT_ROWS_PER_CALL) {
                let rows: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|document| {
                        let (outcome, metadata, errors) = match &document.metadata {
                            Ok(metadata) => (Outcome::Pending, Some(metadata.as_str()), None),
                            Err(errors) => (
                                Outcome::Rejected,
                                None,
                                Some(
                                    serde_json::to_string(errors).expect("field errors serialise"),
                                ),
                            ),
                        };
                        serde_json::json!([
                            document.position,
                            document.line,
                            document.file,
                            document.sha256,
                            document.size,
                            document.media_type,
                            metadata,
                            outcome.as_str(),
                            errors,
                        ])
                    })
                    .collect();
                sqlx::query(&format!(
                    "INSERT INTO batch_documents (batch_id, position, line, file, sha256, size, media_type, \
                     metadata, outcome, errors) \
                     SELECT $1, CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2, \
                     value ->> 3, CAST(value ->> 4 AS BIGINT), value ->> 5, value ->> 6, value ->> 7, \
                     value ->> 8 FROM {}",
                    json_rows(2)
                ))
                .bind(&batch.id)
                .bind(serde_json::Value::Array(rows).to_string())
                .execute(&mut *transaction)
                .await?;
            }
            let details = serde_json::json!({
                "batch_id": batch.id,
                "batch_ref": header.batch_ref,
                "source": header.source,
                "documents": batch.documents.len(),
            });
            append_audit(
                &mut transaction,
                scope,
                "batch.received",
                None,
                &details.to_string(),
                &now_timestamp(),
            )
            .await?;
        }
        let summary = summary_where(
            &mut *transaction,
            scope,
            "b.source = $3 AND b.batch_ref = $4",
            &header.source,
            &header.batch_ref,
        )
        .await?
        .ok_or_else(|| CatalogError::Corrupt(format!("batch {} vanished", header.batch_ref)))?;
        transaction.commit().await?;
        Ok((summary, inserted))
    }

    async fn batch(&self, scope: &Scope, id: &str) -> Result<Option<BatchSummary>, CatalogError> {
        summary_where(&self.readers, scope, "b.id = $3 AND $4 IS NOT NULL", id, "").await
    }

    async fn batch_by_ref(
        &self,
        scope: &Scope,
        source: &str,
        batch_ref: &str,
    ) -> Result<Option<BatchSummary>, CatalogError> {
        summary_where(
            &self.readers,
            scope,
            "b.source = $3 AND b.batch_ref = $4",
            source,
            batch_ref,
        )
        .await
    }

    async fn batches(
        &self,
        scope: &Scope,
        filter: &BatchFilter,
    ) -> Result<Vec<BatchSummary>, CatalogError> {
        let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
            "{SUMMARY} AND ($3 IS NULL OR b.source = $3) AND ($4 IS NULL OR b.received_at >= $4) \
             AND ($5 IS NULL OR b.received_at < $5) AND ($6 IS NULL OR b.status = $6) \
             GROUP BY b.id ORDER BY b.received_at DESC, b.id DESC LIMIT $7"
        ))
        .bind(scope.tenant().as_str())
        .bind(scope.bound_source())
        .bind(&filter.source)
        .bind(&filter.from)
        .bind(&filter.to)
        .bind(&filter.status)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(BatchSummary::from).collect())
    }

    /// Every document of a batch the scope can see, in manifest order.
    async fn batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Vec<BatchDocumentReport>, CatalogError> {
        let rows: Vec<ReportRow> = sqlx::query_as(
            "SELECT x.position, x.line, x.file, x.outcome, x.document_id, x.errors \
             FROM batch_documents x JOIN batches b ON b.id = x.batch_id \
             WHERE x.batch_id = $3 AND b.tenant_id = $1 AND ($2 IS NULL OR b.source = $2) \
             ORDER BY x.position",
        )
        .bind(scope.tenant().as_str())
        .bind(scope.bound_source())
        .bind(batch_id)
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter()
            .map(|row| {
                let outcome = Outcome::parse(&row.outcome).ok_or_else(|| {
                    CatalogError::Corrupt(format!("batch outcome {}", row.outcome))
                })?;
                let errors: Vec<FieldError> = match &row.errors {
                    Some(text) => serde_json::from_str(text).map_err(|e| {
                        CatalogError::Corrupt(format!("batch document errors: {e}"))
                    })?,
                    None => Vec::new(),
                };
                Ok(BatchDocumentReport {
                    position: row.position,
                    line: row.line,
                    file: row.file,
                    outcome,
                    document_id: row.document_id,
                    errors,
                })
            })
            .collect()
    }

    async fn pending_batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
        limit: u32,
    ) -> Result<Vec<PendingBatchDocument>, CatalogError> {
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT x.position, x.file, x.sha256, x.size, x.media_type, x.metadata \
             FROM batch_documents x JOIN batches b ON b.id = x.batch_id \
             WHERE x.batch_id = $3 AND x.outcome = 'pending' AND b.tenant_id = $1 \
             AND ($2 IS NULL OR b.source = $2) ORDER BY x.position LIMIT $4",
        )
        .bind(scope.tenant().as_str())
        .bind(scope.bound_source())
        .bind(batch_id)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(PendingBatchDocument::from).collect())
    }

    /// Archives a chunk of a batch's documents in one transaction: one fsync for the chunk, and
    /// no savepoint per document (each costs two more round trips to the database). A document the
    /// catalog refuses (a party conflict, found only while writing) rolls the chunk back; its
    /// rejection is recorded on its own and the chunk is written again without it. Documents no
    /// longer pending (another request archiving the same batch got there first) are skipped.
    async fn archive_batch_documents(
        &self,
        scope: &Scope,
        batch: BatchOfDocument<'_>,
        documents: Vec<BatchArchive>,
    ) -> Result<Archived, CatalogError> {
        loop {
            match archive_chunk(&self.writer, scope, batch, &documents).await? {
                Ok(archived) => {
                    if archived.documents > 0 {
                        self.followers.changes_committed();
                        self.followers.jobs_queued();
                    }
                    return Ok(archived);
                }
                Err((position, errors)) => {
                    let mut transaction = begin_write(&self.writer).await?;
                    settle(
                        &mut transaction,
                        batch.id,
                        vec![(position, Settled::rejected(errors))],
                    )
                    .await?;
                    transaction.commit().await?;
                }
            }
        }
    }

    /// Marks the batch completed once no document is pending; returns it as it then stands.
    async fn complete_batch(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Option<(BatchSummary, bool)>, CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let now = now_timestamp();
        let completed = sqlx::query(
            "UPDATE batches SET status = 'completed', completed_at = $2 \
             WHERE id = $1 AND status = 'archiving' AND tenant_id = $3 \
             AND NOT EXISTS (SELECT 1 FROM batch_documents WHERE batch_id = $1 AND outcome = 'pending')",
        )
        .bind(batch_id)
        .bind(&now)
        .bind(scope.tenant().as_str())
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        let summary = summary_where(
            &mut *transaction,
            scope,
            "b.id = $3 AND $4 IS NOT NULL",
            batch_id,
            "",
        )
        .await?;
        if completed && let Some(summary) = &summary {
            let details = serde_json::json!({
                "batch_id": batch_id,
                "archived": summary.totals.archived,
                "already_archived": summary.totals.already_archived,
                "rejected": summary.totals.rejected,
            });
            append_audit(
                &mut transaction,
                scope,
                "batch.completed",
                None,
                &details.to_string(),
                &now,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(summary.map(|summary| (summary, completed)))
    }
}

/// A document of a batch still to archive, as stored.
#[derive(sqlx::FromRow)]
struct PendingRow {
    position: i64,
    file: String,
    sha256: String,
    size: i64,
    media_type: Option<String>,
    metadata: Option<String>,
}

impl From<PendingRow> for PendingBatchDocument {
    fn from(row: PendingRow) -> Self {
        Self {
            position: row.position,
            file: row.file,
            sha256: row.sha256,
            size: row.size,
            media_type: row.media_type,
            metadata: row.metadata,
        }
    }
}

async fn summary_where<'c>(
    executor: impl sqlx::Executor<'c, Database = Db>,
    scope: &Scope,
    condition: &str,
    first: &str,
    second: &str,
) -> Result<Option<BatchSummary>, CatalogError> {
    let row: Option<SummaryRow> =
        sqlx::query_as(&format!("{SUMMARY} AND {condition} GROUP BY b.id"))
            .bind(scope.tenant().as_str())
            .bind(scope.bound_source())
            .bind(first)
            .bind(second)
            .fetch_optional(executor)
            .await?;
    Ok(row.map(BatchSummary::from))
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    position: i64,
    line: Option<i64>,
    file: String,
    outcome: String,
    document_id: Option<String>,
    errors: Option<String>,
}

/// Writes the chunk and tells what it archived, or stops at the first document the catalog
/// refuses and returns it (everything written is then rolled back).
async fn archive_chunk(
    writer: &Pool,
    scope: &Scope,
    batch: BatchOfDocument<'_>,
    documents: &[BatchArchive],
) -> Result<Result<Archived, (i64, Vec<FieldError>)>, CatalogError> {
    let mut archived = Archived::default();
    let (Some(first), Some(last)) = (documents.first(), documents.last()) else {
        return Ok(Ok(archived));
    };
    let mut transaction = begin_write(writer).await?;
    let pending: HashSet<i64> = sqlx::query_scalar(
        "SELECT x.position FROM batch_documents x JOIN batches b ON b.id = x.batch_id \
         WHERE x.batch_id = $1 AND b.tenant_id = $2 AND ($3 IS NULL OR b.source = $3) \
         AND x.outcome = 'pending' AND x.position BETWEEN $4 AND $5",
    )
    .bind(batch.id)
    .bind(scope.tenant().as_str())
    .bind(scope.bound_source())
    .bind(first.position)
    .bind(last.position)
    .fetch_all(&mut *transaction)
    .await?
    .into_iter()
    .collect();
    let mut rows = DocumentRows::default();
    let mut known = {
        let metadata: Vec<&DocumentMetadata> = documents
            .iter()
            .filter(|item| pending.contains(&item.position))
            .filter_map(|item| Some(&item.document.as_ref().ok()?.metadata))
            .collect();
        let tenant = scope.tenant().as_str();
        let mut known = KnownReferences::load(&mut transaction, tenant, &metadata).await?;
        rows.look_up_external_ids(&mut transaction, tenant, &metadata)
            .await?;
        known
            .create_new_parties(&mut transaction, tenant, &metadata, &rows, &now_timestamp())
            .await?;
        known
    };
    let mut outcomes = Vec::with_capacity(pending.len());
    for item in documents {
        if !pending.contains(&item.position) {
            continue;
        }
        let settled = match &item.document {
            Err(errors) => Settled::rejected(errors.clone()),
            Ok(new) => {
                match insert_document_rows(
                    &mut transaction,
                    Some(&mut known),
                    &mut rows,
                    scope,
                    new,
                    Some(batch),
                )
                .await
                {
                    Ok(RowsInserted::Created) => {
                        archived.documents += 1;
                        archived.bytes += new.content.size;
                        Settled {
                            outcome: Outcome::Archived,
                            document_id: Some(new.id.to_string()),
                            errors: None,
                        }
                    }
                    Ok(RowsInserted::Existing(existing)) => {
                        if existing.sha256 == new.content.sha256.as_str()
                            && existing.direction == new.metadata.direction.as_str()
                        {
                            Settled {
                                outcome: Outcome::AlreadyArchived,
                                document_id: Some(existing.id),
                                errors: None,
                            }
                        } else {
                            Settled::rejected(vec![FieldError::new(
                                "external_id",
                                format!(
                                    "already names document {} with different content or direction",
                                    existing.id
                                ),
                            )])
                        }
                    }
                    Err(
                        CatalogError::Conflict { field, message }
                        | CatalogError::Invalid { field, message },
                    ) => {
                        transaction.rollback().await?;
                        return Ok(Err((item.position, vec![FieldError::new(field, message)])));
                    }
                    Err(other) => return Err(other),
                }
            }
        };
        outcomes.push((item.position, settled));
        if rows.text_bytes() > MAX_TEXT_BYTES {
            rows.write(&mut transaction, scope).await?;
        }
    }
    rows.write(&mut transaction, scope).await?;
    settle(&mut transaction, batch.id, outcomes).await?;
    transaction.commit().await?;
    Ok(Ok(archived))
}

/// Records the outcomes of documents of a batch still pending, in one statement.
async fn settle(
    connection: &mut Connection,
    batch_id: &str,
    outcomes: Vec<(i64, Settled)>,
) -> Result<(), CatalogError> {
    let (Some(low), Some(high)) = (
        outcomes.iter().map(|(position, _)| *position).min(),
        outcomes.iter().map(|(position, _)| *position).max(),
    ) else {
        return Ok(());
    };
    let rows: Vec<serde_json::Value> = outcomes
        .into_iter()
        .map(|(position, settled)| {
            serde_json::json!([
                position,
                settled.outcome.as_str(),
                settled.document_id,
                settled.errors
            ])
        })
        .collect();
    sqlx::query(&format!(
        // The metadata (names, NIRs) was kept only to archive the document: the document holds
        // it now, and a batch report must not be a second copy of personal data.
        // Materialised first: otherwise SQLite may scan the batch's rows for each outcome.
        // Bounded by the chunk's positions: SQLite walks the batch's pending rows and looks
        // each up in the outcomes (7 ms a chunk at the start of a 100,000-document batch,
        // 1 ms at its end, before the bound).
        "WITH outcomes AS MATERIALIZED (SELECT CAST(value ->> 0 AS BIGINT) AS position, \
         value ->> 1 AS outcome, value ->> 2 AS document_id, value ->> 3 AS errors FROM {}) \
         UPDATE batch_documents SET outcome = outcomes.outcome, \
         document_id = outcomes.document_id, errors = outcomes.errors, metadata = NULL \
         FROM outcomes WHERE batch_documents.batch_id = $1 \
         AND batch_documents.position = outcomes.position \
         AND batch_documents.outcome = 'pending' \
         AND batch_documents.position BETWEEN $3 AND $4",
        json_rows(2)
    ))
    .bind(batch_id)
    .bind(serde_json::Value::Array(rows).to_string())
    .bind(low)
    .bind(high)
    .execute(connection)
    .await?;
    Ok(())
}

/// The outcome recorded for one document.
struct Settled {
    outcome: Outcome,
    document_id: Option<String>,
    /// JSON list of field errors.
    errors: Option<String>,
}

impl Settled {
    fn rejected(errors: Vec<FieldError>) -> Self {
        Self {
            outcome: Outcome::Rejected,
            document_id: None,
            errors: Some(serde_json::to_string(&errors).expect("field errors serialise")),
        }
    }
}
