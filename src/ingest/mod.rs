//! Archiving a document whole: content, then catalog record (with parties, change sequence and
//! audit entry), or nothing the caller can see.
//!
//! Order matters: the content is made durable first, then the catalog transaction commits. A
//! crash between the two leaves an unreferenced object (harmless, reused by the next upload of
//! the same bytes), never a catalog row pointing at missing content.

use time::{Duration, OffsetDateTime};

use crate::access::{AccessError, Scope};
use crate::archive::Archive;
use crate::catalog::{CatalogError, Inserted, NewAttachment, NewDocument};
use crate::content::{ContentError, PutOutcome, StagedContent};
use crate::dates::{format_date, parse_date};
use crate::documents::media_type::MediaTypeError;
use crate::documents::metadata::parse_metadata;
use crate::documents::model::{ContentDescription, Direction, Document, DocumentId};
use crate::email::{self, EmailAttachment, ParsedEmail};
use crate::extraction::{InitialText, TextMethod, bounded};
use crate::metrics::METRICS;
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

        // A message past the split limit is kept whole with its headers read; its body and
        // attachments stay inside the .eml (parsing holds the message and its decoded parts in
        // memory at once).
        let email = if media_type == EMAIL {
            let whole = staged.size <= MAX_SPLIT_EMAIL_BYTES;
            let limit = if whole { staged.size } else { HEADERS_BYTES };
            let raw = staged
                .read_prefix(limit)
                .await
                .map_err(ContentError::from)?;
            let max_attachments = self.max_email_attachments;
            let parsed = tokio::task::spawn_blocking(move || {
                if whole {
                    email::parse(&raw, max_attachments)
                } else {
                    email::parse_headers(&raw)
                }
            })
            .await
            .map_err(|e| ContentError::from(std::io::Error::other(e)))?;
            Some((parsed, whole))
        } else {
            None
        };
        let metadata = match &email {
            Some((parsed, _)) => parse_metadata(&with_email_defaults(metadata, parsed)),
            None => parse_metadata(metadata),
        }
        .map_err(ArchiveError::Invalid)?;
        scope.check_archive(&metadata)?;

        if let Some(external_id) = &metadata.external_id
            && let Some(existing) = self
                .catalog
                .document_by_external_id(scope, &metadata.source, external_id)
                .await?
        {
            return self
                .resent(scope, existing, metadata.direction, staged.sha256.as_str())
                .await;
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
        if let Some((parsed, whole)) = email {
            new.text = match parsed.unreadable {
                Some(reason) => InitialText::Failed(reason),
                None if parsed.not_split.is_some() => {
                    InitialText::Skipped(parsed.not_split.unwrap_or_default())
                }
                None if !whole => InitialText::Skipped(format!(
                    "the email is larger than {} MiB: kept whole, its body and attachments not read",
                    MAX_SPLIT_EMAIL_BYTES >> 20
                )),
                None => InitialText::Known {
                    method: TextMethod::Email,
                    text: bounded(parsed.body.unwrap_or_default()),
                    note: (parsed.attachments_left_out > 0).then(|| {
                        format!(
                            "{} attachments past the first {} are kept only inside the email \
                             (setting untrusted_files.max_email_attachments)",
                            parsed.attachments_left_out, self.max_email_attachments
                        )
                    }),
                },
            };
            new.email = Some(parsed.headers);
            // Attachments first: the email's catalog record only ever points at stored content.
            for attachment in parsed.attachments {
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
                Ok(ArchiveOutcome::Created(document))
            }
            // Another request with the same external id committed between our check and insert.
            Inserted::Existing(existing) => {
                self.resent(scope, existing, direction, sha256.as_str())
                    .await
            }
        }
    }

    /// Stores an attachment's bytes; an attachment of a type the archive does not serve as
    /// such is kept all the same, as `application/octet-stream` (downloaded, never rendered).
    async fn store_attachment(
        &self,
        attachment: EmailAttachment,
    ) -> Result<NewAttachment, ArchiveError> {
        let staged = StagedContent::from_bytes(attachment.bytes);
        let media_type = staged
            .sniffed
            .detect(
                attachment.file_name.as_deref(),
                attachment.declared_media_type.as_deref(),
            )
            .unwrap_or(OPAQUE);
        let content = ContentDescription {
            sha256: staged.sha256.clone(),
            size: staged.size,
            media_type: media_type.to_string(),
            file_name: attachment.file_name,
        };
        self.content.put(staged).await?;
        Ok(NewAttachment {
            id: DocumentId::new(),
            content,
            text: InitialText::Queue,
        })
    }
}

const EMAIL: &str = "message/rfc822";
/// Larger emails are archived whole without their attachments split out.
const MAX_SPLIT_EMAIL_BYTES: u64 = 64 * 1024 * 1024;
/// Where the headers of an email too large to split are looked for.
const HEADERS_BYTES: u64 = 1024 * 1024;
/// The schema's longest title.
const MAX_TITLE_CHARS: usize = 500;
const OPAQUE: &str = "application/octet-stream";

/// The metadata with what the email says filled in where the sender said nothing.
fn with_email_defaults(metadata: &serde_json::Value, email: &ParsedEmail) -> serde_json::Value {
    let mut metadata = metadata.clone();
    if let Some(fields) = metadata.as_object_mut() {
        let mut default = |field: &str, value: Option<String>| {
            if let Some(value) = value
                && !fields.contains_key(field)
            {
                fields.insert(field.to_string(), value.into());
            }
        };
        default("channel", Some("email".into()));
        // A subject longer than a title may be is cut, not a reason to refuse the message.
        default(
            "title",
            email
                .headers
                .subject
                .as_ref()
                .map(|subject| subject.chars().take(MAX_TITLE_CHARS).collect()),
        );
        // Without a plausible Date header (none, or a sender's clock years off), the day the
        // archive received the message.
        let today = OffsetDateTime::now_utc().date();
        let written = email
            .written_date
            .as_deref()
            .and_then(|day| parse_date(day).ok())
            .filter(|day| day.year() >= 1900 && *day <= today + Duration::days(31));
        default("document_date", Some(format_date(written.unwrap_or(today))));
        if written.is_some() {
            default("sent_at", email.headers.date.clone());
        }
    }
    metadata
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
