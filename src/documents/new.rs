//! Documents about to be archived, and what archiving them did: the values the archive hands
//! the catalog, kept with the documents they describe rather than with the storage that
//! writes them.

use crate::documents::model::{ContentDescription, Document, DocumentId, DocumentMetadata};
use crate::email::EmailHeaders;
use crate::extraction::InitialText;

/// A document about to be archived; its content is already stored durably.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub id: DocumentId,
    pub metadata: DocumentMetadata,
    pub content: ContentDescription,
    pub text: InitialText,
    /// The headers, when the document is an email.
    pub email: Option<EmailHeaders>,
    /// Documents archived with this one (an email's attachments): same metadata but the
    /// title, no external id, each pointing back at this document.
    pub attachments: Vec<NewAttachment>,
}

impl NewDocument {
    /// A document whose text the extraction queue will read.
    pub fn new(metadata: DocumentMetadata, content: ContentDescription) -> Self {
        Self {
            id: DocumentId::new(),
            metadata,
            content,
            text: InitialText::Queue,
            email: None,
            attachments: Vec::new(),
        }
    }
}

/// An email attachment archived as a document of its own; its content is already stored.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub id: DocumentId,
    pub content: ContentDescription,
    pub text: InitialText,
}

/// What an insert did.
#[derive(Debug, Clone)]
pub enum Inserted {
    Created(Document),
    /// A document with the same source and external id was already archived; nothing was written.
    Existing(Document),
}

/// What a write archived: new documents and their bytes (re-sent ones not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Archived {
    pub documents: u64,
    pub bytes: u64,
}
