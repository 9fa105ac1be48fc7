//! What a document is: its validated metadata on the way in, and its catalog record on the way out.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::dossiers::{DossierLink, DossierOnDocument};
use crate::email::{AttachmentOnDocument, EmailHeaders};
use crate::extraction::TextState;
use crate::identifiers::Sha256Hex;
use crate::parties::{CompanyOnDocument, CompanyReference, IndividualReference};

/// A document's identifier: a UUID v7, so identifiers sort by archive time.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct DocumentId(Uuid);

impl DocumentId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// `None` for anything that is not a UUID: such a document cannot exist.
    pub fn parse(input: &str) -> Option<Self> {
        Uuid::parse_str(input).ok().map(Self)
    }
}

impl Default for DocumentId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether the document came to the organisation or went out from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// How the document travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Postal,
    Email,
    Fax,
    Web,
    Counter,
}

impl Direction {
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "inbound" => Some(Self::Inbound),
            "outbound" => Some(Self::Outbound),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

impl Channel {
    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "postal" => Self::Postal,
            "email" => Self::Email,
            "fax" => Self::Fax,
            "web" => Self::Web,
            "counter" => Self::Counter,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postal => "postal",
            Self::Email => "email",
            Self::Fax => "fax",
            Self::Web => "web",
            Self::Counter => "counter",
        }
    }
}

/// Document metadata once every field has been validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentMetadata {
    pub direction: Direction,
    pub channel: Channel,
    pub source: String,
    pub document_type: String,
    pub document_date: Date,
    pub received_at: Option<OffsetDateTime>,
    pub sent_at: Option<OffsetDateTime>,
    pub title: Option<String>,
    pub agent: Option<String>,
    pub recipient: Option<String>,
    pub sensitive: bool,
    pub external_id: Option<String>,
    pub individuals: Vec<IndividualReference>,
    pub companies: Vec<CompanyReference>,
    /// The dossiers to link the document to.
    pub dossiers: Vec<DossierLink>,
}

/// The stored content a new document points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDescription {
    pub sha256: Sha256Hex,
    pub size: u64,
    pub media_type: String,
    pub file_name: Option<String>,
}

/// A document as the catalog holds it, and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Document {
    pub id: DocumentId,
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub direction: Direction,
    pub channel: Channel,
    pub source: String,
    pub document_type: String,
    pub document_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    pub sensitive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub archived_at: String,
    /// The catalog change sequence of the latest change to this document.
    pub seq: i64,
    /// The batch the document arrived in, for documents of scanning centres' batches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_ref: Option<String>,
    pub individuals: Vec<crate::parties::IndividualOnDocument>,
    pub companies: Vec<CompanyOnDocument>,
    /// The dossiers the document is in, in the order it was linked to them.
    pub dossiers: Vec<DossierOnDocument>,
    /// Where the archive stands in reading the document's words; absent for documents
    /// archived without extraction (synthetic benchmark data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TextState>,
    /// The headers of an email (channel email, content `message/rfc822`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailHeaders>,
    /// The documents archived from this email's attachments, in message order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentOnDocument>,
    /// The email this document came attached to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<DocumentId>,
}

/// Keeps the last path component of a sender-supplied file name (an upload's, an email
/// attachment's), without control characters; `None` when nothing usable is left.
pub fn clean_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty() && cleaned != "." && cleaned != "..").then(|| cleaned.to_string())
}
