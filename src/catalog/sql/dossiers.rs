//! Dossiers in the catalog: creation, status changes, document links, the lists of
//! a dossier's documents, and the client view of a party.

use std::collections::HashMap;

use super::{
    CatalogError, Connection, DocumentPartyRow, Pool, ReferenceRow, append_audit, begin_write,
    json_rows, json_values, load_documents, parties_from_rows, record_change, references_by_party,
    resolve_company, resolve_individual,
};
use crate::access::Scope;
use crate::dates::{format_timestamp, now_timestamp};
use crate::documents::model::{Document, DocumentId};
use crate::dossiers::{
    Dossier, DossierFilter, DossierKind, DossierLink, DossierPage, DossierStatus, Linked,
    NewDossier, StatusChange, cancelled_message, unknown_message,
};
use crate::identifiers::Siret;
use crate::parties::{Party, PartyKind, ReferenceKind};

/// A party link as documents and dossiers hold it: party id, role, establishment (SIRET).
pub(super) type PartyLink = (i64, Option<String>, Option<String>);

#[derive(sqlx::FromRow)]
struct DossierRow {
    id: i64,
    reference: String,
    kind: String,
    category: String,
    status: String,
    title: Option<String>,
    agent: Option<String>,
    follows: Option<String>,
    opened_at: String,
    status_changed_at: String,
}

const DOSSIER_COLUMNS: &str = "x.id, x.reference, x.kind, x.category, x.status, x.title, x.agent, \
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

pub(super) async fn categories(pool: &Pool, scope: &Scope) -> Result<Vec<String>, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM dossier_categories WHERE tenant_id = $1 ORDER BY position",
    )
    .bind(scope.tenant().as_str())
    .fetch_all(pool)
    .await?)
}

pub(super) async fn set_categories(
    writer: &Pool,
    scope: &Scope,
    categories: &[String],
) -> Result<(), CatalogError> {
    let mut transaction = begin_write(writer).await?;
    replace_categories(&mut transaction, scope.tenant().as_str(), categories).await?;
    let details = serde_json::json!({ "categories": categories });
    append_audit(
        &mut transaction,
        scope,
        "dossier_categories.changed",
        None,
        &details.to_string(),
        &now_timestamp(),
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}

pub(super) async fn replace_categories(
    connection: &mut Connection,
    tenant: &str,
    categories: &[String],
) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM dossier_categories WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&mut *connection)
        .await?;
    let rows: Vec<serde_json::Value> = categories
        .iter()
        .enumerate()
        .map(|(index, name)| serde_json::json!([index + 1, name]))
        .collect();
    sqlx::query(&format!(
        "INSERT INTO dossier_categories (tenant_id, name, position) \
         SELECT $1, value ->> 1, CAST(value ->> 0 AS BIGINT) FROM {}",
        json_rows(2)
    ))
    .bind(tenant)
    .bind(serde_json::Value::Array(rows).to_string())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The category as the tenant's list spells it, matched without regard to case.
async fn listed_category(
    connection: &mut Connection,
    tenant: &str,
    category: &str,
) -> Result<String, CatalogError> {
    let listed: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM dossier_categories WHERE tenant_id = $1 ORDER BY position",
    )
    .bind(tenant)
    .fetch_all(&mut *connection)
    .await?;
    let wanted = category.to_lowercase();
    listed
        .iter()
        .find(|name| name.to_lowercase() == wanted)
        .cloned()
        .ok_or_else(|| CatalogError::Invalid {
            field: "category".into(),
            message: format!(
                "is not one of this archive's dossier categories: {}",
                listed.join(", ")
            ),
        })
}

async fn dossier_id(
    connection: &mut Connection,
    tenant: &str,
    reference: &str,
) -> Result<Option<(i64, DossierStatus)>, CatalogError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, status FROM dossiers WHERE tenant_id = $1 AND reference = $2")
            .bind(tenant)
            .bind(reference)
            .fetch_optional(&mut *connection)
            .await?;
    row.map(|(id, status)| Ok((id, parse_status(&status)?)))
        .transpose()
}

