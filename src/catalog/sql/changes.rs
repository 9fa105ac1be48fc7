//! The change feed's SQL: the documents a run of changes touched, and every document in
//! archive order, read in bulk for the search index.

use async_trait::async_trait;

use super::document_reads::{
    DOSSIERS_OF_DOCUMENT, LINKS_OF_DOCUMENT, PartiesOfDocuments, json_list_of, nested_json,
    parse_channel, parse_direction, parse_document_id, parties_from_rows, read_json_list,
};
use super::{Backend, Connection, PartyLink, begin_snapshot, pick};
use crate::catalog::{
    CatalogError, ChangeFeed, ChangedDocuments, CommitWatch, IndexPage, IndexSource,
    IndexedDocument,
};
use crate::dossiers::DossierOnDocument;

#[async_trait]
impl ChangeFeed for Backend {
    fn watch_changes(&self) -> CommitWatch {
        self.followers.watch_changes()
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

/// Loads what the index holds of the documents matching `filter` (as
/// [`load_documents`](super::document_reads::load_documents)).
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
