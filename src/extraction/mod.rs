//! Document text: what the archive reads of each document's words, so that `q` finds them.
//!
//! Plain text and email bodies are read at archiving time. PDFs (their text layer) and scans
//! (OCR with Tesseract) are read by a background job queue kept in the catalog
//! ([`worker`]): archiving never waits for extraction, a document is searchable by its
//! metadata at once and by its words once its job is done, and a restart loses no job.
//! Files from outside are read in a child process with limits ([`isolation`]), never in the
//! server.

pub mod images;
pub mod isolation;
pub mod ocr;
pub mod pdf;
pub mod reading;
pub mod worker;

use serde::{Deserialize, Serialize};

/// Where a document's text extraction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TextStatus {
    /// Queued; `reason` says what it waits for when it cannot run on this archive yet.
    Pending,
    Done,
    /// `reason` says why.
    Failed,
    /// The content has no words the archive can read (an attachment of another type).
    Skipped,
}

/// How the text was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TextMethod {
    /// The content is plain text.
    Text,
    /// The PDF's text layer.
    Pdf,
    /// Optical character recognition (Tesseract, French).
    Ocr,
    /// The email's text body (HTML bodies turned into text).
    Email,
}

impl TextStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

impl TextMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Pdf => "pdf",
            Self::Ocr => "ocr",
            Self::Email => "email",
        }
    }
}

/// A document's text extraction as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TextState {
    pub status: TextStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<TextMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// The text a new document starts with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InitialText {
    /// Queue an extraction job for the content's type.
    #[default]
    Queue,
    /// Already read (an email body): stored with the document, with a note when part of
    /// the content was left out (attachments past the limit).
    Known {
        method: TextMethod,
        text: String,
        note: Option<String>,
    },
    Failed(String),
    Skipped(String),
}

/// Text kept per document, about 600 pages of letters: the words past it are not searchable
/// (the content itself is kept whole).
pub const MAX_TEXT_BYTES: usize = 2 * 1024 * 1024;

/// The text cut to [`MAX_TEXT_BYTES`], on a character boundary, without NUL characters (a
/// PostgreSQL text column refuses them; they carry no words).
pub fn bounded(mut text: String) -> String {
    if text.contains('\0') {
        text = text.replace('\0', "");
    }
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Media types whose words only OCR can read.
pub fn needs_ocr(media_type: &str) -> bool {
    matches!(media_type, "image/tiff" | "image/jpeg" | "image/png")
}

/// Whether the queue knows how to read this type at all.
pub fn extractable(media_type: &str) -> bool {
    needs_ocr(media_type)
        || matches!(
            media_type,
            "application/pdf" | "text/plain" | "message/rfc822"
        )
}

/// An extraction job as a worker takes it.
#[derive(Debug, Clone)]
pub struct ExtractionJob {
    pub document_id: String,
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    pub attempts: u32,
}

/// What a worker made of a job (also the extraction process's answer, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractionOutcome {
    Done {
        method: TextMethod,
        pages: u32,
        text: String,
    },
    /// The content cannot be read (a damaged PDF): final.
    Failed(String),
    /// A PDF without a text layer: back in the queue for a server with OCR.
    NeedsOcr,
    /// Something around the job failed (the store unreachable): tried again later.
    Retry(String),
}

impl ExtractionOutcome {
    /// The outcome with its text [`bounded`]: whoever read the file, the catalog stores no
    /// more than that.
    pub fn bounded(self) -> Self {
        match self {
            Self::Done {
                method,
                pages,
                text,
            } => Self::Done {
                method,
                pages,
                text: bounded(text),
            },
            other => other,
        }
    }
}

/// How many jobs wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueLength {
    pub pending: u64,
    /// Of which need OCR.
    pub pending_ocr: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_BYTES);
        let bounded = bounded(long);
        assert!(bounded.len() <= MAX_TEXT_BYTES && bounded.len() >= MAX_TEXT_BYTES - 1);
        assert!(bounded.chars().all(|c| c == 'é'));
        assert_eq!(super::bounded("court".into()), "court");
    }
}
