//! The audit log: an append-only, hash-chained record of what happened to documents.
//!
//! Each entry commits to the previous one: `hash = SHA-256(canonical JSON of the entry's fields
//! and the previous hash)`. Changing or removing any entry breaks every later link, which
//! `ged verify` reports by naming the first entry whose link no longer holds.

pub mod http;

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::documents::model::DocumentId;

/// The previous hash of the very first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Hashes identifiers of persons and companies before they reach the audit log (search
/// criteria, filters), so the log never holds a NIR in clear yet "who searched for this NIR"
/// can still be answered by hashing the NIR again.
///
/// The hash is keyed (HMAC-SHA-256): a plain hash of a NIR could be reversed by trying the few
/// billion plausible NIRs. The key lives in the catalog, shared by every node; whoever can read
/// the catalog can read the parties' NIRs anyway, so it protects copies of the log, not the
/// database.
#[derive(Clone)]
pub struct IdentifierHasher {
    key: Arc<[u8]>,
}

impl IdentifierHasher {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.into() }
    }

    /// `kind` separates namespaces: the same digits as a NIR and as a client number differ.
    pub fn hash(&self, kind: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Which audit entries an auditor asks for, within its tenant.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub document: Option<DocumentId>,
    /// Entries about documents concerning the person with this NIR, and searches for it.
    pub nir: Option<crate::identifiers::Nir>,
    /// The NIR hashed with the archive's key (filled in by the caller of the catalog).
    pub nir_hash: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Inclusive lower bound on `at` (a timestamp or a date).
    pub from: Option<String>,
    /// Exclusive upper bound on `at`.
    pub to: Option<String>,
    pub after_seq: i64,
    pub limit: u32,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// The last link checked: where the next page of entries must continue from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPosition {
    pub seq: i64,
    pub hash: String,
}

impl ChainPosition {
    pub fn start() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        }
    }
}

/// Follows the chain over entries in sequence order from `position`. Sequence numbers must
/// follow each other without a gap: a removed entry shows even where hashes were recomputed.
pub fn check_chain<'a>(
    position: ChainPosition,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<ChainPosition, BrokenLink> {
    let mut position = position;
    for entry in entries {
        if entry.seq != position.seq + 1 {
            return Err(BrokenLink {
                seq: entry.seq,
                reason: format!(
                    "follows entry {} (entries in between were removed)",
                    position.seq
                ),
            });
        }
        if entry.prev_hash != position.hash {
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
        position = ChainPosition {
            seq: entry.seq,
            hash: entry.hash.clone(),
        };
    }
    Ok(position)
}
