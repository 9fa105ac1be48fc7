//! Archiving a document whole: content, then catalog record (with parties, change sequence and
//! audit entry), or nothing the caller can see.
//!
//! Order matters: the content is made durable first, then the catalog transaction commits. A
//! crash between the two leaves an unreferenced object (harmless, reused by the next upload of
//! the same bytes), never a catalog row pointing at missing content.

use super::Archive;
use super::email::{EMAIL, read_email, with_email_defaults};
use crate::access::{AccessError, Scope};
use crate::catalog::CatalogError;
use crate::content::{ContentError, PutOutcome, StagedContent};
use crate::documents::media_type::MediaTypeError;
use crate::documents::metadata::parse_metadata;
use crate::documents::model::{ContentDescription, Direction, Document, DocumentId};
use crate::documents::new::{Inserted, NewDocument};
use crate::metrics::METRICS;
use crate::parties::{companies_as_sent, individuals_as_sent};
use crate::validation::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The metadata or the file was refused (HTTP 422).
    #[error("invalid document")]
    Invalid(ValidationErrors),
    /// The file is of a type the archive does not keep (HTTP 415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The caller may not archive this document (HTTP 403).
    #[error(transparent)]
    Forbidden(#[from] AccessError),
    /// The source already archived another content under this external id (HTTP 409).
    #[error("external_id already names document {existing} with different content")]
    ExternalIdConflict { existing: DocumentId },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Content(#[from] ContentError),
}

/// What archiving did.
#[derive(Debug)]
pub enum ArchiveOutcome {
    Created(Document),
    /// The same source sent the same external id and content again: the document archived
    /// the first time.
    AlreadyArchived(Document),
}

impl ArchiveOutcome {
    fn map(self, change: impl FnOnce(Document) -> Document) -> Self {
        match self {
            Self::Created(document) => Self::Created(change(document)),
            Self::AlreadyArchived(document) => Self::AlreadyArchived(change(document)),
        }
    }
}

/// The file as it arrived, with what its sender said about it.
pub struct IncomingFile {
    pub staged: StagedContent,
    pub file_name: Option<String>,
    pub declared_media_type: Option<String>,
}

impl Archive {
    /// Archives a document from its metadata (JSON, validated here) and its staged file. An
    /// email (`message/rfc822`) gives its own defaults — channel `email`, the subject as
    /// title, the Date header as document date and `sent_at` — and its attachments are
    /// archived with it, each as a document of its own, in the same catalog transaction.
    pub async fn archive(
        &self,
        scope: &Scope,
        metadata: &serde_json::Value,
        file: IncomingFile,
    ) -> Result<ArchiveOutcome, ArchiveError> {
        let staged = file.staged;
        if staged.size == 0 {
            return Err(ArchiveError::Invalid(ValidationErrors::single(
                "file", "is empty",
            )));
        }
        let media_type = staged
            .sniffed
            .detect(
                file.file_name.as_deref(),
                file.declared_media_type.as_deref(),
            )
            .map_err(|error| match error {
                MediaTypeError::Unsupported(_) => {
                    ArchiveError::UnsupportedMediaType(error.to_string())
                }
                MediaTypeError::Mismatch { .. } => {
                    ArchiveError::Invalid(ValidationErrors::single("file", error.to_string()))
                }
            })?;

        let email = if media_type == EMAIL {
            Some(read_email(&staged, self.max_email_attachments).await?)
        } else {
            None
        };
        let metadata = match &email {
            Some(email) => parse_metadata(&with_email_defaults(metadata, &email.parsed)),
            None => parse_metadata(metadata),
        }
        .map_err(ArchiveError::Invalid)?;
        scope.check_archive(&metadata)?;
        // The answer shows the parties as sent, never the shared records (src/parties/as_sent.rs).
        let (sent_individuals, sent_companies) =
            (metadata.individuals.clone(), metadata.companies.clone());
        let as_sent = |mut document: Document| {
            document.individuals = individuals_as_sent(document.individuals, &sent_individuals);
            document.companies = companies_as_sent(document.companies, &sent_companies);
            document
        };

        if let Some(external_id) = &metadata.external_id
            && let Some(existing) = self
                .catalog
                .document_by_external_id(scope, &metadata.source, external_id)
                .await?
        {
            return self
                .resent(scope, existing, metadata.direction, staged.sha256.as_str())
                .await
                .map(|outcome| outcome.map(as_sent));
        }

        let content = ContentDescription {
            sha256: staged.sha256.clone(),
            size: staged.size,
            media_type: media_type.to_string(),
            file_name: file.file_name,
        };
        let sha256 = staged.sha256.clone();
        let direction = metadata.direction;
        let mut new = NewDocument::new(metadata, content);
        if let Some(email) = email {
            new.text = email.text;
            new.email = Some(email.parsed.headers);
            // Attachments first: the email's catalog record only ever points at stored content.
            for attachment in email.parsed.attachments {
                new.attachments
                    .push(self.store_attachment(attachment).await?);
            }
        }
        let stored = self.content.put(staged).await?;
        match self.catalog.insert_document(scope, new).await? {
            Inserted::Created(document) => {
                METRICS.archived(
                    1 + document.attachments.len() as u64,
                    document.size + document.attachments.iter().map(|a| a.size).sum::<u64>(),
                );
                tracing::info!(
                    document_id = %document.id,
                    sha256 = %document.sha256,
                    size = document.size,
                    media_type = %document.media_type,
                    attachments = document.attachments.len(),
                    deduplicated = stored == PutOutcome::AlreadyPresent,
                    seq = document.seq,
                    "document archived"
                );
                Ok(ArchiveOutcome::Created(as_sent(document)))
            }
            // Another request with the same external id committed between our check and insert.
            Inserted::Existing(existing) => self
                .resent(scope, existing, direction, sha256.as_str())
                .await
                .map(|outcome| outcome.map(as_sent)),
        }
    }
}

impl Archive {
    /// A re-send of what this source archived before: the same content in the same direction
    /// answers with the archived document (a read, so it is audited); anything else is a
    /// conflict. The caller is bound to the document's source (see `Scope::check_archive`).
    async fn resent(
        &self,
        scope: &Scope,
        existing: Document,
        direction: Direction,
        sha256: &str,
    ) -> Result<ArchiveOutcome, ArchiveError> {
        if existing.sha256 != sha256 || existing.direction != direction {
            return Err(ArchiveError::ExternalIdConflict {
                existing: existing.id,
            });
        }
        self.catalog
            .record_access(
                scope,
                "document.resent",
                Some(&existing.id),
                &serde_json::json!({}),
            )
            .await?;
        Ok(ArchiveOutcome::AlreadyArchived(existing))
    }
}