fn parse_status(stored: &str) -> Result<DossierStatus, CatalogError> {
    DossierStatus::parse(stored)
        .ok_or_else(|| CatalogError::Corrupt(format!("dossier status {stored}")))
}

/// What a new dossier's row holds besides its parties.
struct DossierFields<'a> {
    reference: &'a str,
    kind: DossierKind,
    category: &'a str,
    title: Option<&'a str>,
    agent: Option<&'a str>,
    follows_id: Option<i64>,
    opened_at: &'a str,
}

/// Writes an open dossier, its parties, its first status and its audit entry in the caller's
/// write transaction; the reference must be free.
async fn insert_dossier(
    connection: &mut Connection,
    scope: &Scope,
    fields: DossierFields<'_>,
    parties: &[PartyLink],
    now: &str,
) -> Result<i64, CatalogError> {
    let tenant = scope.tenant().as_str();
    let category = listed_category(connection, tenant, fields.category).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO dossiers (tenant_id, reference, kind, category, status, title, agent, \
         follows_id, opened_at, status_changed_at, created_at, created_by) \
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $9, $10) RETURNING id",
    )
    .bind(tenant)
    .bind(fields.reference)
    .bind(fields.kind.as_str())
    .bind(&category)
    .bind(fields.title)
    .bind(fields.agent)
    .bind(fields.follows_id)
    .bind(fields.opened_at)
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *connection)
    .await?;
    let parties = serde_json::Value::Array(
        parties
            .iter()
            .enumerate()
            .map(|(position, (party, role, siret))| {
                serde_json::json!([position, party, role, siret])
            })
            .collect(),
    );
    sqlx::query(&format!(
        "INSERT INTO dossier_parties (dossier_id, position, party_id, role, siret) \
         SELECT $1, CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2, \
         value ->> 3 FROM {}",
        json_rows(2)
    ))
    .bind(id)
    .bind(parties.to_string())
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO dossier_status_changes (dossier_id, position, status, at, actor) \
         VALUES ($1, 1, 'open', $2, $3)",
    )
    .bind(id)
    .bind(now)
    .bind(scope.actor())
    .execute(&mut *connection)
    .await?;
    let details = serde_json::json!({
        "reference": fields.reference,
        "kind": fields.kind.as_str(),
        "category": category,
    });
    append_audit(
        connection,
        scope,
        "dossier.created",
        None,
        &details.to_string(),
        now,
    )
    .await?;
    Ok(id)
}

pub(super) async fn create(
    writer: &Pool,
    scope: &Scope,
    new: &NewDossier,
) -> Result<Dossier, CatalogError> {
    let tenant = scope.tenant().as_str();
    let now = now_timestamp();
    let mut transaction = begin_write(writer).await?;
    if dossier_id(&mut transaction, tenant, &new.reference)
        .await?
        .is_some()
    {
        return Err(CatalogError::Conflict {
            field: "reference".into(),
            message: format!("the dossier {} already exists", new.reference),
        });
    }
    let follows_id = match &new.follows {
        None => None,
        Some(follows) => Some(
            dossier_id(&mut transaction, tenant, follows)
                .await?
                .ok_or_else(|| CatalogError::Invalid {
                    field: "follows".into(),
                    message: format!("names no dossier of this archive ({follows})"),
                })?
                .0,
        ),
    };
    let mut parties = Vec::new();
    for (index, individual) in new.individuals.iter().enumerate() {
        let party = resolve_individual(&mut transaction, None, tenant, individual, &now)
            .await
            .map_err(|e| e.at_field(&format!("individuals[{index}]")))?;
        parties.push((party, individual.role.clone(), None));
    }
    for (index, company) in new.companies.iter().enumerate() {
        let party = resolve_company(&mut transaction, None, tenant, company, &now)
            .await
            .map_err(|e| e.at_field(&format!("companies[{index}]")))?;
        parties.push((
            party,
            company.role.clone(),
            company.siret.as_ref().map(|s| s.as_str().to_string()),
        ));
    }
    let opened_at = new.opened_at.map(format_timestamp);
    let fields = DossierFields {
        reference: &new.reference,
        kind: new.kind,
        category: &new.category,
        title: new.title.as_deref(),
        agent: new.agent.as_deref(),
        follows_id,
        opened_at: opened_at.as_deref().unwrap_or(&now),
    };
    insert_dossier(&mut transaction, scope, fields, &parties, &now).await?;
    transaction.commit().await?;
    by_reference(writer, scope, &new.reference)
        .await?
        .ok_or_else(|| CatalogError::Corrupt(format!("dossier {} vanished", new.reference)))
}

