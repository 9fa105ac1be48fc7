//! Authenticating a request: `Authorization: Bearer <token>` becomes a [`Caller`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::tokens::secret_hash;
use super::{AccessError, Caller};
use crate::dates::now_timestamp;
use crate::http::{ApiError, AppState};

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let secret = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, secret) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
            })
            .ok_or(AccessError::Unauthenticated(
                "send the header Authorization: Bearer <token>",
            ))?;
        let record = state
            .archive
            .catalog
            .token_by_secret_hash(&secret_hash(secret))
            .await?
            .ok_or(AccessError::Unauthenticated("the token is not known"))?;
        if let Some(reason) = record.unusable_because(&now_timestamp()) {
            return Err(AccessError::Unauthenticated(reason).into());
        }
        Ok(Caller {
            token_id: record.id,
            tenant: record.tenant,
            role: record.role,
            source: record.source,
        })
    }
}
