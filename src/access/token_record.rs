//! A token as the catalog keeps it: a domain record of its own, so that the catalog, which
//! stores it, and the token issuing code, which uses the catalog, do not import each other.

use serde::Serialize;

use super::{Role, TenantId};

/// A token as the catalog keeps it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    pub id: String,
    pub tenant: TenantId,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl TokenRecord {
    /// Why this token cannot be used now, if it cannot.
    pub fn unusable_because(&self, now: &str) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("the token has been revoked")
        } else if self
            .expires_at
            .as_deref()
            .is_some_and(|expiry| expiry <= now)
        {
            Some("the token has expired")
        } else {
            None
        }
    }
}
