//! Documents read back whole, with their parties and dossiers: one by id, or in bulk by an SQL
//! condition (a dossier's, a party's documents), and the pieces the index's bulk reads share.

use std::collections::HashMap;

use super::{Connection, DIALECT, PartyLink, Pool, pick};
use crate::catalog::{CatalogError, Dialect};
use crate::documents::model::{Channel, Direction, Document, DocumentId};
use crate::dossiers::DossierOnDocument;
use crate::parties::{CompanyOnDocument, IndividualOnDocument, ReferenceKind};

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
pub(super) struct DocumentPartyRow {
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
pub(super) struct ReferenceRow {
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
pub(super) struct SequencedDocument {
    pub(super) archived_seq: i64,
    pub(super) document: Document,
}

/// The dossiers of document `d` as a JSON list of [`DossierOnDocument`], in link order.
pub(super) const DOSSIERS_OF_DOCUMENT: &str = pick(
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
pub(super) const LINKS_OF_DOCUMENT: &str = pick(
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
pub(super) fn json_list_of(columns: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => format!("json_group_array(json_array({columns}))"),
        Dialect::Postgres => format!("COALESCE(json_agg(json_build_array({columns})), '[]')::text"),
    }
}

/// A JSON text (such as [`LINKS_OF_DOCUMENT`]) nested as JSON, not as a string, in
/// [`json_list_of`]'s list: a subquery's value loses SQLite's JSON subtype.
pub(super) fn nested_json(text: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => format!("json({text})"),
        Dialect::Postgres => format!("({text})::json"),
    }
}

/// Runs `query`, binding `low` and `high` to `$1` and `$2`, whose one value is a JSON list
/// made by [`json_list_of`], and reads it as `T`s; `what` names them in an error.
pub(super) async fn read_json_list<T: serde::de::DeserializeOwned>(
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
pub(super) async fn load_documents(
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

/// The parties of the documents a bulk read selects, read in one query: the driver's cost is
/// per row, and a party shared by many documents of the read (a large company) is read once.
pub(super) struct PartiesOfDocuments {
    rows: HashMap<i64, IndexPartyRow>,
    pub(super) references: HashMap<i64, Vec<(ReferenceKind, String)>>,
}

impl PartiesOfDocuments {
    pub(super) async fn load(
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
    pub(super) fn linked(
        &self,
        links: Vec<PartyLink>,
    ) -> Result<Vec<DocumentPartyRow>, CatalogError> {
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

pub(super) fn references_by_party(
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
pub(super) enum Visibility {
    IncludingSensitive,
    Of(bool),
}

pub(super) async fn load_document(
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

pub(super) fn parse_document_id(id: &str) -> Result<DocumentId, CatalogError> {
    DocumentId::parse(id).ok_or_else(|| CatalogError::Corrupt(format!("document id {id}")))
}

pub(super) fn parse_direction(direction: &str) -> Result<Direction, CatalogError> {
    Direction::parse(direction)
        .ok_or_else(|| CatalogError::Corrupt(format!("direction {direction}")))
}

pub(super) fn parse_channel(channel: &str) -> Result<Channel, CatalogError> {
    Channel::parse(channel).ok_or_else(|| CatalogError::Corrupt(format!("channel {channel}")))
}

/// The persons and companies of a document or dossier, from their link rows and references.
pub(super) fn parties_from_rows(
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
