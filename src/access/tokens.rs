//! Bearer tokens: generated here, shown once, stored only as a SHA-256 hash.
//!
//! A token is `ged_` followed by 64 hex digits (256 random bits from the operating system). With
//! that much entropy a fast hash is enough: nobody can search the space, so a stolen catalog
//! does not yield usable tokens, and lookup by hash takes no secret-dependent time.

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use super::token_record::TokenRecord;
use super::{Role, Scope, TenantId};
use crate::catalog::{AccessStore, CatalogError};
use crate::dates::format_timestamp;
use crate::validation::ValidationErrors;

const TOKEN_PREFIX: &str = "ged_";

/// What to issue.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub role: Role,
    pub name: Option<String>,
    pub source: Option<String>,
    /// A duration such as `90d` or `12h`.
    pub expires_in: Option<String>,
}

/// A token just issued: the secret is in `token`, and nowhere else from now on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub token: String,
    #[serde(flatten)]
    pub record: TokenRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token request")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// The hash under which a token's secret is stored and looked up.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

fn validate(request: &TokenRequest) -> Result<Option<String>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if let Some(name) = &request.name
        && (name.trim().is_empty() || name.chars().count() > 100)
    {
        errors.push("name", "must have 1 to 100 characters");
    }
    match (&request.source, request.role) {
        // An archiving token answers re-sends with what its source archived before: it must
        // be bound to one source, or it could read another source's documents that way.
        (None, Role::Scanner | Role::Outbound) => {
            errors.push("source", "is required for scanner and outbound tokens")
        }
        (Some(_), role) if !matches!(role, Role::Scanner | Role::Outbound) => errors.push(
            "source",
            "only scanner and outbound tokens are bound to a source",
        ),
        (Some(source), _) if TenantId::parse(source).is_err() => {
            errors.push("source", "is not a source code of letters, digits and _.:-")
        }
        _ => {}
    }
    let expires_at = match &request.expires_in {
        None => None,
        Some(text) => match humantime::parse_duration(text) {
            Ok(duration) if !duration.is_zero() => {
                match time::Duration::try_from(duration)
                    .ok()
                    .and_then(|d| OffsetDateTime::now_utc().checked_add(d))
                {
                    Some(expiry) => Some(format_timestamp(expiry)),
                    None => {
                        errors.push("expires", "is too far in the future");
                        None
                    }
                }
            }
            _ => {
                errors.push("expires", "is not a duration such as 90d, 12h or 30m");
                None
            }
        },
    };
    errors.into_result(expires_at)
}

/// Issues a token in the scope's tenant, recording the issue in the audit log.
pub async fn issue(
    catalog: &dyn AccessStore,
    scope: &Scope,
    request: TokenRequest,
) -> Result<IssuedToken, TokenError> {
    let expires_at = validate(&request).map_err(TokenError::Invalid)?;
    let secret = generate_secret();
    let record = TokenRecord {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: scope.tenant().clone(),
        role: request.role,
        name: request.name.map(|name| name.trim().to_string()),
        source: request.source,
        created_at: crate::dates::now_timestamp(),
        expires_at,
        revoked_at: None,
    };
    catalog
        .insert_token(scope, &record, &secret_hash(&secret))
        .await?;
    Ok(IssuedToken {
        token: secret,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(role: Role, source: Option<&str>, expires: Option<&str>) -> TokenRequest {
        TokenRequest {
            role,
            name: None,
            source: source.map(str::to_string),
            expires_in: expires.map(str::to_string),
        }
    }

    #[test]
    fn secrets_are_long_random_and_prefixed() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("ged_") && a.len() == 68);
        assert_eq!(secret_hash(&a).len(), 64);
    }

    #[test]
    fn scanner_tokens_need_a_source_and_durations_are_checked() {
        assert!(validate(&request(Role::Scanner, None, None)).is_err());
        assert!(
            validate(&request(Role::Scanner, Some("SCAN-LYON"), Some("90d")))
                .unwrap()
                .is_some()
        );
        assert!(validate(&request(Role::Agent, Some("SCAN-LYON"), None)).is_err());
        assert!(validate(&request(Role::Agent, None, Some("soon"))).is_err());
        assert!(
            validate(&request(Role::Agent, None, None))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn revoked_and_expired_tokens_are_unusable() {
        let mut record = TokenRecord {
            id: "t".into(),
            tenant: TenantId::parse("default").unwrap(),
            role: Role::Agent,
            name: None,
            source: None,
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            expires_at: Some("2026-02-01T00:00:00.000000Z".into()),
            revoked_at: None,
        };
        assert!(
            record
                .unusable_because("2026-01-15T00:00:00.000000Z")
                .is_none()
        );
        assert!(
            record
                .unusable_because("2026-02-01T00:00:00.000000Z")
                .is_some()
        );
        record.expires_at = None;
        record.revoked_at = Some("2026-01-10T00:00:00.000000Z".into());
        assert!(
            record
                .unusable_because("2026-01-15T00:00:00.000000Z")
                .is_some()
        );
    }
}
