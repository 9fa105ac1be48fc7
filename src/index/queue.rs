//! The text handed to tantivy's indexing threads and not yet analysed by them.
//!
//! `IndexWriter::add_document` queues up to 10,000 documents whatever their size, and the
//! catalog reads texts much faster than tantivy analyses them: long texts piled up in memory
//! (a rebuild whose first 1,100 documents carry 1 MB of text each peaked at 777 MiB). The
//! French analyser, which every title and text goes through, counts the bytes it is given; a
//! writer counts the bytes it hands over and waits while too many are still queued. A commit
//! would wait too, but each one leaves a segment: a rebuild committing every 64 MiB of text
//! left 17 segments instead of 5 on the 1M benchmark, and searches slowed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tantivy::tokenizer::Tokenizer;

use crate::catalog::IndexSource;

/// Text queued for analysis at most, beside the writer's own memory budget.
pub const MAX_QUEUED_TEXT: u64 = 16 * 1024 * 1024;
/// How long a writer waits without the analysers making progress before it stops waiting:
/// if tantivy's threads died, its next call says so.
const STALL: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(2);

/// The bytes the French analyser of one index has been given, shared by its clones.
#[derive(Clone, Default)]
pub struct AnalysedBytes(Arc<AtomicU64>);

impl AnalysedBytes {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A tokenizer counting the bytes of the texts it is given.
#[derive(Clone)]
pub struct Counted<T> {
    pub inner: T,
    pub analysed: AnalysedBytes,
}

impl<T: Tokenizer> Tokenizer for Counted<T> {
    type TokenStream<'a> = T::TokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.analysed
            .0
            .fetch_add(text.len() as u64, Ordering::Relaxed);
        self.inner.token_stream(text)
    }
}

/// What one writer handed to tantivy for the French analyser, against what it analysed.
pub struct TextQueue {
    analysed: AnalysedBytes,
    handed: u64,
}

impl TextQueue {
    pub fn new(analysed: AnalysedBytes) -> Self {
        let handed = analysed.get();
        Self { analysed, handed }
    }

    /// Records a document handed to the writer; blocks (call it off the async threads) while
    /// more than [`MAX_QUEUED_TEXT`] wait to be analysed.
    pub fn handed(&mut self, source: &IndexSource) {
        let title = source.document.title.as_ref().map_or(0, String::len);
        self.hand(source.text_bytes() + title as u64);
    }

    fn hand(&mut self, bytes: u64) {
        self.handed += bytes;
        let mut analysed = self.analysed.get();
        let mut progress_at = Instant::now();
        while self.handed.saturating_sub(analysed) > MAX_QUEUED_TEXT {
            if progress_at.elapsed() > STALL {
                tracing::warn!("the index's analysers made no progress for 10 s; not waiting");
                return;
            }
            std::thread::sleep(POLL);
            let now = self.analysed.get();
            if now != analysed {
                (analysed, progress_at) = (now, Instant::now());
            }
        }
    }

    /// After a commit nothing is queued: the count is taken again. Searches share the
    /// analyser (their words, and up to 20,000 characters of each hit's text for extracts),
    /// so between commits the bound is loose by what they analysed; it never makes a writer
    /// wait longer.
    pub fn drained(&mut self) {
        self.handed = self.analysed.get();
    }
}

#[cfg(test)]
mod tests {
    use tantivy::{Index, TantivyDocument};

    use super::*;
    use crate::index::schema::{build_schema, register_tokenizers};

    #[test]
    fn the_french_analyser_counts_what_a_writer_gives_it() {
        let (schema, fields) = build_schema();
        let index = Index::create_in_ram(schema);
        let analysed = register_tokenizers(&index);
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut document = TantivyDocument::default();
        document.add_text(fields.title, "Réclamation");
        document.add_text(fields.text, "la facture d'eau du mois");
        document.add_text(fields.source, "COURRIER");
        writer.add_document(document).unwrap();
        writer.commit().unwrap();
        // Titles and texts only: "Réclamation" is 12 bytes, the text 24.
        assert_eq!(analysed.get(), 12 + 24);
    }

    #[test]
    fn a_writer_waits_while_too_much_text_is_queued() {
        let analysed = AnalysedBytes::default();
        let mut queue = TextQueue::new(analysed.clone());
        // Up to the bound nothing waits (a wait would end only after STALL).
        let started = Instant::now();
        queue.hand(MAX_QUEUED_TEXT);
        assert!(started.elapsed() < STALL / 2);
        let analyser = {
            let analysed = analysed.clone();
            std::thread::spawn(move || {
                for _ in 0..4 {
                    std::thread::sleep(Duration::from_millis(20));
                    analysed.0.fetch_add(1024, Ordering::Relaxed);
                }
            })
        };
        queue.hand(3 * 1024);
        // It returned only once the analyser had taken enough off the queue.
        assert!(analysed.get() >= 3 * 1024, "{}", analysed.get());
        analyser.join().unwrap();
        // After a commit the queue starts again from empty.
        queue.drained();
        let started = Instant::now();
        queue.hand(MAX_QUEUED_TEXT);
        assert!(started.elapsed() < STALL / 2);
    }
}
