//! The catalog's followers — the search index writer and the text extraction worker — are told
//! by the catalog itself when a write commits, so that no caller has to remember to wake them.
//!
//! Each signal is a counter in a `watch` channel: a follower busy when a write commits finds
//! the counter moved when it next waits, so no wake-up is lost between two looks. Writes made
//! by other nodes sharing a PostgreSQL catalog are not signalled here: the followers also poll.

use tokio::sync::watch;

/// The signals of one catalog, held by its backend.
#[derive(Debug)]
pub(crate) struct Followers {
    changes: watch::Sender<u64>,
    jobs: watch::Sender<u64>,
}

impl Followers {
    pub(crate) fn new() -> Self {
        Self {
            changes: watch::Sender::new(0),
            jobs: watch::Sender::new(0),
        }
    }

    /// A committed write took numbers in the change sequence: the index has something to apply.
    pub(crate) fn changes_committed(&self) {
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A committed write queued text extraction jobs (or freed leased ones).
    pub(crate) fn jobs_queued(&self) {
        self.jobs
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    pub(crate) fn watch_changes(&self) -> CommitWatch {
        CommitWatch(self.changes.subscribe())
    }

    pub(crate) fn watch_jobs(&self) -> CommitWatch {
        CommitWatch(self.jobs.subscribe())
    }
}

/// What a follower waits on: resolves once a signalled write has committed since its last wait.
#[derive(Debug)]
pub struct CommitWatch(watch::Receiver<u64>);

impl CommitWatch {
    /// Waits for the next signalled commit. Never resolves once the catalog is gone (the
    /// follower's own timer or stop signal then ends its wait).
    pub async fn committed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
