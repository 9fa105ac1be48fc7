//! Writes to the local content folder made durable in groups: a write lands in the page cache,
//! then waits for one `syncfs` of the content's filesystem that started after it. Concurrent
//! uploads share that flush instead of each paying a file fsync and folder fsyncs of its own
//! (on a disk whose every flush is a synchronous device round trip, the flushes were most of an
//! upload's time; see docs/archive-core.md, "Content store").
//!
//! Until the flush returns, a power cut may leave an object under its final name with some of
//! its bytes missing. Nothing names it yet (the caller records the upload only after the
//! flush), and `ContentStore::put` re-hashes an object it finds present before trusting it, so
//! the next upload of the same content repairs it; `ged verify` reports it as corrupted until
//! then (see docs/archive-core.md, "Content store").

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use futures::FutureExt;

use super::Then;
use crate::group_commit::GroupCommit;

/// Flushes the filesystem of the content folder for every write waiting, one flush at a time.
#[derive(Clone)]
pub(super) struct GroupSync {
    flushes: Arc<GroupCommit<Waiting, Arc<str>>>,
    /// After a failed flush the kernel may have marked the unwritten pages clean, so a later
    /// flush that succeeds would prove nothing: from then on every write is refused, before it
    /// writes anything.
    failed: Arc<AtomicBool>,
    /// Flushes started so far. A write holds it shared until its object is under its key, so
    /// a flush numbered above what the write read started after the object was in place.
    started: Arc<RwLock<u64>>,
}

/// A write waiting for a flush.
struct Waiting {
    /// The objects the writes created, each with the flushes started before it was in place:
    /// removed if the flush fails and no later one succeeded.
    created: Vec<(PathBuf, u64)>,
    /// What the writer does once its content is durable, run inside the group's step.
    then: Option<Then>,
}

impl GroupSync {
    pub(super) fn open(root: &Path) -> io::Result<Self> {
        let folder = Arc::new(File::open(root)?);
        let failed = Arc::new(AtomicBool::new(false));
        let started = Arc::new(RwLock::new(0));
        let succeeded = Arc::new(AtomicU64::new(0));
        let flushes = {
            let (failed, started, succeeded) = (
                Arc::clone(&failed),
                Arc::clone(&started),
                Arc::clone(&succeeded),
            );
            GroupCommit::new(move |waiting: Vec<Waiting>| {
                let (folder, failed) = (Arc::clone(&folder), Arc::clone(&failed));
                let (started, succeeded) = (Arc::clone(&started), Arc::clone(&succeeded));
                let (created, then): (Vec<_>, Vec<_>) = waiting
                    .into_iter()
                    .map(|waiting| (waiting.created, waiting.then))
                    .unzip();
                async move {
                    let result = if failed.load(Ordering::SeqCst) {
                        Err("an earlier flush of the content folder failed".to_string())
                    } else {
                        tokio::task::spawn_blocking(move || {
                            let number = {
                                let mut started = started.write().unwrap_or_else(|e| e.into_inner());
                                *started += 1;
                                *started
                            };
                            flush(&folder).map(|()| number)
                        })
                        .await
                        .map_err(|error| error.to_string())
                        .and_then(|flushed| flushed.map_err(|error| error.to_string()))
                    };
                    let reason = match result {
                        Ok(number) => {
                            succeeded.fetch_max(number, Ordering::SeqCst);
                            // Inside the step, so the next flush starts once these are done:
                            // the writes that arrive meanwhile share it.
                            futures::future::join_all(then.into_iter().flatten()).await;
                            return Ok(());
                        }
                        Err(reason) => reason,
                    };
                    if !failed.swap(true, Ordering::SeqCst) {
                        tracing::error!(%reason, "flushing the content folder failed: later writes are refused");
                    }
                    // None of these objects was acknowledged, and what was to follow their
                    // flush is dropped unrun. Removed, they cannot pass for intact after a
                    // restart, when the page cache may hold bytes the disk does not. Not one
                    // a flush that succeeded covered (in place before it started): another
                    // upload of the same content may have been acknowledged on it.
                    let durable_through = succeeded.load(Ordering::SeqCst);
                    let _ = tokio::task::spawn_blocking(move || {
                        for (path, flushes_before) in created.into_iter().flatten() {
                            if durable_through <= flushes_before {
                                let _ = std::fs::remove_file(path);
                            }
                        }
                    })
                    .await;
                    Err(Arc::from(reason))
                }
                .boxed()
            })
        };
        Ok(Self {
            flushes,
            failed,
            started,
        })
    }

    /// [`write_unflushed`], returning also the number of flushes started before the object was
    /// in place (for [`GroupSync::wait`]).
    pub(super) fn write(
        &self,
        path: &Path,
        bytes: &[u8],
        replace: bool,
    ) -> io::Result<(Written, u64)> {
        let started = self.started.read().unwrap_or_else(|e| e.into_inner());
        let written = write_unflushed(path, bytes, replace)?;
        Ok((written, *started))
    }

    /// Refuses a write when an earlier flush failed.
    pub(super) fn check_usable(&self) -> io::Result<()> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "an earlier flush of the content folder failed: writes are refused until the disk is checked and the server restarted",
            ));
        }
        Ok(())
    }

    /// Returns once everything written to the content's filesystem before the call is durable.
    /// `created`: the objects the caller's writes created, each with what [`GroupSync::write`]
    /// returned with it, removed if the flush fails. `then`
    /// runs after a successful flush, before this returns.
    pub(super) async fn wait(
        &self,
        created: Vec<(PathBuf, u64)>,
        then: Option<Then>,
    ) -> io::Result<()> {
        self.flushes
            .submit(Waiting { created, then })
            .await
            .map_err(|reason| {
                io::Error::other(format!(
                    "flushing the content folder failed, so the write may not be durable: {reason}"
                ))
            })
    }
}

