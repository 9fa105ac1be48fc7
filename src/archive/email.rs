//! Emails archived with their parts: the message's headers give the document defaults it
//! lacks, its text body is its text, and each attachment becomes a document of its own, stored
//! before the email's catalog record so that record only ever points at stored content.

use time::{Duration, OffsetDateTime};

use super::Archive;
use super::document::ArchiveError;
use crate::content::{ContentError, StagedContent};
use crate::dates::{format_date, parse_date};
use crate::documents::model::{ContentDescription, DocumentId};
use crate::documents::new::NewAttachment;
use crate::email::{self, EmailAttachment, ParsedEmail};
use crate::extraction::{InitialText, TextMethod, bounded};

/// An email as read at archiving time: what its parts say, and the text it gives its document.
pub(super) struct ReadEmail {
    pub parsed: ParsedEmail,
    pub text: InitialText,
}

/// Reads an email's headers, text body and attachments from its staged bytes. A message past
/// the split limit is kept whole with its headers read; its body and attachments stay inside
/// the .eml (parsing holds the message and its decoded parts in memory at once).
/// At most `max_attachments` attachments are split out; the rest stay inside the `.eml`.
pub(super) async fn read_email(
    staged: &StagedContent,
    max_attachments: usize,
) -> Result<ReadEmail, ArchiveError> {
    let whole = staged.size <= MAX_SPLIT_EMAIL_BYTES;
    let limit = if whole { staged.size } else { HEADERS_BYTES };
    let raw = staged
        .read_prefix(limit)
        .await
        .map_err(ContentError::from)?;
    let mut parsed = tokio::task::spawn_blocking(move || {
        if whole {
            email::parse(&raw, max_attachments)
        } else {
            email::parse_headers(&raw)
        }
    })
    .await
    .map_err(|e| ContentError::from(std::io::Error::other(e)))?;
    let text = match parsed.unreadable.take() {
        Some(reason) => InitialText::Failed(reason),
        None if parsed.not_split.is_some() => {
            InitialText::Skipped(parsed.not_split.take().unwrap_or_default())
        }
        None if !whole => InitialText::Skipped(format!(
            "the email is larger than {} MiB: kept whole, its body and attachments not read",
            MAX_SPLIT_EMAIL_BYTES >> 20
        )),
        None => InitialText::Known {
            method: TextMethod::Email,
            text: bounded(parsed.body.take().unwrap_or_default()),
            note: (parsed.attachments_left_out > 0).then(|| {
                format!(
                    "{} attachments past the first {max_attachments} are kept only inside the \
                     email (setting untrusted_files.max_email_attachments)",
                    parsed.attachments_left_out
                )
            }),
        },
    };
    Ok(ReadEmail { parsed, text })
}

impl Archive {
    /// Stores an attachment's bytes; an attachment of a type the archive does not serve as
    /// such is kept all the same, as `application/octet-stream` (downloaded, never rendered).
    pub(super) async fn store_attachment(
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

pub(super) const EMAIL: &str = "message/rfc822";
/// Larger emails are archived whole without their attachments split out.
const MAX_SPLIT_EMAIL_BYTES: u64 = 64 * 1024 * 1024;
/// Where the headers of an email too large to split are looked for.
const HEADERS_BYTES: u64 = 1024 * 1024;
/// The schema's longest title.
const MAX_TITLE_CHARS: usize = 500;
const OPAQUE: &str = "application/octet-stream";

/// The metadata with what the email says filled in where the sender said nothing.
pub(super) fn with_email_defaults(
    metadata: &serde_json::Value,
    email: &ParsedEmail,
) -> serde_json::Value {
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
