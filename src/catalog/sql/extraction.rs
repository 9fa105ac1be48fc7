//! The text extraction queue in the catalog: jobs leased to workers, their outcomes (a text
//! done re-indexes its document), and the queue's length.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Backend, Connection, DIALECT, begin_write, record_change};
use crate::catalog::{CatalogError, CommitWatch, Dialect, ExtractionQueue};
use crate::dates::{format_timestamp, now_timestamp};
use crate::extraction::{ExtractionJob, ExtractionOutcome, QueueLength};

/// A PDF whose pages hold no text layer.
const NO_TEXT_LAYER: &str = "the PDF has no text layer: waiting for OCR";

/// How long a job waits after a failure around it (the store unreachable…).
const RETRY_AFTER: time::Duration = time::Duration::minutes(1);

/// After this many tries without an outcome (store unreachable, extractor killed), a job fails
/// for good.
const MAX_ATTEMPTS: u32 = 5;

#[async_trait]
impl ExtractionQueue for Backend {
    fn watch_jobs(&self) -> CommitWatch {
        self.followers.watch_jobs()
    }

    async fn claim_extractions(
        &self,
        node: &str,
        ocr_off: Option<&str>,
        limit: u32,
        now: &str,
        lease_until: &str,
    ) -> Result<Vec<ExtractionJob>, CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        if let Some(reason) = ocr_off {
            sqlx::query(
                "UPDATE text_extractions SET reason = $1 \
                 WHERE status = 'pending' AND needs_ocr AND (reason IS NULL OR reason <> $1)",
            )
            .bind(format!("waiting for OCR: {reason}"))
            .execute(&mut *transaction)
            .await?;
        }
        // A job taken this many times without an outcome stopped its worker each time (a file
        // that crashes or hangs the parser): it fails, instead of stopping every restart.
        sqlx::query(
            "UPDATE text_extractions SET status = 'failed', claimed_until = NULL, finished_at = $1, \
             reason = 'extraction was cut short ' || attempts || ' times (the file stops the extractor)' \
             WHERE status = 'pending' AND attempts >= $2 AND (claimed_until IS NULL OR claimed_until < $1)",
        )
        .bind(now)
        .bind(i64::from(MAX_ATTEMPTS))
        .execute(&mut *transaction)
        .await?;
        let rows: Vec<JobRow> = sqlx::query_as(
            "UPDATE text_extractions SET claimed_until = $3, claimed_by = $5, attempts = attempts + 1 \
             WHERE document_id IN (SELECT document_id FROM text_extractions \
               WHERE status = 'pending' AND (NOT needs_ocr OR $1) \
               AND (claimed_until IS NULL OR claimed_until < $4) \
               ORDER BY queued_at LIMIT $2) \
             RETURNING document_id, sha256, media_type, attempts, \
             (SELECT size FROM documents WHERE id = document_id) AS size",
        )
        .bind(ocr_off.is_none())
        .bind(i64::from(limit))
        .bind(lease_until)
        .bind(now)
        .bind(node)
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        rows.into_iter()
            .map(|row| {
                Ok(ExtractionJob {
                    size: u64::try_from(row.size)
                        .map_err(|_| CatalogError::Corrupt(format!("size {}", row.size)))?,
                    document_id: row.document_id,
                    sha256: row.sha256,
                    media_type: row.media_type,
                    attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    async fn finish_extraction(
        &self,
        job: &ExtractionJob,
        outcome: ExtractionOutcome,
    ) -> Result<(), CatalogError> {
        let now = now_timestamp();
        let extracted = matches!(outcome, ExtractionOutcome::Done { .. });
        let mut transaction = begin_write(&self.writer).await?;
        match outcome {
            ExtractionOutcome::Done {
                method,
                pages,
                text,
            } => {
                sqlx::query(
                    "UPDATE text_extractions SET status = 'done', method = $2, pages = $3, \
                     reason = NULL, claimed_until = NULL, finished_at = $4 WHERE document_id = $1",
                )
                .bind(&job.document_id)
                .bind(method.as_str())
                .bind(i64::from(pages))
                .bind(&now)
                .execute(&mut *transaction)
                .await?;
                // The change makes the index read the document again, now with its words.
                sqlx::query(
                    "INSERT INTO document_texts (document_id, text) VALUES ($1, $2) \
                     ON CONFLICT (document_id) DO UPDATE SET text = excluded.text",
                )
                .bind(&job.document_id)
                .bind(text)
                .execute(&mut *transaction)
                .await?;
                record_change(&mut transaction, &job.document_id, "text_extracted", &now).await?;
            }
            ExtractionOutcome::Failed(reason) => {
                finish_without_text(&mut transaction, job, "failed", &reason, &now).await?;
            }
            ExtractionOutcome::NeedsOcr => {
                sqlx::query(
                    "UPDATE text_extractions SET needs_ocr = TRUE, reason = $2, claimed_until = NULL, \
                     attempts = 0 WHERE document_id = $1",
                )
                .bind(&job.document_id)
                .bind(NO_TEXT_LAYER)
                .execute(&mut *transaction)
                .await?;
            }
            ExtractionOutcome::Retry(reason) if job.attempts >= MAX_ATTEMPTS => {
                let reason = format!("gave up after {} tries: {reason}", job.attempts);
                finish_without_text(&mut transaction, job, "failed", &reason, &now).await?;
            }
            // Taken again once the shortened lease lapses.
            ExtractionOutcome::Retry(reason) => {
                let retry_at = format_timestamp(OffsetDateTime::now_utc() + RETRY_AFTER);
                sqlx::query(
                    "UPDATE text_extractions SET reason = $2, claimed_until = $3 WHERE document_id = $1",
                )
                .bind(&job.document_id)
                .bind(format!("will be tried again: {reason}"))
                .bind(retry_at)
                .execute(&mut *transaction)
                .await?;
            }
        }
        transaction.commit().await?;
        if extracted {
            self.followers.changes_committed();
        }
        Ok(())
    }

    async fn retry_failed_extractions(&self) -> Result<u64, CatalogError> {
        let done = sqlx::query(
            "UPDATE text_extractions SET status = 'pending', attempts = 0, claimed_until = NULL, \
             reason = NULL, finished_at = NULL WHERE status = 'failed'",
        )
        .execute(&self.writer)
        .await?;
        self.followers.jobs_queued();
        Ok(done.rows_affected())
    }

    async fn release_extraction_claims(&self, node: &str) -> Result<(), CatalogError> {
        // Only one server opens a single-file catalog: every lease is its own. On a shared
        // catalog the other nodes' leases cover jobs they are running.
        let whose = match DIALECT {
            Dialect::Sqlite => "$1 IS NOT NULL",
            Dialect::Postgres => "claimed_by = $1",
        };
        sqlx::query(&format!(
            "UPDATE text_extractions SET claimed_until = NULL, claimed_by = NULL \
             WHERE status = 'pending' AND claimed_until IS NOT NULL AND {whose}"
        ))
        .bind(node)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn extraction_queue(&self) -> Result<QueueLength, CatalogError> {
        let (pending, pending_ocr): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE needs_ocr) FROM text_extractions \
             WHERE status = 'pending'",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok(QueueLength {
            pending: pending as u64,
            pending_ocr: pending_ocr as u64,
        })
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    document_id: String,
    sha256: String,
    size: i64,
    media_type: String,
    attempts: i64,
}

async fn finish_without_text(
    connection: &mut Connection,
    job: &ExtractionJob,
    status: &str,
    reason: &str,
    now: &str,
) -> Result<(), CatalogError> {
    sqlx::query(
        "UPDATE text_extractions SET status = $2, reason = $3, claimed_until = NULL, \
         finished_at = $4 WHERE document_id = $1",
    )
    .bind(&job.document_id)
    .bind(status)
    .bind(reason)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}
