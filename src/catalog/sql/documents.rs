//! Documents in the catalog: archiving one with its attachments (its parties and dossiers
//! resolved, its rows gathered and written together), and reading documents and their text.

use async_trait::async_trait;

use super::document_reads::{Visibility, load_document};
use super::document_rows::{DocumentRows, NewRows, NewText};
use super::dossiers::resolve_for_document;
use super::parties::{KnownReferences, resolve_company, resolve_individual};
use super::{Backend, Connection, begin_write, json_values};
use crate::access::Scope;
use crate::batches::BatchOfDocument;
use crate::catalog::{CatalogError, DocumentStore};
use crate::dates::{format_date, format_timestamp, now_timestamp};
use crate::documents::model::{Document, DocumentId};
use crate::documents::new::{Inserted, NewDocument};

#[async_trait]
impl DocumentStore for Backend {
    async fn insert_document(
        &self,
        scope: &Scope,
        new: NewDocument,
    ) -> Result<Inserted, CatalogError> {
        let tenant = scope.tenant().as_str();
        let mut transaction = begin_write(&self.writer).await?;
        let mut rows = DocumentRows::default();
        let inserted =
            insert_document_rows(&mut transaction, None, &mut rows, scope, &new, None).await?;
        let id = match inserted {
            RowsInserted::Created => {
                rows.write(&mut transaction, scope).await?;
                transaction.commit().await?;
                self.followers.changes_committed();
                self.followers.jobs_queued();
                new.id.to_string()
            }
            RowsInserted::Existing(existing) => {
                transaction.rollback().await?;
                let document = load_document(
                    &self.writer,
                    tenant,
                    &existing.id,
                    Visibility::IncludingSensitive,
                )
                .await?
                .ok_or_else(|| {
                    CatalogError::Corrupt(format!("document {} vanished", existing.id))
                })?;
                return Ok(Inserted::Existing(document));
            }
        };
        let document = load_document(&self.writer, tenant, &id, Visibility::IncludingSensitive)
            .await?
            .ok_or_else(|| CatalogError::Corrupt(format!("document {id} vanished after commit")))?;
        Ok(Inserted::Created(document))
    }

    async fn document(
        &self,
        scope: &Scope,
        id: DocumentId,
    ) -> Result<Option<Document>, CatalogError> {
        load_document(
            &self.readers,
            scope.tenant().as_str(),
            &id.to_string(),
            Visibility::Of(scope.sees_sensitive()),
        )
        .await
    }

    async fn document_by_external_id(
        &self,
        scope: &Scope,
        source: &str,
        external_id: &str,
    ) -> Result<Option<Document>, CatalogError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM documents WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
        )
        .bind(scope.tenant().as_str())
        .bind(source)
        .bind(external_id)
        .fetch_optional(&self.readers)
        .await?;
        match id {
            Some(id) => {
                load_document(
                    &self.readers,
                    scope.tenant().as_str(),
                    &id,
                    Visibility::IncludingSensitive,
                )
                .await
            }
            None => Ok(None),
        }
    }

    async fn document_texts(
        &self,
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
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter()
            .map(|(id, text)| {
                DocumentId::parse(&id)
                    .map(|id| (id, text))
                    .ok_or_else(|| CatalogError::Corrupt(format!("document id {id}")))
            })
            .collect()
    }
}

/// What [`insert_document_rows`] did.
pub(super) enum RowsInserted {
    Created,
    /// The source already archived a document under this external id; nothing was written.
    Existing(ExistingDocument),
}

#[derive(Clone, sqlx::FromRow)]
pub(super) struct ExistingDocument {
    pub(super) id: String,
    pub(super) sha256: String,
    pub(super) direction: String,
}

/// Gathers a document's rows (content reference, change, document, links, audit entry) into
/// `rows`, written by [`DocumentRows::write`] in the caller's write transaction, unless its
/// external id is taken. Its parties and dossiers are resolved (and written) now.
pub(super) async fn insert_document_rows(
    connection: &mut Connection,
    known: Option<&mut KnownReferences>,
    rows: &mut DocumentRows,
    scope: &Scope,
    new: &NewDocument,
    batch: Option<BatchOfDocument<'_>>,
) -> Result<RowsInserted, CatalogError> {
    insert_document_tree(connection, known, rows, scope, new, batch, None).await
}

