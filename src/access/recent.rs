//! Tokens this process found in the catalog lately, so that a client sending many requests
//! (a scanning centre's uploads, hundreds a second) is not looked up in the catalog for each:
//! on SQLite every lookup is a round trip to a reader thread (see docs/access-control.md,
//! "Tokens").
//!
//! An entry is trusted for [`TRUSTED_FOR`] at most, keyed by the secret's SHA-256 as the
//! catalog keeps it (never the secret). Its expiry is checked on every use, as for a token
//! read from the catalog, and a revocation made through this process forgets every entry at
//! once. A revocation made elsewhere (`ged token revoke`, another server on the same
//! PostgreSQL catalog) takes effect within [`TRUSTED_FOR`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::tokens::TokenRecord;

/// How long a token found in the catalog is trusted without asking again.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// Entries kept at most: past this, all are forgotten (only valid tokens get in, so only
/// their holders can fill it).
const MOST: usize = 10_000;

#[derive(Default)]
pub struct RecentTokens {
    entries: Mutex<HashMap<String, (Instant, TokenRecord)>>,
}

impl RecentTokens {
    /// The token whose secret hashes to `secret_sha256`, if it was found less than
    /// [`TRUSTED_FOR`] ago.
    pub fn get(&self, secret_sha256: &str) -> Option<TokenRecord> {
        let entries = self.lock();
        let (found_at, record) = entries.get(secret_sha256)?;
        (found_at.elapsed() < TRUSTED_FOR).then(|| record.clone())
    }

    /// Remembers a token just read from the catalog.
    pub fn remember(&self, secret_sha256: String, record: TokenRecord) {
        let mut entries = self.lock();
        if entries.len() >= MOST {
            entries.clear();
        }
        entries.insert(secret_sha256, (Instant::now(), record));
    }

    /// After a revocation: every token is read from the catalog again.
    pub fn forget_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, TokenRecord)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Role, TenantId};

    fn record() -> TokenRecord {
        TokenRecord {
            id: "t1".into(),
            tenant: TenantId::parse("default").unwrap(),
            role: Role::Scanner,
            name: None,
            source: Some("BENCH".into()),
            created_at: "2026-12-01T00:00:00Z".into(),
            expires_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_token_is_trusted_for_a_moment_and_forgotten_at_once_on_revocation() {
        let recent = RecentTokens::default();
        assert_eq!(recent.get("hash"), None);
        recent.remember("hash".into(), record());
        assert_eq!(recent.get("hash"), Some(record()));
        assert_eq!(recent.get("other"), None);
        recent.forget_all();
        assert_eq!(recent.get("hash"), None);

        recent.remember("hash".into(), record());
        recent.lock().get_mut("hash").unwrap().0 -= TRUSTED_FOR;
        assert_eq!(
            recent.get("hash"),
            None,
            "older than TRUSTED_FOR: asked again"
        );
    }
}
