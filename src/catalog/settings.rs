//! The archive's own state in the catalog: whether it answers, its secrets and settings, and
//! its tenants.

use async_trait::async_trait;

use super::CatalogError;
use crate::access::TenantId;

#[async_trait]
pub trait ArchiveSettings: Send + Sync + 'static {
    /// Answers when the database can serve a query.
    async fn ping(&self) -> Result<(), CatalogError>;

    /// A random secret of the archive, created on first use and shared by every node: the
    /// key that hashes identifiers in the audit log, the catalog's identity.
    async fn archive_secret(&self, name: &str) -> Result<Vec<u8>, CatalogError>;

    /// The archive's setting `name`, recorded as `value` when it has none yet.
    async fn bind_setting(&self, name: &str, value: &str) -> Result<String, CatalogError>;

    /// Creates the tenant unless it exists.
    async fn ensure_tenant(&self, tenant: &TenantId) -> Result<(), CatalogError>;
}
