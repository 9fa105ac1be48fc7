//! The content the catalog knows of: which tenant uploaded which bytes (so its manifests may
//! name them), and where each document's content should be, for verification.

use std::collections::HashSet;

use async_trait::async_trait;

use super::CatalogError;
use crate::access::Scope;

/// Where a document's content should be, for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentReference {
    pub id: String,
    pub sha256: String,
    pub size: i64,
}

#[async_trait]
pub trait ContentRecords: Send + Sync + 'static {
    /// Records that the scope's tenant uploaded this content (so its manifests may name it).
    async fn record_blob_uploads(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<(), CatalogError>;

    /// Those of `sha256s` that the scope's tenant uploaded or archived a document of: one
    /// query for a whole manifest, or for a client asking which of its files to send.
    async fn blobs_held(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<HashSet<String>, CatalogError>;

    /// Whether any tenant uploaded or archived this content: operator-level, for `ged verify`
    /// to tell an interrupted upload's leftover from damaged content.
    async fn content_recorded(&self, sha256: &str) -> Result<bool, CatalogError>;

    /// Documents of every tenant, by id, after `after`: operator-level, for `ged verify`.
    async fn content_references(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ContentReference>, CatalogError>;
}
