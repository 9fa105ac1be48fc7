//! The rows of archived documents, gathered inside a write transaction and written together:
//! each call to the database is a round trip (to SQLite's worker thread, or to the PostgreSQL
//! server), and on a machine whose cores sleep between calls a round trip cost more than the
//! rows it wrote. A batch's chunk of 200 documents is written in two calls instead of two per
//! document, after one lookup of its external ids (see docs/batches.md, "Throughput").
//!
//! Party and dossier resolution still write as they go (a later document of the group may name
//! the party an earlier one created; the parties a chunk introduces are created beforehand,
//! together, by `KnownReferences::create_new_parties`); only the rows nothing else reads
//! before the commit wait here: content reference, change, document, links, audit entry, text
//! state, email headers.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::audit::AuditRow;
use super::documents::ExistingDocument;
use super::{Connection, DIALECT, json_rows};
use crate::access::Scope;
use crate::catalog::{CatalogError, Dialect};
use crate::documents::model::{ContentDescription, DocumentMetadata};
use crate::email::EmailHeaders;
use crate::extraction::{InitialText, extractable, needs_ocr};

/// Texts gathered beyond this are written before more documents join the group: a group's
/// rows travel as one JSON value.
pub(super) const MAX_TEXT_BYTES: usize = 8 * 1024 * 1024;

/// Documents of one write transaction whose rows are not written yet.
#[derive(Default)]
pub(super) struct DocumentRows {
    /// One JSON object per document, in archive order, as [`insert_documents`] reads it; the
    /// change number (`seq`) is set when the rows are written.
    documents: Vec<Value>,
    /// The audit entry's details of each document, without the change number.
    details: Vec<serde_json::Map<String, Value>>,
    emails: Vec<(String, EmailHeaders)>,
    /// (source, external id) of the documents gathered, so a second document of the group
    /// under the same external id finds the first, and of those the catalog holds among the
    /// ones [`DocumentRows::look_up_external_ids`] asked about.
    external_ids: HashMap<(String, String), ExistingDocument>,
    /// The (source, external id) pairs asked about: a document under one of them that is not
    /// taken needs no lookup of its own.
    looked_up: HashSet<(String, String)>,
    text_bytes: usize,
}

/// A document's rows as [`DocumentRows::push`] takes them.
pub(super) struct NewRows<'a> {
    pub row: Value,
    pub details: serde_json::Map<String, Value>,
    pub text: NewText<'a>,
    pub email: Option<&'a EmailHeaders>,
}

impl DocumentRows {
    pub fn text_bytes(&self) -> usize {
        self.text_bytes
    }

    /// The document the source archived under `external_id`, if this group holds it or the
    /// catalog did when [`DocumentRows::look_up_external_ids`] asked.
    pub fn existing(&self, source: &str, external_id: &str) -> Option<ExistingDocument> {
        self.external_ids
            .get(&(source.to_string(), external_id.to_string()))
            .cloned()
    }

    /// Whether the catalog was asked about this external id (so [`DocumentRows::existing`]
    /// answers for it).
    pub fn looked_up(&self, source: &str, external_id: &str) -> bool {
        self.looked_up
            .contains(&(source.to_string(), external_id.to_string()))
    }

    /// Asks the catalog, in one call, which of `documents`' external ids the tenant's source
    /// already archived a document under (inside the write transaction: none can be taken
    /// between this call and the rows' write).
    pub async fn look_up_external_ids(
        &mut self,
        connection: &mut Connection,
        tenant: &str,
        documents: &[&DocumentMetadata],
    ) -> Result<(), CatalogError> {
        let pairs: Vec<[&str; 2]> = documents
            .iter()
            .filter_map(|metadata| {
                Some([metadata.source.as_str(), metadata.external_id.as_deref()?])
            })
            .collect();
        if pairs.is_empty() {
            return Ok(());
        }
        let taken: Vec<(String, String, String, String, String)> = sqlx::query_as(&format!(
            // CROSS JOIN: SQLite then reads the list first and finds each pair by the unique
            // index; its planner otherwise scanned the documents (18 s for 10,000).
            "SELECT d.source, d.external_id, d.id, d.sha256, d.direction FROM {} \
             CROSS JOIN documents d WHERE d.tenant_id = $1 AND d.source = j.value ->> 0 \
             AND d.external_id = j.value ->> 1",
            json_rows(2)
        ))
        .bind(tenant)
        .bind(serde_json::to_string(&pairs).expect("strings serialise"))
        .fetch_all(&mut *connection)
        .await?;
        self.looked_up.extend(
            pairs
                .iter()
                .map(|[source, external_id]| (source.to_string(), external_id.to_string())),
        );
        for (source, external_id, id, sha256, direction) in taken {
            self.external_ids.insert(
                (source, external_id),
                ExistingDocument {
                    id,
                    sha256,
                    direction,
                },
            );
        }
        Ok(())
    }

