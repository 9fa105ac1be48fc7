//! Web sessions: an agent signs in with a token once, and the browser then holds a random
//! session id in a `Secure`, `HttpOnly`, `SameSite=Strict` cookie. The catalog keeps only the
//! id's SHA-256; the session acts with its token's tenant and role, and ends when the token is
//! revoked or expires, at sign-out, or after [`SESSION_LENGTH`].

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use time::{Duration, OffsetDateTime};

use super::tokens::{TokenRecord, secret_hash};
use super::{Caller, Permission};
use crate::dates::{format_timestamp, now_timestamp};
use crate::http::{ApiError, AppState};

/// `__Host-`: browsers accept it only from this host, over HTTPS (or localhost), for `/`, so a
/// neighbouring subdomain cannot plant a session of its own.
pub const COOKIE_NAME: &str = "__Host-ged_session";
/// A working day.
pub const SESSION_LENGTH: Duration = Duration::hours(10);

/// A signed-in browser: who it acts as, and the secret its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

impl From<TokenRecord> for Caller {
    fn from(record: TokenRecord) -> Self {
        Caller {
            token_id: record.id,
            tenant: record.tenant,
            role: record.role,
            source: record.source,
        }
    }
}

/// 256 random bits in hex: session ids, CSRF secrets, node ids.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    hex::encode(bytes)
}

/// Opens a session for a usable token of a role that works in the web UI; the cookie to set
/// and the session, or why the token is refused.
pub async fn open(
    state: &AppState,
    secret: &str,
) -> Result<Result<(String, Session), &'static str>, ApiError> {
    // One answer for every refusal: it tells nothing about which tokens exist.
    const REFUSED: &str =
        "jeton refusé : inconnu, révoqué, expiré, ou d'un rôle sans accès à l'interface";
    let Some(record) = state
        .archive
        .catalog
        .token_by_secret_hash(&secret_hash(secret.trim()))
        .await?
    else {
        return Ok(Err(REFUSED));
    };
    if record.unusable_because(&now_timestamp()).is_some() {
        return Ok(Err(REFUSED));
    }
    let caller = Caller::from(record.clone());
    let Ok(scope) = caller.require(Permission::UseWebUi) else {
        return Ok(Err(REFUSED));
    };
    let id = random_hex();
    let csrf = random_hex();
    let expires_at = format_timestamp(OffsetDateTime::now_utc() + SESSION_LENGTH);
    state
        .archive
        .catalog
        .open_session(&record.id, &secret_hash(&id), &csrf, &expires_at)
        .await?;
    state
        .archive
        .catalog
        .record_access(&scope, "session.opened", None, &serde_json::json!({}))
        .await?;
    let cookie = format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        SESSION_LENGTH.whole_seconds()
    );
    Ok(Ok((cookie, Session { caller, csrf })))
}

/// The cookie that ends the session in the browser.
pub fn cleared_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .filter(|id| !id.is_empty())
}

/// The session the request's cookie names, if it is open and its token usable.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(id) = session_id(headers) else {
        return Ok(None);
    };
    let now = now_timestamp();
    let Some((record, csrf)) = state
        .archive
        .catalog
        .session(&secret_hash(id), &now)
        .await?
    else {
        return Ok(None);
    };
    if record.unusable_because(&now).is_some() {
        return Ok(None);
    }
    Ok(Some(Session {
        caller: record.into(),
        csrf,
    }))
}

/// Ends the session the request's cookie names, recording it when it was open.
pub async fn close(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let open = current(state, headers).await?;
    if let Some(id) = session_id(headers) {
        state
            .archive
            .catalog
            .close_session(&secret_hash(id))
            .await?;
    }
    if let Some(session) = open
        && let Ok(scope) = session.caller.require(Permission::UseWebUi)
    {
        state
            .archive
            .catalog
            .record_access(&scope, "session.closed", None, &serde_json::json!({}))
            .await?;
    }
    Ok(())
}
