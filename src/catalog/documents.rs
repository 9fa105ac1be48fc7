//! The documents the catalog holds: archiving one (with its parties, dossier links, text
//! state, change and audit entry in one transaction) and reading them back within a scope.

use async_trait::async_trait;

use super::CatalogError;
use crate::access::Scope;
use crate::documents::model::{Document, DocumentId};
use crate::documents::new::{Inserted, NewDocument};

#[async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    /// Archives a document's metadata, its parties, a change sequence number and an audit entry
    /// in one transaction: all of them or none.
    async fn insert_document(
        &self,
        scope: &Scope,
        new: NewDocument,
    ) -> Result<Inserted, CatalogError>;

    async fn document(
        &self,
        scope: &Scope,
        id: DocumentId,
    ) -> Result<Option<Document>, CatalogError>;

    async fn document_by_external_id(
        &self,
        scope: &Scope,
        source: &str,
        external_id: &str,
    ) -> Result<Option<Document>, CatalogError>;

    /// The text of the documents the scope sees, for those that have one: its first
    /// `max_chars` characters.
    async fn document_texts(
        &self,
        scope: &Scope,
        ids: &[DocumentId],
        max_chars: u32,
    ) -> Result<Vec<(DocumentId, String)>, CatalogError>;
}
