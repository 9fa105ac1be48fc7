//! Keeping the index a faithful projection of the catalog.
//!
//! One thread owns the `IndexWriter` for the life of the process. It follows the catalog's
//! change sequence, applies each change idempotently (delete the document's term, add its
//! current state), and commits on a count-or-time trigger — never per document — with the last
//! applied sequence number in the commit payload. After a crash, the index holds its last
//! commit; the thread resumes from the payload's sequence and re-applies what followed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};
use tokio::sync::{Notify, watch};

use super::document::to_index_document;
use super::queue::TextQueue;
use super::schema::{Fields, SCHEMA_VERSION, build_schema, register_tokenizers};
use crate::catalog::{Catalog, CommitWatch, IndexPage, IndexSource};

/// Changes read from the catalog at once (fewer when their texts are long).
const PAGE: IndexPage = IndexPage::of(5_000);
/// Commit after this many uncommitted changes…
const COMMIT_COUNT: usize = 100_000;
/// …or this long after the first uncommitted one when caught up (near-real-time)…
const COMMIT_INTERVAL: Duration = Duration::from_millis(250);
/// …or this long while catching up a backlog, where fewer, larger commits go faster.
const BACKLOG_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// How often the catalog is asked for changes made by other processes or nodes.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The indexing memory budget of a rebuild, shared by the indexing threads (≥ 15 MB each).
/// 96 MiB keeps a full rebuild of a million documents well under 512 MiB resident (segments
/// merged while building are mapped into memory too).
pub const REBUILD_WRITER_MEMORY: usize = 96 * 1024 * 1024;
/// The server's budget: it commits every 250 ms, so its segments stay small, and the memory is
/// better left to uploads and batches (a batch of 100,000 documents must fit in 256 MB).
pub const SERVER_WRITER_MEMORY: usize = 40 * 1024 * 1024;
pub const WRITER_THREADS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index folder error: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the search index is in use by another process (a running `ged serve`?): stop it first"
    )]
    Busy,
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
}

/// What a commit records besides the documents.
#[derive(Debug, Serialize, Deserialize)]
struct CommitPayload {
    seq: i64,
    schema: u32,
    /// The identity of the catalog this index projects: an index of another catalog (or of
    /// this one before a restore from backup) is rebuilt, not trusted.
    catalog: String,
}

/// What an index must agree with to be trusted at start.
#[derive(Debug, Clone)]
pub struct CatalogState {
    pub identity: String,
    pub latest_seq: i64,
}

impl CatalogState {
    pub async fn read(catalog: &dyn Catalog) -> Result<Self, crate::catalog::CatalogError> {
        let secret = catalog.archive_secret("catalog_id").await?;
        Ok(Self {
            identity: hex::encode(&secret[..16]),
            latest_seq: catalog.latest_seq().await?,
        })
    }
}

/// An open index: its reader for searches, and the sequence number its searches reflect.
#[derive(Clone)]
pub struct SearchIndex {
    pub(super) index: Index,
    pub(super) reader: IndexReader,
    pub(super) fields: Fields,
    applied: watch::Receiver<i64>,
    wake: Arc<Notify>,
}

/// The writer task; stop it at shutdown so its last commit lands.
pub struct IndexWriterTask {
    task: tokio::task::JoinHandle<()>,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl IndexWriterTask {
    /// Commits what is pending and ends the task.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let _ = self.task.await;
    }
}

/// The right to write the index in a folder: an exclusive lock on a file beside the folder,
/// taken before anything inside the folder is read, wiped or written, and held for as long as
/// the writer lives. A second `ged serve` or a `ged reindex` on the same data folder is refused.
pub struct IndexLock {
    _file: std::fs::File,
}

impl IndexLock {
    pub fn acquire(folder: &Path) -> Result<Self, IndexError> {
        let path = folder.with_extension("lock");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(IndexError::Busy),
            Err(std::fs::TryLockError::Error(error)) => Err(error.into()),
        }
    }
}

