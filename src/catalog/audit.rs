//! The audit log as the catalog keeps it: read events appended to the hash chain, a tenant's
//! trail, and the operator-level reads `ged verify` checks the chain and the documents with.

use async_trait::async_trait;

use super::CatalogError;
use crate::access::Scope;
use crate::audit::{AuditEntry, AuditFilter};
use crate::documents::model::DocumentId;

#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends a read event (view, download, search) to the audit log.
    async fn record_access(
        &self,
        scope: &Scope,
        action: &str,
        document: Option<&DocumentId>,
        details: &serde_json::Value,
    ) -> Result<(), CatalogError>;

    /// The scope's tenant's audit entries matching `filter`, in sequence order.
    async fn audit_trail(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, CatalogError>;

    /// Audit entries of every tenant in sequence order after `after_seq`: for `ged verify`.
    async fn audit_entries(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CatalogError>;

    /// Documents whose row disagrees with the audit entry of their archiving (missing entry,
    /// or another hash, size or sequence number): for `ged verify`.
    async fn documents_disagreeing_with_audit(
        &self,
        limit: u32,
    ) -> Result<Vec<String>, CatalogError>;
}
