//! What this process stored lately: each content's size and what its first bytes say of its
//! type. Committing a batch checks every document's content (present, of the declared size,
//! of a type agreeing with its file name); for content the batch's own uploads just stored,
//! the answer is here instead of two reads from the store per document (two requests each on
//! S3). Content is immutable under its hash, so what was true when it was stored stays true;
//! anything not remembered (another process stored it, or this one restarted) is read back.
//! What this trusts is that stored content stays: ged never removes any, but an object
//! removed from the store by hand after its upload would pass until the server restarts.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::documents::media_type::Sniffed;
use crate::identifiers::Sha256Hex;

/// Contents remembered per generation; at most two generations are kept (about 150 bytes
/// each: 30 MB at most), the older forgotten whole when the newer fills.
const GENERATION: usize = 100_000;

/// What a stored content was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredContent {
    pub size: u64,
    pub sniffed: Sniffed,
}

#[derive(Default)]
pub(super) struct RecentlyStored {
    /// The newer generation first.
    generations: Mutex<[HashMap<Sha256Hex, StoredContent>; 2]>,
}

impl RecentlyStored {
    pub(super) fn remember(&self, sha256: &Sha256Hex, stored: StoredContent) {
        let forgotten = {
            let mut generations = self.generations.lock().expect("no panic while held");
            let full = generations[0].len() >= GENERATION;
            let forgotten = full.then(|| {
                let newer = std::mem::take(&mut generations[0]);
                std::mem::replace(&mut generations[1], newer)
            });
            generations[0].insert(sha256.clone(), stored);
            forgotten
        };
        // Freeing 100,000 entries takes milliseconds: not while other uploads wait for the lock.
        drop(forgotten);
    }

    pub(super) fn get(&self, sha256: &Sha256Hex) -> Option<StoredContent> {
        let generations = self.generations.lock().expect("no panic while held");
        generations.iter().find_map(|map| map.get(sha256)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: usize) -> Sha256Hex {
        Sha256Hex::parse(&format!("{n:064x}")).expect("valid hash")
    }

    #[test]
    fn the_older_generation_is_forgotten_whole_when_the_newer_fills() {
        let recent = RecentlyStored::default();
        let stored = |size| StoredContent {
            size,
            sniffed: Sniffed::of(b"%PDF-1.4\n"),
        };
        for n in 0..2 * GENERATION {
            recent.remember(&hash(n), stored(n as u64));
        }
        assert_eq!(recent.get(&hash(0)), Some(stored(0)));
        assert_eq!(
            recent.get(&hash(2 * GENERATION - 1)),
            Some(stored(2 * GENERATION as u64 - 1))
        );
        recent.remember(&hash(2 * GENERATION), stored(1));
        assert_eq!(recent.get(&hash(0)), None, "the oldest generation is gone");
        assert_eq!(
            recent.get(&hash(GENERATION)),
            Some(stored(GENERATION as u64))
        );
        assert_eq!(recent.get(&hash(2 * GENERATION)), Some(stored(1)));
    }
}
