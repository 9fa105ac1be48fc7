//! Batches in the catalog: a manifest recorded whole, its documents archived in chunks (each
//! document with its outcome in one transaction), and the reports read back.

use async_trait::async_trait;

use super::CatalogError;
use crate::access::Scope;
use crate::batches::{
    BatchArchive, BatchDocumentReport, BatchFilter, BatchOfDocument, BatchSummary, NewBatch,
    PendingBatchDocument,
};
use crate::documents::new::Archived;

#[async_trait]
pub trait BatchStore: Send + Sync + 'static {
    /// Records a batch and its documents (pending, or rejected with their errors) and audits
    /// its receipt, unless the tenant already has a batch of that source and reference.
    /// Returns the batch as recorded, and whether this call created it.
    async fn create_batch(
        &self,
        scope: &Scope,
        batch: &NewBatch,
    ) -> Result<(BatchSummary, bool), CatalogError>;

    /// A batch in the scope (its tenant, and its source for source-bound roles).
    async fn batch(&self, scope: &Scope, id: &str) -> Result<Option<BatchSummary>, CatalogError>;

    async fn batch_by_ref(
        &self,
        scope: &Scope,
        source: &str,
        batch_ref: &str,
    ) -> Result<Option<BatchSummary>, CatalogError>;

    /// The scope's batches matching `filter`, newest first.
    async fn batches(
        &self,
        scope: &Scope,
        filter: &BatchFilter,
    ) -> Result<Vec<BatchSummary>, CatalogError>;

    /// Every document of a batch with its outcome, in manifest order.
    async fn batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Vec<BatchDocumentReport>, CatalogError>;

    /// The first `limit` documents of a batch still to archive, in manifest order.
    async fn pending_batch_documents(
        &self,
        scope: &Scope,
        batch_id: &str,
        limit: u32,
    ) -> Result<Vec<PendingBatchDocument>, CatalogError>;

    /// Archives documents of a batch, each atomically with its outcome; skips those no longer
    /// pending. Tells what this call archived.
    async fn archive_batch_documents(
        &self,
        scope: &Scope,
        batch: BatchOfDocument<'_>,
        documents: Vec<BatchArchive>,
    ) -> Result<Archived, CatalogError>;

    /// Marks the batch completed when nothing in it is pending; the batch as it then stands,
    /// and whether this call completed it.
    async fn complete_batch(
        &self,
        scope: &Scope,
        batch_id: &str,
    ) -> Result<Option<(BatchSummary, bool)>, CatalogError>;
}
