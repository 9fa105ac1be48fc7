//! Parties in the catalog: resolving the persons and companies a document or dossier names to
//! the parties archived (created, completed, or refused when their references disagree), and
//! the client view's reads of a party.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;

use super::document_reads::{ReferenceRow, load_documents, references_by_party};
use super::document_rows::{DocumentRows, next_numbers, parse_numbers};
use super::dossier_rows::{DOSSIER_COLUMNS, DossierRow, complete};
use super::{Backend, Connection, DIALECT, json_rows, pick};
use crate::access::Scope;
use crate::catalog::{CatalogError, Dialect, PartyStore};
use crate::dates::format_date;
use crate::documents::model::{Document, DocumentMetadata};
use crate::dossiers::Dossier;
use crate::identifiers::Siret;
use crate::parties::{CompanyReference, IndividualReference, Party, PartyKind, ReferenceKind};

#[async_trait]
impl PartyStore for Backend {
    async fn party(
        &self,
        scope: &Scope,
        kind: ReferenceKind,
        value: &str,
    ) -> Result<Option<Party>, CatalogError> {
        let find = |kind: ReferenceKind, value: String| async move {
            sqlx::query_as::<_, PartyRow>(&format!(
                "SELECT p.id, p.kind, p.last_name, p.first_name, p.birth_date, p.name \
                 FROM party_references r JOIN parties p ON p.id = r.party_id \
                 WHERE r.tenant_id = $1 AND r.kind = $2 AND r.value = $3 AND {PARTY_VISIBLE}"
            ))
            .bind(scope.tenant().as_str())
            .bind(kind.as_str())
            .bind(value)
            .bind(scope.sees_sensitive())
            .fetch_optional(&self.readers)
            .await
        };
        let mut row = find(kind, value.to_string()).await?;
        // An establishment not yet named on any document still designates its company.
        if row.is_none()
            && kind == ReferenceKind::Siret
            && let Ok(siret) = Siret::parse(value)
        {
            row = find(ReferenceKind::Siren, siret.siren().as_str().to_string()).await?;
        }
        let Some(row) = row else { return Ok(None) };
        let references: Vec<ReferenceRow> = sqlx::query_as(
            "SELECT party_id, kind, value FROM party_references WHERE party_id = $1",
        )
        .bind(row.id)
        .fetch_all(&self.readers)
        .await?;
        // Ordered as every other read orders a party's numbers.
        let references = references_by_party(references)?;
        let of = |wanted: ReferenceKind| -> Vec<String> {
            references
                .get(&row.id)
                .into_iter()
                .flatten()
                .filter(|(kind, _)| *kind == wanted)
                .map(|(_, value)| value.clone())
                .collect()
        };
        let kind = match row.kind.as_str() {
            "individual" => PartyKind::Individual,
            "company" => PartyKind::Company,
            other => return Err(CatalogError::Corrupt(format!("party kind {other}"))),
        };
        Ok(Some(Party {
            party_id: row.id,
            kind,
            nir: of(ReferenceKind::Nir).into_iter().next(),
            client_numbers: of(ReferenceKind::ClientNumber),
            last_name: row.last_name,
            first_name: row.first_name,
            birth_date: row.birth_date,
            siren: of(ReferenceKind::Siren).into_iter().next(),
            sirets: of(ReferenceKind::Siret),
            company_numbers: of(ReferenceKind::CompanyNumber),
            name: row.name,
        }))
    }

    async fn party_dossiers(
        &self,
        scope: &Scope,
        party_id: i64,
    ) -> Result<Vec<Dossier>, CatalogError> {
        let rows: Vec<DossierRow> = sqlx::query_as(&format!(
            "SELECT {DOSSIER_COLUMNS} FROM dossiers x WHERE x.tenant_id = $1 AND x.id IN \
             (SELECT dossier_id FROM dossier_parties WHERE party_id = $2 \
              UNION SELECT dd.dossier_id FROM document_dossiers dd \
              JOIN document_parties dp ON dp.document_id = dd.document_id \
              JOIN documents d ON d.id = dd.document_id \
              WHERE dp.party_id = $2 AND (d.sensitive = FALSE OR $3)) \
             ORDER BY x.status = 'open' DESC, x.opened_at DESC, x.id DESC"
        ))
        .bind(scope.tenant().as_str())
        .bind(party_id)
        .bind(scope.sees_sensitive())
        .fetch_all(&self.readers)
        .await?;
        complete(&self.readers, scope, rows).await
    }

    async fn party_documents(
        &self,
        scope: &Scope,
        party_id: i64,
        limit: Option<u32>,
    ) -> Result<(Vec<Document>, u64), CatalogError> {
        const OF_PARTY: &str = "FROM documents d2 WHERE d2.id IN \
             (SELECT dp.document_id FROM document_parties dp WHERE dp.party_id = $1) \
             AND (d2.sensitive = FALSE OR $2 = 1)";
        let sees = i64::from(scope.sees_sensitive());
        // Party ids are global: one of another tenant has no documents here.
        let in_tenant: Option<i64> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND tenant_id = $2")
                .bind(party_id)
                .bind(scope.tenant().as_str())
                .fetch_optional(&self.readers)
                .await?;
        if in_tenant.is_none() {
            return Ok((Vec::new(), 0));
        }
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {OF_PARTY}"))
            .bind(party_id)
            .bind(sees)
            .fetch_one(&self.readers)
            .await?;
        let limit = limit.map_or(String::new(), |limit| format!("LIMIT {limit}"));
        let mut sources = load_documents(
            &self.readers,
            &format!(
                "d.id IN (SELECT d2.id {OF_PARTY} \
                 ORDER BY d2.document_date DESC, d2.archived_seq DESC {limit})"
            ),
            party_id,
            sees,
        )
        .await?;
        sources.sort_by(|a, b| {
            (&b.document.document_date, b.archived_seq)
                .cmp(&(&a.document.document_date, a.archived_seq))
        });
        Ok((
            sources.into_iter().map(|s| s.document).collect(),
            total as u64,
        ))
    }
}

#[derive(sqlx::FromRow)]
struct PartyRow {
    id: i64,
    kind: String,
    last_name: Option<String>,
    first_name: Option<String>,
    birth_date: Option<String>,
    name: Option<String>,
}

/// Whether party `p` shows in the scope: a document it sees names it, or a dossier does and
/// the scope sees sensitive mail or no sensitive document names it. A party named only on
/// sensitive mail does not exist for those who do not see that mail, even once a dossier of
/// theirs names it: what the record holds came from that mail (docs/access-control.md,
/// "Parties in answers").
const PARTY_VISIBLE: &str = "(EXISTS (SELECT 1 FROM document_parties dp \
     JOIN documents d ON d.id = dp.document_id WHERE dp.party_id = p.id \
     AND (d.sensitive = FALSE OR $4)) \
     OR (EXISTS (SELECT 1 FROM dossier_parties xp WHERE xp.party_id = p.id) \
         AND ($4 OR NOT EXISTS (SELECT 1 FROM document_parties dp \
              JOIN documents d ON d.id = dp.document_id \
              WHERE dp.party_id = p.id AND d.sensitive = TRUE))))";

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
    pub(super) async fn create_new_parties(
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

pub(super) async fn resolve_individual(
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

pub(super) async fn resolve_company(
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