/// The dossier a document being archived names: found, or created when the caller asked,
/// with the document's parties and agent. Errors name the entry's own fields.
pub(super) async fn resolve_for_document(
    connection: &mut Connection,
    scope: &Scope,
    link: &DossierLink,
    parties: &[PartyLink],
    agent: Option<&str>,
    sensitive: bool,
    now: &str,
) -> Result<i64, CatalogError> {
    let tenant = scope.tenant().as_str();
    match dossier_id(connection, tenant, &link.reference).await? {
        Some((_, DossierStatus::Cancelled)) => Err(CatalogError::Invalid {
            field: String::new(),
            message: cancelled_message(&link.reference),
        }),
        Some((id, _)) => Ok(id),
        None => {
            let Some(template) = &link.create else {
                return Err(CatalogError::Invalid {
                    field: String::new(),
                    message: unknown_message(&link.reference),
                });
            };
            let fields = DossierFields {
                reference: &link.reference,
                kind: template.kind,
                category: &template.category,
                title: None,
                agent,
                follows_id: None,
                opened_at: now,
            };
            // Every agent of the tenant sees a dossier's parties: parties known from sensitive
            // mail only must not be revealed through a dossier that mail opened.
            let parties = if sensitive { &[][..] } else { parties };
            insert_dossier(connection, scope, fields, parties, now).await
        }
    }
}

pub(super) async fn by_reference(
    pool: &Pool,
    scope: &Scope,
    reference: &str,
) -> Result<Option<Dossier>, CatalogError> {
    let rows: Vec<DossierRow> = sqlx::query_as(&format!(
        "SELECT {DOSSIER_COLUMNS} FROM dossiers x WHERE x.tenant_id = $1 AND x.reference = $2"
    ))
    .bind(scope.tenant().as_str())
    .bind(reference)
    .fetch_all(pool)
    .await?;
    Ok(complete(pool, scope, rows).await?.into_iter().next())
}

pub(super) async fn statuses(
    pool: &Pool,
    scope: &Scope,
    references: &[String],
) -> Result<Vec<(String, DossierStatus)>, CatalogError> {
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT reference, status FROM dossiers WHERE tenant_id = $1 AND reference IN ({})",
        json_values(2, "TEXT")
    ))
    .bind(scope.tenant().as_str())
    .bind(serde_json::to_string(references).expect("strings serialise"))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(reference, status)| Ok((reference, parse_status(&status)?)))
        .collect()
}

