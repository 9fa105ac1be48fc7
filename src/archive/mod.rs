//! One home for archiving: everything that turns a request into an archived, indexed, audited
//! document, and the reads that must record who read what. Handlers (the API in each
//! resource's `http.rs`, the web UI in `ui`) parse their input, call one function here and
//! answer; nothing here knows HTTP.
//!
//! - [`document`]: one document, content then catalog record, whole or not at all;
//!   [`email`]: an email's defaults, text and attachments archived with it.
//! - [`batch`]: a scanning centre's manifest, archived in chunks, resumable.
//! - [`reads`]: a document's metadata, text and content, each read recorded first.
//! - [`views`]: a dossier's timeline and a party's client view and export, recorded alike.
//! - [`search`]: the agents' search within the caller's scope, recorded with its criteria
//!   hashed.
//!
//! The followers of the catalog (the search index writer, the text extraction worker) are told
//! by the catalog itself when a write commits: nothing here wakes them.

pub mod batch;
pub mod document;
mod email;
pub mod reads;
pub mod search;
pub mod views;

use std::sync::Arc;

use crate::audit::IdentifierHasher;
use crate::catalog::Catalog;
use crate::content::ContentStore;

/// The archive: its catalog, its content store and the key that hashes identifiers in the
/// audit log.
#[derive(Clone)]
pub struct Archive {
    pub catalog: Arc<dyn Catalog>,
    pub content: ContentStore,
    pub identifiers: IdentifierHasher,
    /// An email's attachments past this many stay inside the `.eml`, not split out.
    pub max_email_attachments: usize,
}