/// `syncfs`, then an fsync of the root folder: without a journal, ext4's `syncfs` issues its
/// device cache flush before it writes the last inode-table blocks, and the folder's fsync
/// flushes the cache again after them. With a journal the second flush costs little.
fn flush(folder: &File) -> io::Result<()> {
    rustix::fs::syncfs(folder)?;
    folder.sync_all()
}

/// Writes `bytes` under `path` unless something is there already, without flushing: the
/// caller waits on [`GroupSync::wait`] before it acknowledges the write. With `replace`, an
/// object already there is replaced.
fn write_unflushed(path: &Path, bytes: &[u8], replace: bool) -> io::Result<Written> {
    // Content addressing makes a second upload of the same content common: it writes nothing.
    if !replace && path.try_exists()? {
        return Ok(Written::AlreadyThere);
    }
    let folder = path.parent().expect("an object path has a folder");
    std::fs::create_dir_all(folder)?;
    // The `#n` suffix is the object store's own mark of a write in progress: listings skip it.
    let staging = staging_path(path);
    let mut file = File::create_new(&staging)?;
    // From here the staging file is this write's own: remove it on any failure.
    let written = file.write_all(bytes).and_then(|()| {
        if replace {
            std::fs::rename(&staging, path)
        } else {
            std::fs::hard_link(&staging, path)
        }
    });
    if replace && written.is_ok() {
        return Ok(Written::Created);
    }
    if let Err(error) = std::fs::remove_file(&staging) {
        // The object is in place (or the write failed anyway): a leftover staging name costs
        // space only, and listings skip it.
        tracing::warn!(%error, staging = %staging.display(), "cannot remove a staging file");
    }
    match written {
        Ok(()) => Ok(Written::Created),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(Written::AlreadyThere),
        Err(error) => Err(error),
    }
}

/// What [`write_unflushed`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Written {
    Created,
    /// Another write of the same name got there first; nothing was changed.
    AlreadyThere,
}

fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!("#{}", rand::random::<u32>()));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn a_write_waits_for_a_flush_of_its_own() {
        let folder = tempfile::tempdir().unwrap();
        let group = GroupSync::open(folder.path()).unwrap();
        let path = folder.path().join("ab").join("object");
        let (written, flushes_before) = group.write(&path, b"content", false).unwrap();
        assert_eq!((written, flushes_before), (Written::Created, 0));
        group.wait(vec![(path, 0)], None).await.unwrap();
        group.wait(Vec::new(), None).await.unwrap();
        assert_eq!(group.flushes.steps(), 2);
        let (_, flushes_before) = group
            .write(&folder.path().join("ab").join("next"), b"next", false)
            .unwrap();
        assert_eq!(flushes_before, 2);
    }

    #[tokio::test]
    async fn what_follows_a_write_runs_inside_its_flush_step_and_never_after_a_failed_one() {
        let folder = tempfile::tempdir().unwrap();
        let group = GroupSync::open(folder.path()).unwrap();
        // The steps finished when it ran, if it ran.
        let then = |seen: &Arc<Mutex<Option<u64>>>| -> Then {
            let (seen, steps) = (Arc::clone(seen), Arc::clone(&group.flushes));
            async move {
                *seen.lock().unwrap() = Some(steps.steps());
            }
            .boxed()
        };
        let ran = Arc::new(Mutex::new(None));
        group.wait(Vec::new(), Some(then(&ran))).await.unwrap();
        assert_eq!(
            *ran.lock().unwrap(),
            Some(0),
            "it ran before the wait returned, inside the step that flushed"
        );

        group.failed.store(true, Ordering::SeqCst);
        let unrun = Arc::new(Mutex::new(None));
        let paths = ["second", "third"].map(|name| folder.path().join("ab").join(name));
        let created = paths
            .iter()
            .map(|path| {
                let (_, flushes_before) = group.write(path, b"content", false).unwrap();
                (path.clone(), flushes_before)
            })
            .collect();
        assert!(group.wait(created, Some(then(&unrun))).await.is_err());
        assert_eq!(
            *unrun.lock().unwrap(),
            None,
            "a failed flush drops it unrun"
        );
        assert!(
            paths.iter().all(|path| !path.exists()),
            "and removes the objects it was to cover"
        );
    }

    /// Upload A writes an object and is slow to wait for its flush; upload B of the same
    /// content finds it, waits for a flush, which succeeds, and is acknowledged. A's own flush
    /// then fails: the object stays, B's acknowledgement stands on it.
    #[tokio::test]
    async fn a_failed_flush_leaves_an_object_an_earlier_flush_made_durable() {
        let folder = tempfile::tempdir().unwrap();
        let group = GroupSync::open(folder.path()).unwrap();
        let path = folder.path().join("ab").join("shared");
        let (_, flushes_before) = group.write(&path, b"shared", false).unwrap();
        group.wait(Vec::new(), None).await.unwrap();
        group.failed.store(true, Ordering::SeqCst);
        assert!(
            group
                .wait(vec![(path.clone(), flushes_before)], None)
                .await
                .is_err()
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"shared");
    }

    #[test]
    fn a_second_write_of_a_name_leaves_the_first_in_place_unless_it_replaces_it() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("ab").join("object");
        assert_eq!(
            write_unflushed(&path, b"first", false).unwrap(),
            Written::Created
        );
        assert_eq!(
            write_unflushed(&path, b"second", false).unwrap(),
            Written::AlreadyThere
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(
            write_unflushed(&path, b"third", true).unwrap(),
            Written::Created
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["object"], "no staging file is left behind");
    }
}
