//! A request the client gives up on is dropped by the server wherever it stands, in the middle
//! of a catalog write included: what it began must end with it, never stay open on a pooled
//! connection and swallow the writes of the requests that borrow that connection next.

use ged::access::{DEFAULT_TENANT, Scope, TenantId};
use serde_json::json;

use crate::helpers::{sha256_hex, spawn_app};

/// Ready after `turns` turns of the scheduler, each of which lets the I/O driver run.
async fn turns(turns: u32) {
    for _ in 0..turns {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn writes_dropped_at_any_point_leave_nothing_open_that_swallows_later_writes() {
    let app = spawn_app().await;
    let catalog = app.catalog();
    let scope = Scope::operator(TenantId::parse(DEFAULT_TENANT).unwrap());
    let details = json!({});
    let mut completed_in_a_row = 0;
    let mut dropped_after = 0;
    // Dropped after 0, 1, 2, … turns, at every step of a write (its BEGIN's round trip
    // included), until it is long enough to complete every time.
    while completed_in_a_row < 20 && dropped_after < 5_000 {
        tokio::select! {
            biased;
            _ = catalog.record_access(&scope, "test.dropped", None, &details) => {
                completed_in_a_row += 1;
            }
            () = turns(dropped_after) => completed_in_a_row = 0,
        }
        // Acknowledged writes on every connection of the pool: each must be seen from the
        // others.
        let hashes: Vec<String> = (0..8)
            .map(|n| {
                sha256_hex(
                    format!("after a write dropped after {dropped_after} turns, {n}").as_bytes(),
                )
            })
            .collect();
        for hash in &hashes {
            catalog.record_blob_upload(&scope, hash).await.unwrap();
        }
        let asked: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let held = catalog.blobs_held(&scope, &asked).await.unwrap();
        assert_eq!(
            held.len(),
            asked.len(),
            "after a write dropped after {dropped_after} turns, acknowledged upload records \
             are not seen: they ran in a transaction the dropped write left open"
        );
        dropped_after += 1;
    }
    assert!(completed_in_a_row >= 20, "writes never complete");
}
