//! A request the client gives up on is dropped by the server wherever it stands, in the middle
//! of a catalog write included: what it began must end with it, never stay open on a pooled
//! connection and swallow the writes of the requests that borrow that connection next.

use std::pin::pin;

use ged::access::{DEFAULT_TENANT, Scope, TenantId};
use serde_json::json;

use crate::helpers::{sha256_hex, spawn_app};

#[tokio::test]
async fn writes_dropped_at_any_point_leave_nothing_open_that_swallows_later_writes() {
    let app = spawn_app().await;
    let catalog = app.catalog();
    let scope = Scope::operator(TenantId::parse(DEFAULT_TENANT).unwrap());
    let details = json!({});
    // How many turns of the scheduler (each lets the I/O driver run) a whole write takes here:
    // the writes below are dropped after fewer, at every step up to its commit.
    let mut longest = 0u32;
    for _ in 0..5 {
        let mut write = pin!(catalog.record_access(&scope, "test.measured", None, &details));
        let mut turns = 0;
        loop {
            tokio::select! {
                biased;
                written = &mut write => {
                    written.unwrap();
                    break;
                }
                () = tokio::task::yield_now() => turns += 1,
            }
        }
        longest = longest.max(turns);
    }
    // Every turn while the write begins (where the windows were), coarser after that.
    let drop_points = (0..longest.min(500)).chain((500..longest).step_by(25));
    for dropped_after in drop_points {
        {
            let mut write = pin!(catalog.record_access(&scope, "test.dropped", None, &details));
            for _ in 0..=dropped_after {
                tokio::select! {
                    biased;
                    _ = &mut write => break,
                    () = tokio::task::yield_now() => {}
                }
            }
        } // The write is dropped here, wherever it stands.
        // Acknowledged writes on the pool's connections: each must be seen from the others.
        let hashes: Vec<String> = (0..8)
            .map(|n| {
                sha256_hex(
                    format!("after a write dropped after {dropped_after} turns, {n}").as_bytes(),
                )
            })
            .collect();
        let uploads = hashes.iter().map(|hash| {
            let (catalog, scope) = (&catalog, &scope);
            async move { catalog.record_blob_uploads(scope, &[hash.as_str()]).await }
        });
        for uploaded in futures::future::join_all(uploads).await {
            uploaded.unwrap();
        }
        let asked: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let held = catalog.blobs_held(&scope, &asked).await.unwrap();
        assert_eq!(
            held.len(),
            asked.len(),
            "after a write dropped after {dropped_after} turns (a whole write takes \
             {longest}), acknowledged upload records are not seen: they ran in a transaction \
             the dropped write left open"
        );
    }
}