    pub fn push(&mut self, new: NewRows<'_>) {
        let NewRows {
            mut row,
            details,
            text,
            email,
        } = new;
        let id = row["id"]
            .as_str()
            .expect("a document row has an id")
            .to_string();
        let text_of = |field: &str| row[field].as_str().unwrap_or_default().to_string();
        if row["external_id"].is_string() {
            self.external_ids.insert(
                (text_of("source"), text_of("external_id")),
                ExistingDocument {
                    id: id.clone(),
                    sha256: text_of("sha256"),
                    direction: text_of("direction"),
                },
            );
        }
        self.text_bytes += text.body.map_or(0, str::len);
        row["status"] = text.status.into();
        row["needs_ocr"] = text.needs_ocr.into();
        row["method"] = text.method.into();
        row["reason"] = text.reason.into();
        row["text"] = text.body.into();
        if let Some(email) = email {
            self.emails.push((id, email.clone()));
        }
        self.documents.push(row);
        self.details.push(details);
    }

    /// Writes the rows gathered, in two calls (three with email headers), and empties the group.
    pub async fn write(
        &mut self,
        connection: &mut Connection,
        scope: &Scope,
    ) -> Result<(), CatalogError> {
        if self.documents.is_empty() {
            return Ok(());
        }
        let (seqs, audit_seq, audit_hash): (String, Option<i64>, Option<String>) =
            sqlx::query_as(&format!(
                "SELECT {}, (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1), \
                 (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1)",
                next_numbers("changes", "seq")
            ))
            .bind(self.documents.len() as i64)
            .fetch_one(&mut *connection)
            .await?;
        let seqs = parse_numbers(&seqs, self.documents.len())?;
        let mut head = audit_seq.zip(audit_hash);
        let mut audit = Vec::with_capacity(self.documents.len());
        for ((row, details), seq) in self.documents.iter_mut().zip(&mut self.details).zip(seqs) {
            row["seq"] = seq.into();
            details.insert("seq".into(), seq.into());
            let details = Value::Object(std::mem::take(details)).to_string();
            let entry = AuditRow::after(
                head.take(),
                scope,
                "document.archived",
                row["id"].as_str(),
                &details,
                row["at"].as_str().unwrap_or_default(),
            );
            head = Some((entry.seq, entry.hash.clone()));
            audit.push(json!([
                entry.seq,
                entry.at,
                entry.tenant,
                entry.actor,
                entry.action,
                entry.document_id,
                entry.details,
                entry.prev_hash,
                entry.hash,
            ]));
        }
        sqlx::query(&insert_documents())
            .bind(Value::Array(std::mem::take(&mut self.documents)).to_string())
            .bind(Value::Array(audit).to_string())
            .bind(scope.actor())
            .execute(&mut *connection)
            .await?;
        for (id, email) in std::mem::take(&mut self.emails) {
            insert_email(connection, &id, &email).await?;
        }
        // What the catalog was asked stays known; the gathered documents' external ids are
        // in the catalog now, and stay known too.
        self.details.clear();
        self.text_bytes = 0;
        Ok(())
    }
}