/// Opens the index in `folder`, or creates it when it is missing, unreadable (a segment
/// cannot be opened), of another schema version, of another catalog, or ahead of the catalog
/// (restored from an older backup): it is derived data, and the writer rebuilds it.
/// Returns the index and the sequence number of its last commit. The caller holds the lock.
pub fn open_or_create(
    _lock: &IndexLock,
    folder: &Path,
    catalog: &CatalogState,
) -> Result<(Index, i64, TextQueue), IndexError> {
    std::fs::create_dir_all(folder)?;
    let (schema, _) = build_schema();
    let existing = Index::open_in_dir(folder).ok().and_then(|index| {
        let payload = index.load_metas().ok()?.payload?;
        let payload: CommitPayload = serde_json::from_str(&payload).ok()?;
        let trusted = payload.schema == SCHEMA_VERSION
            && index.schema() == schema
            && payload.catalog == catalog.identity
            && payload.seq <= catalog.latest_seq;
        // Opening a reader opens every segment: a missing or damaged file shows here.
        let readable = index.reader().is_ok();
        (trusted && readable).then_some((index, payload.seq))
    });
    let (index, seq) = match existing {
        Some(found) => found,
        None => {
            if folder.join("meta.json").exists() {
                tracing::warn!(folder = %folder.display(), "search index unreadable or of another version: rebuilding it");
            }
            remove_index_files(folder)?;
            let directory = MmapDirectory::open(folder).map_err(tantivy::TantivyError::from)?;
            (Index::create(directory, schema, Default::default())?, 0)
        }
    };
    let queue = TextQueue::new(register_tokenizers(&index));
    Ok((index, seq, queue))
}

fn remove_index_files(folder: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// Takes the index's single writer with a memory budget, or says another process holds it.
pub fn take_writer(index: &Index, memory: usize) -> Result<IndexWriter, IndexError> {
    match index.writer_with_num_threads(WRITER_THREADS, memory) {
        Ok(writer) => Ok(writer),
        Err(tantivy::TantivyError::LockFailure(..)) => Err(IndexError::Busy),
        Err(error) => Err(error.into()),
    }
}

/// Commits with the sequence number the index now reflects.
pub fn commit(writer: &mut IndexWriter, seq: i64, catalog: &str) -> Result<(), IndexError> {
    let payload = CommitPayload {
        seq,
        schema: SCHEMA_VERSION,
        catalog: catalog.to_string(),
    };
    let payload = serde_json::to_string(&payload).expect("payload serialises");
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&payload);
    prepared.commit()?;
    Ok(())
}

/// Replaces a document's indexed state with its current one (idempotent).
pub fn apply(
    writer: &IndexWriter,
    fields: &Fields,
    source: &IndexSource,
) -> Result<(), IndexError> {
    writer.delete_term(Term::from_field_text(
        fields.id,
        &source.document.id.to_string(),
    ));
    writer.add_document(to_index_document(fields, source))?;
    Ok(())
}

/// An error with its causes, for the log: the outer message alone rarely says what failed.
fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Opens the index and starts the thread that keeps it following the catalog.
pub async fn start(
    folder: &Path,
    catalog: Arc<dyn Catalog>,
) -> Result<(SearchIndex, IndexWriterTask), IndexError> {
    let lock = IndexLock::acquire(folder)?;
    let state = CatalogState::read(catalog.as_ref()).await?;
    let (index, committed_seq, queue) = open_or_create(&lock, folder, &state)?;
    let writer = take_writer(&index, SERVER_WRITER_MEMORY)?;
    // A crash before a commit can leave segment files no commit refers to.
    if let Err(error) = writer.garbage_collect_files().wait() {
        tracing::warn!(error = %error, "could not remove orphan index files");
    }
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let (_, fields) = build_schema();
    let (applied_tx, applied) = watch::channel(committed_seq);
    let wake = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let search = SearchIndex {
        index,
        reader: reader.clone(),
        fields,
        applied,
        wake: wake.clone(),
    };
    let catalog_commits = catalog.watch_changes();
    let follower = Follower {
        _lock: lock,
        catalog_identity: state.identity,
        catalog,
        writer: Some((writer, queue)),
        reader,
        fields,
        applied_tx,
        wake: wake.clone(),
        commits: catalog_commits,
        stop: stop.clone(),
        committed_seq,
    };
    let task = tokio::spawn(follower.run());
    Ok((search, IndexWriterTask { task, stop, wake }))
}

