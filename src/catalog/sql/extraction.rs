//! Document text and email headers in the catalog, and the extraction job queue.

use super::{Connection, DIALECT, Pool, begin_write, json_values, record_change};
use crate::catalog::Dialect;
use time::OffsetDateTime;

use crate::access::Scope;
use crate::catalog::CatalogError;
use crate::dates::{format_timestamp, now_timestamp};
use crate::documents::model::{ContentDescription, DocumentId};
use crate::email::EmailHeaders;
use crate::extraction::{
    ExtractionJob, ExtractionOutcome, InitialText, QueueLength, extractable, needs_ocr,
};

/// A PDF whose pages hold no text layer.
const NO_TEXT_LAYER: &str = "the PDF has no text layer: waiting for OCR";
/// How long a job waits after a failure around it (the store unreachable…).
const RETRY_AFTER: time::Duration = time::Duration::minutes(1);
/// After this many tries without an outcome (store unreachable, extractor killed), a job fails
/// for good.
const MAX_ATTEMPTS: u32 = 5;

/// A new document's text state: a queued job, or the text already read.
pub(super) struct NewText<'a> {
    pub status: &'static str,
    pub needs_ocr: bool,
    pub method: Option<&'static str>,
    pub reason: Option<String>,
    pub body: Option<&'a str>,
}

impl<'a> NewText<'a> {
    pub fn of(content: &'a ContentDescription, text: &'a InitialText) -> Self {
        let media_type = content.media_type.as_str();
        let (status, method, reason, body) = match text {
            InitialText::Queue if extractable(media_type) => ("pending", None, None, None),
            InitialText::Queue => (
                "skipped",
                None,
                Some(format!("no text is read from {media_type} content")),
                None,
            ),
            InitialText::Known { method, text, note } => (
                "done",
                Some(method.as_str()),
                note.clone(),
                Some(text.as_str()),
            ),
            InitialText::Failed(reason) => ("failed", None, Some(reason.clone()), None),
            InitialText::Skipped(reason) => ("skipped", None, Some(reason.clone()), None),
        };
        Self {
            status,
            needs_ocr: status == "pending" && needs_ocr(media_type),
            method,
            reason,
            body,
        }
    }
}

pub(super) async fn insert_email(
    connection: &mut Connection,
    document_id: &str,
    email: &EmailHeaders,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO document_emails (document_id, message_id, sender, recipients, cc, subject, \
         sent_date) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(document_id)
    .bind(&email.message_id)
    .bind(&email.from)
    .bind(serde_json::to_string(&email.to).expect("strings serialise"))
    .bind(serde_json::to_string(&email.cc).expect("strings serialise"))
    .bind(&email.subject)
    .bind(&email.date)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct JobRow {
    document_id: String,
    sha256: String,
    size: i64,
    media_type: String,
    attempts: i64,
}

pub(super) async fn claim(
    writer: &Pool,
    node: &str,
    ocr_off: Option<&str>,
    limit: u32,
    now: &str,
    lease_until: &str,
) -> Result<Vec<ExtractionJob>, CatalogError> {
    let mut transaction = begin_write(writer).await?;
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

pub(super) async fn finish(
    writer: &Pool,
    job: &ExtractionJob,
    outcome: ExtractionOutcome,
) -> Result<(), CatalogError> {
    let now = now_timestamp();
    let mut transaction = begin_write(writer).await?;
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
    Ok(())
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

pub(super) async fn retry_failed(writer: &Pool) -> Result<u64, CatalogError> {
    let done = sqlx::query(
        "UPDATE text_extractions SET status = 'pending', attempts = 0, claimed_until = NULL, \
         reason = NULL, finished_at = NULL WHERE status = 'failed'",
    )
    .execute(writer)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn release_claims(writer: &Pool, node: &str) -> Result<(), CatalogError> {
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
    .execute(writer)
    .await?;
    Ok(())
}

pub(super) async fn queue_length(readers: &Pool) -> Result<QueueLength, CatalogError> {
    let (pending, pending_ocr): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE needs_ocr) FROM text_extractions \
         WHERE status = 'pending'",
    )
    .fetch_one(readers)
    .await?;
    Ok(QueueLength {
        pending: pending as u64,
        pending_ocr: pending_ocr as u64,
    })
}

pub(super) async fn texts(
    readers: &Pool,
    scope: &Scope,
    ids: &[DocumentId],
    max_chars: u32,
) -> Result<Vec<(DocumentId, String)>, CatalogError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.iter().map(DocumentId::to_string).collect();
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT t.document_id, substr(t.text, 1, CAST($4 AS INTEGER)) FROM document_texts t \
         JOIN documents d ON d.id = t.document_id \
         WHERE d.id IN ({}) AND d.tenant_id = $2 AND (d.sensitive = FALSE OR $3)",
        json_values(1, "TEXT")
    ))
    .bind(serde_json::to_string(&ids).expect("strings serialise"))
    .bind(scope.tenant().as_str())
    .bind(scope.sees_sensitive())
    // substr takes a 32-bit length (SQLite gives an empty string beyond).
    .bind(i64::from(max_chars.min(i32::MAX as u32)))
    .fetch_all(readers)
    .await?;
    rows.into_iter()
        .map(|(id, text)| {
            DocumentId::parse(&id)
                .map(|id| (id, text))
                .ok_or_else(|| CatalogError::Corrupt(format!("document id {id}")))
        })
        .collect()
}