/// A scalar subquery: the next `$1` numbers of `table`'s `column`, as a JSON list, under the
/// caller's write lock. SQLite's follow the largest ever given (AUTOINCREMENT); PostgreSQL's
/// are drawn from the column's sequence.
pub(super) fn next_numbers(table: &str, column: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => format!(
            "(WITH RECURSIVE next(number, n) AS (\
             SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), \
             COALESCE((SELECT max({column}) FROM {table}), 0)) + 1, 1 \
             UNION ALL SELECT number + 1, n + 1 FROM next WHERE n < $1) \
             SELECT json_group_array(number) FROM next)"
        ),
        Dialect::Postgres => format!(
            "(SELECT json_agg(s ORDER BY s)::text FROM (SELECT nextval(pg_get_serial_sequence('{table}', '{column}')) AS s \
             FROM generate_series(1, $1)) n)"
        ),
    }
}

/// The numbers [`next_numbers`] listed, `count` of them.
pub(super) fn parse_numbers(list: &str, count: usize) -> Result<Vec<i64>, CatalogError> {
    let numbers: Vec<i64> = serde_json::from_str(list)
        .map_err(|error| CatalogError::Corrupt(format!("new row numbers: {error}")))?;
    if numbers.len() != count {
        return Err(CatalogError::Corrupt(format!(
            "{} new row numbers for {count} rows",
            numbers.len()
        )));
    }
    Ok(numbers)
}

/// The fields of a document's JSON object.
const FIELDS: [&str; 31] = [
    "id",
    "tenant",
    "sha256",
    "size",
    "media_type",
    "file_name",
    "direction",
    "channel",
    "source",
    "document_type",
    "document_date",
    "received_at",
    "sent_at",
    "title",
    "agent",
    "recipient",
    "sensitive",
    "external_id",
    "at",
    "seq",
    "batch_id",
    "batch_ref",
    "attached_to",
    "attachment_position",
    "links",
    "dossiers",
    "status",
    "needs_ocr",
    "method",
    "reason",
    "text",
];

