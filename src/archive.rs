//! The archive as handlers see it: the catalog, the content store and the identifier hasher,
//! with the operations that must never be done halfway — reading a document always records who
//! read it, before anything is returned.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::json;

use crate::access::Scope;
use crate::audit::IdentifierHasher;
use crate::catalog::{Catalog, CatalogError};
use crate::content::{ContentError, ContentStore};
use crate::documents::model::{Document, DocumentId};
use crate::identifiers::Sha256Hex;

#[derive(Clone)]
pub struct Archive {
    pub catalog: Arc<dyn Catalog>,
    pub content: ContentStore,
    pub identifiers: IdentifierHasher,
    /// An email's attachments past this many stay inside the `.eml`, not split out.
    pub max_email_attachments: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error("the catalog holds an unreadable hash for document {0}")]
    BadHash(DocumentId),
}

impl Archive {
    /// The document if the scope can see it, its viewing recorded in the audit log.
    pub async fn view_document(
        &self,
        scope: &Scope,
        id: DocumentId,
    ) -> Result<Option<Document>, CatalogError> {
        let Some(document) = self.catalog.document(scope, id).await? else {
            return Ok(None);
        };
        self.catalog
            .record_access(scope, "document.viewed", Some(&id), &json!({}))
            .await?;
        Ok(Some(document))
    }

    /// The extracted text of a document the scope sees, its reading recorded first.
    pub async fn read_text(
        &self,
        scope: &Scope,
        id: DocumentId,
    ) -> Result<Option<String>, CatalogError> {
        let texts = self.catalog.document_texts(scope, &[id], u32::MAX).await?;
        let Some((_, text)) = texts.into_iter().next() else {
            return Ok(None);
        };
        self.catalog
            .record_access(scope, "document.text_read", Some(&id), &json!({}))
            .await?;
        Ok(Some(text))
    }

    /// Streams `range` of a document's content, verified, its download recorded first.
    pub async fn read_content(
        &self,
        scope: &Scope,
        document: &Document,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>, ReadError> {
        let sha256 =
            Sha256Hex::parse(&document.sha256).map_err(|_| ReadError::BadHash(document.id))?;
        let details = if range.start == 0 && range.end == document.size {
            json!({})
        } else {
            json!({ "range": [range.start, range.end] })
        };
        self.catalog
            .record_access(scope, "document.downloaded", Some(&document.id), &details)
            .await?;
        Ok(self.content.read(&sha256, document.size, range).await?)
    }
}
