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

use super::refusals::CallerSlot;
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

/// What every refused credential hears, whether the token is unknown, revoked or expired:
/// telling them apart would tell whoever holds a leaked or guessed token that it was real.
/// The token list (`revoked_at`, `expires_at`), the tenant's audit trail (`token.refused`)
/// and the `security` log keep the difference.
const INVALID_TOKEN: &str = "the token is not valid: send a current token";

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            slot.fill(&caller);
        }
        Ok(caller)
    }
}

async fn authenticate(parts: &Parts, state: &Arc<AppState>) -> Result<Caller, ApiError> {
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
        return Err(
            AccessError::Unauthenticated("send the header Authorization: Bearer <token>").into(),
        );
    };
    let record = state
        .archive
        .catalog
        .token_by_secret_hash(&secret_hash(secret))
        .await?;
    let Some(record) = record else {
        tracing::warn!(target: "security", "request refused: unknown token");
        return Err(AccessError::Unauthenticated(INVALID_TOKEN).into());
    };
    if let Some(reason) = record.unusable_because(&now_timestamp()) {
        let caller = Caller::from(record);
        tracing::warn!(
            target: "security",
            tenant = caller.tenant.as_str(),
            actor = %caller.token_id,
            reason,
            "request refused: token no longer valid"
        );
        // The token's tenant learns that a token it revoked, or let expire, is still used.
        state
            .archive
            .catalog
            .record_access(
                &caller.scope(),
                "token.refused",
                None,
                &serde_json::json!({ "reason": reason }),
            )
            .await?;
        return Err(AccessError::Unauthenticated(INVALID_TOKEN).into());
    }
    Ok(record.into())
}
