//! Access in the catalog: bearer tokens (stored as hashes, their creation and revocation
//! audited) and the web UI's sessions.

use async_trait::async_trait;

use super::CatalogError;
use crate::access::TokenRecord;
use crate::access::{Scope, TenantId};

#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    /// Stores a token (its secret only as a hash) and audits its creation.
    async fn insert_token(
        &self,
        scope: &Scope,
        token: &TokenRecord,
        secret_sha256: &str,
    ) -> Result<(), CatalogError>;

    async fn token_by_secret_hash(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<TokenRecord>, CatalogError>;

    /// Revokes a token of the scope's tenant; `false` when there is no such (unrevoked) token.
    async fn revoke_token(&self, scope: &Scope, id: &str) -> Result<bool, CatalogError>;

    /// Tokens of one tenant, or of all when `None` (the operator's view).
    async fn tokens(&self, tenant: Option<&TenantId>) -> Result<Vec<TokenRecord>, CatalogError>;

    /// Opens a web session for a token: stores the session id's hash and its form secret, and
    /// forgets sessions that expired.
    async fn open_session(
        &self,
        token_id: &str,
        session_sha256: &str,
        csrf: &str,
        expires_at: &str,
    ) -> Result<(), CatalogError>;

    /// The token of an unexpired session, and the session's form secret.
    async fn session(
        &self,
        session_sha256: &str,
        now: &str,
    ) -> Result<Option<(TokenRecord, String)>, CatalogError>;

    async fn close_session(&self, session_sha256: &str) -> Result<(), CatalogError>;
}