impl SearchIndex {
    /// Opens an existing index for searching only (benchmarks, tools): no writer, no lock.
    pub fn open_reader(folder: &Path) -> Result<Self, IndexError> {
        let index = Index::open_in_dir(folder)?;
        register_tokenizers(&index);
        let seq = index
            .load_metas()?
            .payload
            .and_then(|payload| serde_json::from_str::<CommitPayload>(&payload).ok())
            .map_or(0, |payload| payload.seq);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let (_, fields) = build_schema();
        let (_, applied) = watch::channel(seq);
        Ok(Self {
            index,
            reader,
            fields,
            applied,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The sequence number the searches currently reflect.
    pub fn indexed_seq(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Waits until searches reflect change `seq`, at most `timeout`; says whether they do.
    pub async fn wait_for(&self, seq: i64, timeout: Duration) -> bool {
        // The change may be another node's, which this catalog did not signal: look now
        // rather than at the next poll.
        self.wake.notify_one();
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|applied| *applied >= seq))
            .await
            .is_ok_and(|result| result.is_ok())
    }
}

struct Follower {
    catalog: Arc<dyn Catalog>,
    catalog_identity: String,
    /// Lent to blocking tasks for tantivy's work, and given back, with what it has queued.
    writer: Option<(IndexWriter, TextQueue)>,
    reader: IndexReader,
    fields: Fields,
    applied_tx: watch::Sender<i64>,
    /// Woken to stop, or to look at once (a search waiting for a change of another node).
    wake: Arc<Notify>,
    /// This catalog's commits of changes.
    commits: CommitWatch,
    stop: Arc<AtomicBool>,
    committed_seq: i64,
    /// Declared last, so dropped last: the index stays locked until the writer is gone.
    _lock: IndexLock,
}

impl Follower {
    async fn run(mut self) {
        let mut applied_seq = self.committed_seq;
        let mut pending = 0usize;
        let mut first_pending_at: Option<Instant> = None;
        loop {
            let stopping = self.stop.load(Ordering::SeqCst);
            let batch = match self.catalog.changed_documents(applied_seq, PAGE).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(error = %cause_chain(&error), "index writer cannot read the catalog; retrying");
                    if stopping {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let caught_up = batch.caught_up;
            if batch.changes > 0 {
                let fields = self.fields;
                let applied = self
                    .with_writer(move |writer, queue| {
                        for id in &batch.removed {
                            writer.delete_term(Term::from_field_text(fields.id, id));
                        }
                        for source in &batch.documents {
                            apply(writer, &fields, source)?;
                            queue.handed(source);
                        }
                        Ok(())
                    })
                    .await;
                if let Err(error) = applied {
                    tracing::error!(error = %cause_chain(&error), "index writer failed to apply changes; retrying from the last commit");
                    self.roll_back().await;
                    applied_seq = self.committed_seq;
                    pending = 0;
                    first_pending_at = None;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                applied_seq = batch.upto_seq;
                pending += batch.changes;
                first_pending_at.get_or_insert_with(Instant::now);
            }
            let interval = if caught_up {
                COMMIT_INTERVAL
            } else {
                BACKLOG_COMMIT_INTERVAL
            };
            let due = first_pending_at.is_some_and(|first| first.elapsed() >= interval);
            if pending > 0 && (pending >= COMMIT_COUNT || due || stopping) {
                if let Err(error) = self.commit(applied_seq).await {
                    tracing::error!(error = %cause_chain(&error), "index commit failed; retrying from the last commit");
                    self.roll_back().await;
                    applied_seq = self.committed_seq;
                }
                pending = 0;
                first_pending_at = None;
            }
            if stopping && pending == 0 {
                break;
            }
            if caught_up {
                let wait = match first_pending_at {
                    Some(first) => interval.saturating_sub(first.elapsed()).min(POLL_INTERVAL),
                    None => POLL_INTERVAL,
                };
                let woken = async {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = self.commits.committed() => {}
                    }
                };
                let _ = tokio::time::timeout(wait, woken).await;
            }
        }
    }

    /// Runs tantivy's (blocking) work on the writer off the async threads.
    async fn with_writer(
        &mut self,
        work: impl FnOnce(&mut IndexWriter, &mut TextQueue) -> Result<(), IndexError> + Send + 'static,
    ) -> Result<(), IndexError> {
        let (mut writer, mut queue) = self
            .writer
            .take()
            .expect("the writer is back after each use");
        let (writer, result) = tokio::task::spawn_blocking(move || {
            // A panic inside tantivy must not take the writer (and the task) down with it.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                work(&mut writer, &mut queue)
            }))
            .unwrap_or_else(|_| Err(IndexError::Io(std::io::Error::other("index work panicked"))));
            ((writer, queue), result)
        })
        .await
        .map_err(std::io::Error::other)?;
        self.writer = Some(writer);
        result
    }

    async fn roll_back(&mut self) {
        let _ = self
            .with_writer(|writer, queue| {
                let rolled_back = writer.rollback();
                queue.drained();
                rolled_back.map(drop).map_err(Into::into)
            })
            .await;
    }

    async fn commit(&mut self, seq: i64) -> Result<(), IndexError> {
        let reader = self.reader.clone();
        let identity = self.catalog_identity.clone();
        self.with_writer(move |writer, queue| {
            commit(writer, seq, &identity)?;
            queue.drained();
            reader.reload()?;
            Ok(())
        })
        .await?;
        self.committed_seq = seq;
        self.applied_tx.send_replace(seq);
        tracing::debug!(seq, "index committed");
        Ok(())
    }
}
