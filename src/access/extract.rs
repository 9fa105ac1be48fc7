//! Authenticating a request: `Authorization: Bearer <token>` becomes a [`Caller`]; so does a
//! web session's cookie, for the reads a page embeds or links to ([`SESSION_READS`]): the
//! browser loads a document's content and a person's export from the API's own endpoints.
//! Anything that changes the archive from a browser goes through the web UI's forms, which
//! carry the session's CSRF secret.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::tokens::secret_hash;
use super::{AccessError, Caller};
use crate::dates::now_timestamp;
use crate::http::{ApiError, AppState};

/// The API routes a session cookie may read (GET or HEAD).
const SESSION_READS: &[&str] = &[
    "/api/v1/documents/{id}/content",
    "/api/v1/documents/{id}/text",
    "/api/v1/individuals/{reference}/export",
];

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
            });
        let Some(secret) = secret else {
            let route = parts
                .extensions
                .get::<MatchedPath>()
                .map(MatchedPath::as_str);
            if matches!(parts.method, Method::GET | Method::HEAD)
                && route.is_some_and(|route| SESSION_READS.contains(&route))
                && let Some(session) = super::session::current(state, &parts.headers).await?
            {
                return Ok(session.caller);
            }
            return Err(AccessError::Unauthenticated(
                "send the header Authorization: Bearer <token>",
            )
            .into());
        };
        let record = state
            .archive
            .catalog
            .token_by_secret_hash(&secret_hash(secret))
            .await?
            .ok_or(AccessError::Unauthenticated("the token is not known"))?;
        if let Some(reason) = record.unusable_because(&now_timestamp()) {
            return Err(AccessError::Unauthenticated(reason).into());
        }
        Ok(record.into())
    }
}
