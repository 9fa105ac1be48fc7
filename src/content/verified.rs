//! Reading content back while checking it against its hash.
//!
//! The whole object is read and hashed even when only a range is served, and the last piece of
//! the response is held back until the hash is known: if it does not match, the response ends
//! with an error instead of that piece, so a client never receives a complete body made of
//! corrupted bytes.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use sha2::{Digest, Sha256};

use crate::identifiers::Sha256Hex;

struct VerifyingState {
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    hasher: Sha256,
    offset: u64,
    range: Range<u64>,
    expected_sha256: Sha256Hex,
    expected_size: u64,
    held_back: Option<Bytes>,
    finished: bool,
}

/// Wraps the stream of a whole object: yields the bytes of `range`, verifying the object's hash
/// and size before the last piece.
pub fn verifying_stream(
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    expected_sha256: Sha256Hex,
    expected_size: u64,
    range: Range<u64>,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let state = VerifyingState {
        inner,
        hasher: Sha256::new(),
        offset: 0,
        range,
        expected_sha256,
        expected_size,
        held_back: None,
        finished: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.finished {
            return None;
        }
        loop {
            match state.inner.next().await {
                Some(Ok(chunk)) => {
                    state.hasher.update(&chunk);
                    let chunk_start = state.offset;
                    state.offset += chunk.len() as u64;
                    let start = state.range.start.max(chunk_start);
                    let end = state.range.end.min(state.offset);
                    if start < end {
                        let piece = chunk
                            .slice((start - chunk_start) as usize..(end - chunk_start) as usize);
                        if let Some(previous) = state.held_back.replace(piece) {
                            return Some((Ok(previous), state));
                        }
                    }
                }
                Some(Err(error)) => {
                    state.finished = true;
                    return Some((Err(std::io::Error::other(error)), state));
                }
                None => {
                    state.finished = true;
                    let actual = Sha256Hex::from_digest(&state.hasher.clone().finalize());
                    if actual != state.expected_sha256 || state.offset != state.expected_size {
                        crate::metrics::METRICS.verification_failures.inc();
                        tracing::error!(
                            expected_sha256 = %state.expected_sha256,
                            actual_sha256 = %actual,
                            expected_size = state.expected_size,
                            actual_size = state.offset,
                            "stored content is corrupted: refusing to serve it"
                        );
                        return Some((
                            Err(std::io::Error::other(format!(
                                "stored content {} is corrupted",
                                state.expected_sha256
                            ))),
                            state,
                        ));
                    }
                    return state.held_back.take().map(|piece| (Ok(piece), state));
                }
            }
        }
    })
    .boxed()
}
