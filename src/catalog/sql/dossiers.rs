//! Dossiers in the catalog: categories, creation, status changes, document links and the lists
//! of a dossier's documents.

use async_trait::async_trait;

use super::audit::append_audit;
use super::document_reads::load_documents;
use super::dossier_rows::{DOSSIER_COLUMNS, DossierRow, complete, parse_status};
use super::parties::{resolve_company, resolve_individual};
use super::{
    Backend, Connection, PartyLink, Pool, begin_write, json_rows, json_values, record_change,
};
use crate::access::Scope;
use crate::catalog::{CatalogError, DossierStore};
use crate::dates::{format_timestamp, now_timestamp};
use crate::documents::model::{Document, DocumentId};
use crate::dossiers::{
    Dossier, DossierFilter, DossierKind, DossierLink, DossierPage, DossierStatus, Linked,
    NewDossier, cancelled_message, unknown_message,
};

#[async_trait]
impl DossierStore for Backend {
    async fn dossier_categories(&self, scope: &Scope) -> Result<Vec<String>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM dossier_categories WHERE tenant_id = $1 ORDER BY position",
        )
        .bind(scope.tenant().as_str())
        .fetch_all(&self.readers)
        .await?)
    }

    async fn set_dossier_categories(
        &self,
        scope: &Scope,
        categories: &[String],
    ) -> Result<(), CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
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

    async fn create_dossier(
        &self,
        scope: &Scope,
        new: &NewDossier,
    ) -> Result<Dossier, CatalogError> {
        let tenant = scope.tenant().as_str();
        let now = now_timestamp();
        let mut transaction = begin_write(&self.writer).await?;
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
        by_reference(&self.writer, scope, &new.reference)
            .await?
            .ok_or_else(|| CatalogError::Corrupt(format!("dossier {} vanished", new.reference)))
    }

    async fn dossier(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Dossier>, CatalogError> {
        by_reference(&self.readers, scope, reference).await
    }

    async fn dossier_statuses(
        &self,
        scope: &Scope,
        references: &[String],
    ) -> Result<Vec<(String, DossierStatus)>, CatalogError> {
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT reference, status FROM dossiers WHERE tenant_id = $1 AND reference IN ({})",
            json_values(2, "TEXT")
        ))
        .bind(scope.tenant().as_str())
        .bind(serde_json::to_string(references).expect("strings serialise"))
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter()
            .map(|(reference, status)| Ok((reference, parse_status(&status)?)))
            .collect()
    }

    async fn dossiers(
        &self,
        scope: &Scope,
        filter: &DossierFilter,
    ) -> Result<DossierPage, CatalogError> {
        let as_json =
            |values: Vec<&str>| serde_json::to_string(&values).expect("strings serialise");
        let statuses = as_json(filter.statuses.iter().map(|s| s.as_str()).collect());
        let kinds = as_json(filter.kinds.iter().map(|k| k.as_str()).collect());
        // Categories are matched as at creation: without regard to case, spelled as listed.
        let listed = self.dossier_categories(scope).await?;
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
        .fetch_all(&self.readers)
        .await?;
        let limit = filter.limit as usize;
        let next = (rows.len() > limit).then(|| {
            let last = &rows[limit - 1];
            (last.opened_at.clone(), last.id)
        });
        let rows = rows.into_iter().take(limit).collect();
        Ok(DossierPage {
            dossiers: complete(&self.readers, scope, rows).await?,
            next,
        })
    }

    async fn change_dossier_status(
        &self,
        scope: &Scope,
        reference: &str,
        status: DossierStatus,
        reason: Option<&str>,
    ) -> Result<Option<(Dossier, i64)>, CatalogError> {
        let tenant = scope.tenant().as_str();
        let now = now_timestamp();
        let mut transaction = begin_write(&self.writer).await?;
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
        // Its documents are re-indexed with the dossier's new status.
        self.followers.changes_committed();
        let dossier = by_reference(&self.writer, scope, reference)
            .await?
            .ok_or_else(|| CatalogError::Corrupt(format!("dossier {reference} vanished")))?;
        Ok(Some((dossier, seq)))
    }

    async fn link_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<Linked>, CatalogError> {
        let now = now_timestamp();
        let mut transaction = begin_write(&self.writer).await?;
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
        let seq = self
            .commit_link_change(transaction, scope, reference, &document, "linked", &now)
            .await?;
        Ok(Some(Linked::Created { seq }))
    }

    async fn unlink_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<i64>, CatalogError> {
        let now = now_timestamp();
        let mut transaction = begin_write(&self.writer).await?;
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
        let seq = self
            .commit_link_change(transaction, scope, reference, &document, "unlinked", &now)
            .await?;
        Ok(Some(seq))
    }

    async fn dossier_documents(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Vec<Document>>, CatalogError> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM dossiers WHERE tenant_id = $1 AND reference = $2")
                .bind(scope.tenant().as_str())
                .bind(reference)
                .fetch_optional(&self.readers)
                .await?;
        let Some(id) = id else { return Ok(None) };
        let mut sources = load_documents(
            &self.readers,
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

/// The dossier of the scope's tenant under `reference`, read on `pool`: the writes read back
/// what they committed on the writer's.
async fn by_reference(
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

impl Backend {
    /// Ends a link or unlink (`change` is `linked` or `unlinked`): the document takes a change
    /// number (the index re-reads its dossiers), the audit entry is appended, the transaction
    /// commits and the followers are told. Returns the change number.
    async fn commit_link_change(
        &self,
        mut transaction: sqlx::Transaction<'static, super::Db>,
        scope: &Scope,
        reference: &str,
        document: &str,
        change: &str,
        now: &str,
    ) -> Result<i64, CatalogError> {
        let seq = record_change(
            &mut transaction,
            document,
            &format!("dossier_{change}"),
            now,
        )
        .await?;
        let details = serde_json::json!({ "reference": reference, "seq": seq });
        append_audit(
            &mut transaction,
            scope,
            &format!("dossier.{change}"),
            Some(document),
            &details.to_string(),
            now,
        )
        .await?;
        transaction.commit().await?;
        self.followers.changes_committed();
        Ok(seq)
    }
}