pub(super) async fn list(
    pool: &Pool,
    scope: &Scope,
    filter: &DossierFilter,
) -> Result<DossierPage, CatalogError> {
    let as_json = |values: Vec<&str>| serde_json::to_string(&values).expect("strings serialise");
    let statuses = as_json(filter.statuses.iter().map(|s| s.as_str()).collect());
    let kinds = as_json(filter.kinds.iter().map(|k| k.as_str()).collect());
    // Categories are matched as at creation: without regard to case, spelled as listed.
    let listed = categories(pool, scope).await?;
    let categories: Vec<&str> = filter
        .categories
        .iter()
        .map(|wanted| {
            listed
                .iter()
                .find(|name| name.to_lowercase() == wanted.to_lowercase())
                .unwrap_or(wanted)
                .as_str()
        })
        .collect();
    let categories = as_json(categories);
    let (after_opened, after_id) = filter.after.clone().unzip();
    let rows: Vec<DossierRow> = sqlx::query_as(&format!(
        "SELECT {DOSSIER_COLUMNS} FROM dossiers x WHERE x.tenant_id = $1 \
         AND ($2 = '[]' OR x.status IN ({})) \
         AND ($3 = '[]' OR x.kind IN ({})) \
         AND ($4 = '[]' OR x.category IN ({})) \
         AND ($5 IS NULL OR x.agent = $5) \
         AND ($6 IS NULL OR x.opened_at >= $6) \
         AND ($7 IS NULL OR x.opened_at < $7) \
         AND ($8 IS NULL OR x.id IN (SELECT dp.dossier_id FROM dossier_parties dp \
              JOIN party_references r ON r.party_id = dp.party_id \
              WHERE r.tenant_id = $1 AND r.kind = $8 AND r.value = $9)) \
         AND ($10 IS NULL OR x.opened_at < $10 OR (x.opened_at = $10 AND x.id < $11)) \
         ORDER BY x.opened_at DESC, x.id DESC LIMIT $12",
        json_values(2, "TEXT"),
        json_values(3, "TEXT"),
        json_values(4, "TEXT"),
    ))
    .bind(scope.tenant().as_str())
    .bind(statuses)
    .bind(kinds)
    .bind(categories)
    .bind(&filter.agent)
    .bind(&filter.opened_from)
    .bind(&filter.opened_to)
    .bind(filter.party.as_ref().map(|p| p.kind.as_str()))
    .bind(filter.party.as_ref().map(|p| p.value.as_str()))
    .bind(after_opened)
    .bind(after_id)
    .bind(i64::from(filter.limit) + 1)
    .fetch_all(pool)
    .await?;
    let limit = filter.limit as usize;
    let next = (rows.len() > limit).then(|| {
        let last = &rows[limit - 1];
        (last.opened_at.clone(), last.id)
    });
    let rows = rows.into_iter().take(limit).collect();
    Ok(DossierPage {
        dossiers: complete(pool, scope, rows).await?,
        next,
    })
}

/// Dossiers from their rows, with parties, status history and visible document counts, in
/// the rows' order. Four queries whatever the number of dossiers.
async fn complete(
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
    let parties: Vec<DossierPartyRow> = sqlx::query_as(&format!(
        "SELECT dp.dossier_id, dp.party_id, p.kind, dp.role, dp.siret, p.last_name, p.first_name, \
         p.birth_date, p.name FROM dossier_parties dp JOIN parties p ON p.id = dp.party_id \
         WHERE dp.dossier_id IN ({ids_list}) ORDER BY dp.dossier_id, dp.position",
    ))
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let references: Vec<ReferenceRow> = sqlx::query_as(&format!(
        "SELECT DISTINCT r.party_id, r.kind, r.value FROM party_references r \
         JOIN dossier_parties dp ON dp.party_id = r.party_id \
         WHERE dp.dossier_id IN ({ids_list}) ORDER BY r.kind, r.value",
    ))
    .bind(&ids)
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

/// Gives every document of the dossier a change, so the index re-projects it; returns the
/// highest change sequence number written for a document the scope sees (the latest before
/// the call when there is none): what the caller waits for with `min_seq`, and nothing about
/// the documents it does not see.
async fn touch_documents(
    connection: &mut Connection,
    scope: &Scope,
    dossier: i64,
    kind: &str,
    now: &str,
) -> Result<i64, CatalogError> {
    let tenant = scope.tenant().as_str();
    let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
        .fetch_one(&mut *connection)
        .await?;
    sqlx::query(
        "INSERT INTO changes (tenant_id, document_id, kind, at) \
         SELECT $1, document_id, $2, $3 FROM document_dossiers WHERE dossier_id = $4",
    )
    .bind(tenant)
    .bind(kind)
    .bind(now)
    .bind(dossier)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "UPDATE documents SET seq = c.seq FROM changes c \
         WHERE c.seq > $1 AND c.document_id = documents.id",
    )
    .bind(before)
    .execute(&mut *connection)
    .await?;
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(MAX(c.seq), $1) FROM changes c JOIN documents d ON d.id = c.document_id \
         WHERE c.seq > $1 AND (d.sensitive = FALSE OR $2)",
    )
    .bind(before)
    .bind(scope.sees_sensitive())
    .fetch_one(&mut *connection)
    .await?)
}

