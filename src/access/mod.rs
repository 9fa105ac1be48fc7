//! Who is calling, and what they may see: the scope every catalog and index query takes.
//!
//! Handlers never filter by tenant themselves: they receive a [`Scope`] from the request and
//! hand it to the catalog, which applies it. Until tokens exist (see the access-control issue),
//! every caller acts in the default tenant as the actor `anonymous`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The tenant every document belongs to until organisations are configured.
pub const DEFAULT_TENANT: &str = "default";

/// An organisation sharing the archive; documents, parties and dossiers belong to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The caller's reach: its tenant and the name it is recorded under in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub tenant: TenantId,
    pub actor: String,
}

impl Scope {
    /// The scope of a caller of the embedded archive before access control.
    pub fn default_tenant(actor: impl Into<String>) -> Self {
        Self {
            tenant: TenantId::new(DEFAULT_TENANT),
            actor: actor.into(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::default_tenant("anonymous"))
    }
}
