//! Dossiers read back whole: their rows completed with parties, status history and the
//! counts of documents the scope sees, for the dossier reads and the client view of a party.

use std::collections::HashMap;

use super::document_reads::{
    DocumentPartyRow, ReferenceRow, parties_from_rows, references_by_party,
};
use super::{Pool, json_values};
use crate::access::Scope;
use crate::catalog::CatalogError;
use crate::dossiers::{Dossier, DossierKind, DossierStatus, StatusChange};

#[derive(sqlx::FromRow)]
pub(super) struct DossierRow {
    pub(super) id: i64,
    pub(super) reference: String,
    pub(super) kind: String,
    pub(super) category: String,
    pub(super) status: String,
    pub(super) title: Option<String>,
    pub(super) agent: Option<String>,
    pub(super) follows: Option<String>,
    pub(super) opened_at: String,
    pub(super) status_changed_at: String,
}

pub(super) const DOSSIER_COLUMNS: &str = "x.id, x.reference, x.kind, x.category, x.status, x.title, x.agent, \
     (SELECT f.reference FROM dossiers f WHERE f.id = x.follows_id) AS follows, x.opened_at, \
     x.status_changed_at";

#[derive(sqlx::FromRow)]
struct DossierPartyRow {
    dossier_id: i64,
    #[sqlx(flatten)]
    party: DocumentPartyRow,
}

#[derive(sqlx::FromRow)]
struct StatusChangeRow {
    dossier_id: i64,
    status: String,
    at: String,
    actor: String,
    reason: Option<String>,
}

pub(super) fn parse_status(stored: &str) -> Result<DossierStatus, CatalogError> {
    DossierStatus::parse(stored)
        .ok_or_else(|| CatalogError::Corrupt(format!("dossier status {stored}")))
}

/// Whether the party `party_id` is hidden from a scope whose `sees_sensitive` is bound as `$2`:
/// sensitive documents name it and no other does (the complement, for a dossier's party, of
/// the visibility rule of `parties.rs`).
fn hidden_from_scope(party_id: &str) -> String {
    format!(
        "(NOT $2 AND EXISTS (SELECT 1 FROM document_parties hp \
         JOIN documents hd ON hd.id = hp.document_id \
         WHERE hp.party_id = {party_id} AND hd.sensitive = TRUE) \
         AND NOT EXISTS (SELECT 1 FROM document_parties hp \
         JOIN documents hd ON hd.id = hp.document_id \
         WHERE hp.party_id = {party_id} AND hd.sensitive = FALSE))"
    )
}

/// Dossiers from their rows, with parties, status history and visible document counts, in
/// the rows' order. Four queries whatever the number of dossiers.
pub(super) async fn complete(
    pool: &Pool,
    scope: &Scope,
    rows: Vec<DossierRow>,
) -> Result<Vec<Dossier>, CatalogError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .expect("numbers serialise");
    let ids_list = json_values(1, "BIGINT");
    // A party the scope does not see (named only on sensitive mail it does not see) shows by
    // id and role, without the names and references that mail gave.
    let hidden = hidden_from_scope("dp.party_id");
    let parties: Vec<DossierPartyRow> = sqlx::query_as(&format!(
        "SELECT dp.dossier_id, dp.party_id, p.kind, dp.role, dp.siret, \
         CASE WHEN {hidden} THEN NULL ELSE p.last_name END AS last_name, \
         CASE WHEN {hidden} THEN NULL ELSE p.first_name END AS first_name, \
         CASE WHEN {hidden} THEN NULL ELSE p.birth_date END AS birth_date, \
         CASE WHEN {hidden} THEN NULL ELSE p.name END AS name \
         FROM dossier_parties dp JOIN parties p ON p.id = dp.party_id \
         WHERE dp.dossier_id IN ({ids_list}) ORDER BY dp.dossier_id, dp.position",
    ))
    .bind(&ids)
    .bind(scope.sees_sensitive())
    .fetch_all(pool)
    .await?;
    let references: Vec<ReferenceRow> = sqlx::query_as(&format!(
        "SELECT DISTINCT r.party_id, r.kind, r.value FROM party_references r \
         JOIN dossier_parties dp ON dp.party_id = r.party_id \
         WHERE dp.dossier_id IN ({ids_list}) AND NOT {hidden} ORDER BY r.kind, r.value",
    ))
    .bind(&ids)
    .bind(scope.sees_sensitive())
    .fetch_all(pool)
    .await?;
    let history: Vec<StatusChangeRow> = sqlx::query_as(&format!(
        "SELECT dossier_id, status, at, actor, reason FROM dossier_status_changes \
         WHERE dossier_id IN ({ids_list}) ORDER BY dossier_id, position",
    ))
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let counts: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT dd.dossier_id, COUNT(*) FROM document_dossiers dd \
         JOIN documents d ON d.id = dd.document_id \
         WHERE dd.dossier_id IN ({ids_list}) AND (d.sensitive = FALSE OR $2) \
         GROUP BY dd.dossier_id",
    ))
    .bind(&ids)
    .bind(scope.sees_sensitive())
    .fetch_all(pool)
    .await?;

    let references = references_by_party(references)?;
    let mut parties_of: HashMap<i64, Vec<DocumentPartyRow>> = HashMap::new();
    for row in parties {
        parties_of
            .entry(row.dossier_id)
            .or_default()
            .push(row.party);
    }
    let mut history_of: HashMap<i64, Vec<StatusChange>> = HashMap::new();
    for row in history {
        history_of
            .entry(row.dossier_id)
            .or_default()
            .push(StatusChange {
                status: parse_status(&row.status)?,
                at: row.at,
                by: row.actor,
                reason: row.reason,
            });
    }
    let counts: HashMap<i64, i64> = counts.into_iter().collect();
    rows.into_iter()
        .map(|row| {
            let (individuals, companies) =
                parties_from_rows(parties_of.remove(&row.id).unwrap_or_default(), &references)?;
            Ok(Dossier {
                kind: DossierKind::parse(&row.kind)
                    .ok_or_else(|| CatalogError::Corrupt(format!("dossier kind {}", row.kind)))?,
                status: parse_status(&row.status)?,
                reference: row.reference,
                category: row.category,
                title: row.title,
                agent: row.agent,
                follows: row.follows,
                opened_at: row.opened_at,
                status_changed_at: row.status_changed_at,
                individuals,
                companies,
                status_history: history_of.remove(&row.id).unwrap_or_default(),
                document_count: counts.get(&row.id).copied().unwrap_or(0) as u64,
            })
        })
        .collect()
}