pub(super) async fn change_status(
    writer: &Pool,
    scope: &Scope,
    reference: &str,
    status: DossierStatus,
    reason: Option<&str>,
) -> Result<Option<(Dossier, i64)>, CatalogError> {
    let tenant = scope.tenant().as_str();
    let now = now_timestamp();
    let mut transaction = begin_write(writer).await?;
    let Some((id, current)) = dossier_id(&mut transaction, tenant, reference).await? else {
        return Ok(None);
    };
    if !current.may_become(status) {
        let hint = match current {
            DossierStatus::Closed => {
                "; a closed dossier is not reopened: open a new dossier that follows it"
            }
            _ => "",
        };
        return Err(CatalogError::Conflict {
            field: "status".into(),
            message: format!(
                "the dossier {reference} is {} and cannot become {}{hint}",
                current.as_str(),
                status.as_str()
            ),
        });
    }
    sqlx::query("UPDATE dossiers SET status = $2, status_changed_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(&now)
        .execute(&mut *transaction)
        .await?;
    sqlx::query(
        "INSERT INTO dossier_status_changes (dossier_id, position, status, at, actor, reason) \
         SELECT $1, COALESCE(MAX(position), 0) + 1, $2, $3, $4, $5 \
         FROM dossier_status_changes WHERE dossier_id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(&now)
    .bind(scope.actor())
    .bind(reason)
    .execute(&mut *transaction)
    .await?;
    let seq = touch_documents(&mut transaction, scope, id, "dossier_status", &now).await?;
    // The reason is free text that may name the client: it stays in the dossier, not the log.
    let details = serde_json::json!({
        "reference": reference,
        "from": current.as_str(),
        "to": status.as_str(),
    });
    append_audit(
        &mut transaction,
        scope,
        "dossier.status_changed",
        None,
        &details.to_string(),
        &now,
    )
    .await?;
    transaction.commit().await?;
    let dossier = by_reference(writer, scope, reference)
        .await?
        .ok_or_else(|| CatalogError::Corrupt(format!("dossier {reference} vanished")))?;
    Ok(Some((dossier, seq)))
}

/// The dossier and the document a link names, both in the scope, in the caller's transaction.
async fn link_ends(
    connection: &mut Connection,
    scope: &Scope,
    reference: &str,
    document: DocumentId,
) -> Result<Option<(i64, DossierStatus, String, Option<i64>)>, CatalogError> {
    let tenant = scope.tenant().as_str();
    let Some((dossier, status)) = dossier_id(connection, tenant, reference).await? else {
        return Ok(None);
    };
    let document = document.to_string();
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT d.seq, (SELECT CAST(1 AS BIGINT) FROM document_dossiers dd WHERE dd.document_id = d.id \
         AND dd.dossier_id = $4) FROM documents d \
         WHERE d.tenant_id = $1 AND d.id = $2 AND (d.sensitive = FALSE OR $3)",
    )
    .bind(tenant)
    .bind(&document)
    .bind(scope.sees_sensitive())
    .bind(dossier)
    .fetch_optional(&mut *connection)
    .await?;
    Ok(row.map(|(seq, linked)| (dossier, status, document, linked.map(|_| seq))))
}

pub(super) async fn link(
    writer: &Pool,
    scope: &Scope,
    reference: &str,
    document: DocumentId,
) -> Result<Option<Linked>, CatalogError> {
    let now = now_timestamp();
    let mut transaction = begin_write(writer).await?;
    let Some((dossier, status, document, linked_seq)) =
        link_ends(&mut transaction, scope, reference, document).await?
    else {
        return Ok(None);
    };
    if let Some(seq) = linked_seq {
        return Ok(Some(Linked::Existing { seq }));
    }
    if status == DossierStatus::Cancelled {
        return Err(CatalogError::Invalid {
            field: "reference".into(),
            message: cancelled_message(reference),
        });
    }
    sqlx::query(
        "INSERT INTO document_dossiers (document_id, dossier_id, linked_at, linked_by) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&document)
    .bind(dossier)
    .bind(&now)
    .bind(scope.actor())
    .execute(&mut *transaction)
    .await?;
    let seq = record_change(&mut transaction, &document, "dossier_linked", &now).await?;
    let details = serde_json::json!({ "reference": reference, "seq": seq });
    append_audit(
        &mut transaction,
        scope,
        "dossier.linked",
        Some(&document),
        &details.to_string(),
        &now,
    )
    .await?;
    transaction.commit().await?;
    Ok(Some(Linked::Created { seq }))
}

pub(super) async fn unlink(
    writer: &Pool,
    scope: &Scope,
    reference: &str,
    document: DocumentId,
) -> Result<Option<i64>, CatalogError> {
    let now = now_timestamp();
    let mut transaction = begin_write(writer).await?;
    let Some((dossier, _, document, Some(_))) =
        link_ends(&mut transaction, scope, reference, document).await?
    else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM document_dossiers WHERE document_id = $1 AND dossier_id = $2")
        .bind(&document)
        .bind(dossier)
        .execute(&mut *transaction)
        .await?;
    let seq = record_change(&mut transaction, &document, "dossier_unlinked", &now).await?;
    let details = serde_json::json!({ "reference": reference, "seq": seq });
    append_audit(
        &mut transaction,
        scope,
        "dossier.unlinked",
        Some(&document),
        &details.to_string(),
        &now,
    )
    .await?;
    transaction.commit().await?;
    Ok(Some(seq))
}

pub(super) async fn documents(
    pool: &Pool,
    scope: &Scope,
    reference: &str,
) -> Result<Option<Vec<Document>>, CatalogError> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM dossiers WHERE tenant_id = $1 AND reference = $2")
            .bind(scope.tenant().as_str())
            .bind(reference)
            .fetch_optional(pool)
            .await?;
    let Some(id) = id else { return Ok(None) };
    let mut sources = load_documents(
        pool,
        "d.id IN (SELECT document_id FROM document_dossiers WHERE dossier_id = $1) \
         AND (d.sensitive = FALSE OR $2 = 1)",
        id,
        i64::from(scope.sees_sensitive()),
    )
    .await?;
    sources.sort_by(|a, b| {
        (&a.document.document_date, a.archived_seq)
            .cmp(&(&b.document.document_date, b.archived_seq))
    });
    Ok(Some(sources.into_iter().map(|s| s.document).collect()))
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

/// Whether party `p` shows in the scope: a document it sees or a dossier concerns it. A party
/// named only on sensitive mail does not exist for those who do not see that mail.
const PARTY_VISIBLE: &str = "(EXISTS (SELECT 1 FROM document_parties dp \
     JOIN documents d ON d.id = dp.document_id WHERE dp.party_id = p.id \
     AND (d.sensitive = FALSE OR $4)) \
     OR EXISTS (SELECT 1 FROM dossier_parties xp WHERE xp.party_id = p.id))";

pub(super) async fn party(
    pool: &Pool,
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
        .fetch_optional(pool)
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
    let references: Vec<ReferenceRow> =
        sqlx::query_as("SELECT party_id, kind, value FROM party_references WHERE party_id = $1")
            .bind(row.id)
            .fetch_all(pool)
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

pub(super) async fn of_party(
    pool: &Pool,
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
    .fetch_all(pool)
    .await?;
    complete(pool, scope, rows).await
}

pub(super) async fn party_documents(
    pool: &Pool,
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
            .fetch_optional(pool)
            .await?;
    if in_tenant.is_none() {
        return Ok((Vec::new(), 0));
    }
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {OF_PARTY}"))
        .bind(party_id)
        .bind(sees)
        .fetch_one(pool)
        .await?;
    let limit = limit.map_or(String::new(), |limit| format!("LIMIT {limit}"));
    let mut sources = load_documents(
        pool,
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