/// [`insert_document_rows`] for a document and, after it, its attachments, which point back at
/// it (`attached`: the email's id and the attachment's position in it).
async fn insert_document_tree(
    connection: &mut Connection,
    mut known: Option<&mut KnownReferences>,
    rows: &mut DocumentRows,
    scope: &Scope,
    new: &NewDocument,
    batch: Option<BatchOfDocument<'_>>,
    attached: Option<(&str, i64)>,
) -> Result<RowsInserted, CatalogError> {
    let tenant = scope.tenant().as_str();
    let metadata = &new.metadata;
    if let Some(external_id) = &metadata.external_id {
        let existing = match rows.existing(&metadata.source, external_id) {
            Some(existing) => Some(existing),
            None if rows.looked_up(&metadata.source, external_id) => None,
            None => {
                sqlx::query_as(
                    "SELECT id, sha256, direction FROM documents \
                     WHERE tenant_id = $1 AND source = $2 AND external_id = $3",
                )
                .bind(tenant)
                .bind(&metadata.source)
                .bind(external_id)
                .fetch_optional(&mut *connection)
                .await?
            }
        };
        if let Some(existing) = existing {
            return Ok(RowsInserted::Existing(existing));
        }
    }

    let now = now_timestamp();
    let id = new.id.to_string();

    let mut links = Vec::new();
    for (index, individual) in metadata.individuals.iter().enumerate() {
        let party = resolve_individual(connection, known.as_deref_mut(), tenant, individual, &now)
            .await
            .map_err(|e| e.at_field(&format!("individuals[{index}]")))?;
        links.push((party, individual.role.clone(), None));
    }
    for (index, company) in metadata.companies.iter().enumerate() {
        let party = resolve_company(connection, known.as_deref_mut(), tenant, company, &now)
            .await
            .map_err(|e| e.at_field(&format!("companies[{index}]")))?;
        links.push((
            party,
            company.role.clone(),
            company.siret.as_ref().map(|s| s.as_str().to_string()),
        ));
    }

    let mut dossier_ids = Vec::with_capacity(metadata.dossiers.len());
    for (index, link) in metadata.dossiers.iter().enumerate() {
        let dossier = resolve_for_document(
            connection,
            scope,
            link,
            &links,
            metadata.agent.as_deref(),
            metadata.sensitive,
            &now,
        )
        .await
        .map_err(|e| e.at_field(&format!("dossiers[{index}]")))?;
        dossier_ids.push(dossier);
    }

    let row = serde_json::json!({
        "id": id,
        "tenant": tenant,
        "sha256": new.content.sha256.as_str(),
        "size": new.content.size,
        "media_type": new.content.media_type,
        "file_name": new.content.file_name,
        "direction": metadata.direction.as_str(),
        "channel": metadata.channel.as_str(),
        "source": metadata.source,
        "document_type": metadata.document_type,
        "document_date": format_date(metadata.document_date),
        "received_at": metadata.received_at.map(format_timestamp),
        "sent_at": metadata.sent_at.map(format_timestamp),
        "title": metadata.title,
        "agent": metadata.agent,
        "recipient": metadata.recipient,
        "sensitive": metadata.sensitive,
        "external_id": metadata.external_id,
        "at": now,
        "batch_id": batch.map(|b| b.id),
        "batch_ref": batch.map(|b| b.batch_ref),
        "attached_to": attached.map(|(email, _)| email),
        "attachment_position": attached.map(|(_, position)| position),
        "links": links
            .iter()
            .map(|(party_id, role, siret)| serde_json::json!([party_id, role, siret]))
            .collect::<Vec<_>>(),
        "dossiers": dossier_ids,
    });
    // The change's number joins the details when the rows are written.
    let mut details = serde_json::Map::new();
    details.insert("sha256".into(), new.content.sha256.as_str().into());
    details.insert("size".into(), new.content.size.into());
    details.insert("source".into(), metadata.source.clone().into());
    details.insert(
        "document_type".into(),
        metadata.document_type.clone().into(),
    );
    if let Some(batch) = batch {
        details.insert("batch_id".into(), batch.id.into());
    }
    if !metadata.dossiers.is_empty() {
        details.insert(
            "dossiers".into(),
            metadata
                .dossiers
                .iter()
                .map(|link| link.reference.as_str())
                .collect(),
        );
    }
    if let Some((email, _)) = attached {
        details.insert("attached_to".into(), email.into());
    }
    rows.push(NewRows {
        row,
        details,
        text: NewText::of(&new.content, &new.text),
        email: new.email.as_ref(),
    });
    for (position, attachment) in new.attachments.iter().enumerate() {
        let mut metadata = metadata.clone();
        metadata.title = attachment.content.file_name.clone().or(metadata.title);
        metadata.external_id = None;
        let child = NewDocument {
            id: attachment.id,
            metadata,
            content: attachment.content.clone(),
            text: attachment.text.clone(),
            email: None,
            attachments: Vec::new(),
        };
        Box::pin(insert_document_tree(
            connection,
            known.as_deref_mut(),
            rows,
            scope,
            &child,
            batch,
            Some((&id, position as i64)),
        ))
        .await?;
    }
    Ok(RowsInserted::Created)
}