/// Every row of the documents in `$1` (JSON list of [`DocumentRows::documents`]) and their
/// audit entries in `$2` (lists in [`INSERT_AUDIT`](super::audit::INSERT_AUDIT)'s order),
/// linked by `$3`.
fn insert_documents() -> String {
    // A field of a document: SQLite reads it from a temporary table the list is copied into
    // first (reading the JSON list once, not once per statement, took a chunk's write from
    // 13.7 to 3 ms); PostgreSQL from its parsed list, cast.
    let field = |name: &str, cast: &str| match DIALECT {
        Dialect::Sqlite => format!("d.{name}"),
        Dialect::Postgres if cast.is_empty() => format!("d.value ->> '{name}'"),
        Dialect::Postgres => format!("(d.value ->> '{name}')::{cast}"),
    };
    let documents = match DIALECT {
        Dialect::Sqlite => "temp.archiving AS d",
        Dialect::Postgres => "jsonb_array_elements($1::jsonb) AS d(value)",
    };
    let (links, dossiers, audit) = match DIALECT {
        Dialect::Sqlite => (
            "json_each(d.links) AS l",
            "json_each(d.dossiers) AS x",
            "json_each($2) AS a",
        ),
        Dialect::Postgres => (
            "jsonb_array_elements(d.value -> 'links') WITH ORDINALITY AS l(value, key)",
            "jsonb_array_elements_text(d.value -> 'dossiers') AS x(value)",
            "jsonb_array_elements($2::jsonb) AS a(value)",
        ),
    };
    let (position, party, dossier, audit_seq) = match DIALECT {
        Dialect::Sqlite => ("l.key", "l.value ->> 0", "x.value", "a.value ->> 0"),
        Dialect::Postgres => (
            "l.key - 1",
            "(l.value ->> 0)::bigint",
            "x.value::bigint",
            "(a.value ->> 0)::bigint",
        ),
    };
    let (id, at, seq) = (field("id", ""), field("at", ""), field("seq", "bigint"));
    let statements = [
        // `WHERE true`: SQLite reads an upsert after a bare SELECT … FROM as a join clause.
        format!(
            "INSERT INTO blobs (sha256, size, media_type, created_at) \
             SELECT {}, {}, {}, {at} FROM {documents} WHERE true ON CONFLICT (sha256) DO NOTHING",
            field("sha256", ""),
            field("size", "bigint"),
            field("media_type", ""),
        ),
        format!(
            "INSERT INTO changes (seq, tenant_id, document_id, kind, at) \
             SELECT {seq}, {}, {id}, 'document_archived', {at} FROM {documents}",
            field("tenant", ""),
        ),
        format!(
            "INSERT INTO documents (id, tenant_id, sha256, size, media_type, file_name, direction, \
             channel, source, document_type, document_date, received_at, sent_at, title, agent, \
             recipient, sensitive, external_id, archived_at, archived_seq, seq, batch_id, \
             batch_ref, attached_to, attachment_position) \
             SELECT {id}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {at}, \
             {seq}, {seq}, {}, {}, {}, {} FROM {documents}",
            field("tenant", ""),
            field("sha256", ""),
            field("size", "bigint"),
            field("media_type", ""),
            field("file_name", ""),
            field("direction", ""),
            field("channel", ""),
            field("source", ""),
            field("document_type", ""),
            field("document_date", ""),
            field("received_at", ""),
            field("sent_at", ""),
            field("title", ""),
            field("agent", ""),
            field("recipient", ""),
            field("sensitive", "boolean"),
            field("external_id", ""),
            field("batch_id", ""),
            field("batch_ref", ""),
            field("attached_to", ""),
            field("attachment_position", "bigint"),
        ),
        format!(
            "INSERT INTO document_parties (document_id, position, party_id, role, siret) \
             SELECT {id}, {position}, {party}, l.value ->> 1, l.value ->> 2 FROM {documents}, {links}"
        ),
        format!(
            "INSERT INTO document_dossiers (document_id, dossier_id, linked_at, linked_by) \
             SELECT {id}, {dossier}, {at}, $3 FROM {documents}, {dossiers}"
        ),
        format!(
            "INSERT INTO audit_log (seq, at, tenant_id, actor, action, document_id, details, \
             prev_hash, hash) SELECT {audit_seq}, a.value ->> 1, a.value ->> 2, a.value ->> 3, \
             a.value ->> 4, a.value ->> 5, a.value ->> 6, a.value ->> 7, a.value ->> 8 FROM {audit}"
        ),
        format!(
            "INSERT INTO text_extractions (document_id, sha256, media_type, status, needs_ocr, \
             method, reason, queued_at, finished_at) \
             SELECT {id}, {}, {}, {status}, {}, {}, {}, {at}, \
             CASE WHEN {status} = 'pending' THEN NULL ELSE {at} END FROM {documents}",
            field("sha256", ""),
            field("media_type", ""),
            field("needs_ocr", "boolean"),
            field("method", ""),
            field("reason", ""),
            status = field("status", ""),
        ),
        format!(
            "INSERT INTO document_texts (document_id, text) \
             SELECT {id}, {text} FROM {documents} WHERE {text} IS NOT NULL",
            text = field("text", ""),
        ),
    ];
    match DIALECT {
        Dialect::Sqlite => {
            let columns = FIELDS.join(", ");
            let values: Vec<String> = FIELDS
                .iter()
                .map(|name| match *name {
                    "links" | "dossiers" => format!("value -> '{name}'"),
                    _ => format!("value ->> '{name}'"),
                })
                .collect();
            // Each document parsed once (JSONB, materialized): `json_each` hands an element
            // over as text, made anew for every `->>` and parsed again by it (12 % of the
            // server's processor time while committing a manifest, `perf`). Emptied after use
            // too: the rows hold personal data (titles, texts).
            format!(
                "CREATE TEMP TABLE IF NOT EXISTS archiving ({columns}); \
                 DELETE FROM temp.archiving; \
                 WITH rows AS MATERIALIZED (SELECT jsonb(value) AS value FROM json_each($1)) \
                 INSERT INTO temp.archiving ({columns}) SELECT {} FROM rows; \
                 {}; DELETE FROM temp.archiving",
                values.join(", "),
                statements.join("; ")
            )
        }
        // One statement: PostgreSQL prepares one at a time. Its foreign keys are checked at the
        // statement's end, when every part has written its rows.
        Dialect::Postgres => {
            let (last, parts) = statements.split_last().expect("statements");
            let parts: Vec<String> = parts
                .iter()
                .enumerate()
                .map(|(index, part)| format!("w{index} AS ({part})"))
                .collect();
            format!("WITH {} {last}", parts.join(", "))
        }
    }
}

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

async fn insert_email(
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
