//! The audit log: an append-only, hash-chained record of what happened to documents.
//!
//! Each entry commits to the previous one: `hash = SHA-256(canonical JSON of the entry's fields
//! and the previous hash)`. Changing or removing any entry breaks every later link, which
//! `ged verify` reports by naming the first entry whose link no longer holds.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The previous hash of the very first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub tenant_id: String,
    pub actor: String,
    pub action: String,
    pub document_id: Option<String>,
    /// JSON text; identifiers of persons never appear in clear here.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash an entry must carry, given its fields and its predecessor's hash.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    seq: i64,
    at: &str,
    tenant_id: &str,
    actor: &str,
    action: &str,
    document_id: Option<&str>,
    details: &str,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([
        seq,
        at,
        tenant_id,
        actor,
        action,
        document_id,
        details,
        prev_hash
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// Follows the chain over entries in sequence order, starting after an entry whose hash was
/// `previous_hash` (the genesis hash for the first). Returns the last hash seen.
pub fn check_chain<'a>(
    previous_hash: &str,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<String, BrokenLink> {
    let mut previous = previous_hash.to_string();
    for entry in entries {
        if entry.prev_hash != previous {
            return Err(BrokenLink {
                seq: entry.seq,
                reason: "does not point at the entry before it (an entry was removed or changed)"
                    .into(),
            });
        }
        let expected = entry_hash(
            entry.seq,
            &entry.at,
            &entry.tenant_id,
            &entry.actor,
            &entry.action,
            entry.document_id.as_deref(),
            &entry.details,
            &entry.prev_hash,
        );
        if entry.hash != expected {
            return Err(BrokenLink {
                seq: entry.seq,
                reason: "its content does not match its hash (the entry was modified)".into(),
            });
        }
        previous = entry.hash.clone();
    }
    Ok(previous)
}
