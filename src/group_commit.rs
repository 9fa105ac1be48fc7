//! Group commit: callers that each need the same costly durable step (a filesystem flush, a
//! catalog commit) share it. Items that arrive while one step runs are all taken by the next,
//! so under load one step serves many callers, and a lone caller waits for one step only.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::oneshot;

/// The step run over a group of items: all of them are durable when it returns `Ok`.
type Step<T, E> = dyn Fn(Vec<T>) -> BoxFuture<'static, Result<(), E>> + Send + Sync;

/// A step that stopped before answering (a bug: it panicked).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the group commit stopped before answering")]
pub struct Interrupted;

pub struct GroupCommit<T, E> {
    pending: Mutex<Pending<T, E>>,
    step: Box<Step<T, E>>,
}

struct Pending<T, E> {
    items: Vec<(T, oneshot::Sender<Result<(), E>>)>,
    /// Whether a task is running steps.
    running: bool,
    /// Steps finished so far.
    steps: u64,
}

impl<T, E> GroupCommit<T, E>
where
    T: Send + 'static,
    E: Clone + From<Interrupted> + Send + 'static,
{
    pub fn new(
        step: impl Fn(Vec<T>) -> BoxFuture<'static, Result<(), E>> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            pending: Mutex::new(Pending {
                items: Vec::new(),
                running: false,
                steps: 0,
            }),
            step: Box::new(step),
        })
    }

    /// Returns once a step that started after this call has run over `item`.
    pub async fn submit(self: &Arc<Self>, item: T) -> Result<(), E> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut pending = self.lock();
            pending.items.push((item, answer));
            !std::mem::replace(&mut pending.running, true)
        };
        if start {
            let group = Arc::clone(self);
            tokio::spawn(async move { group.run_while_pending().await });
        }
        answered.await.unwrap_or_else(|_| Err(Interrupted.into()))
    }

    /// Steps finished so far.
    pub fn steps(&self) -> u64 {
        self.lock().steps
    }

    async fn run_while_pending(self: Arc<Self>) {
        // If a step panics, or the task is dropped mid-step (its runtime shutting down), the
        // next caller starts a new task instead of waiting forever.
        let mut stopped = Stopped {
            group: &self,
            normally: false,
        };
        loop {
            let items = {
                let mut pending = self.lock();
                if pending.items.is_empty() {
                    pending.running = false;
                    stopped.normally = true;
                    return;
                }
                std::mem::take(&mut pending.items)
            };
            let (items, answers): (Vec<_>, Vec<_>) = items.into_iter().unzip();
            let result = (self.step)(items).await;
            self.lock().steps += 1;
            for answer in answers {
                let _ = answer.send(result.clone());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending<T, E>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Marks the task stopped when it ends other than by finding nothing left to do.
struct Stopped<'a, T, E> {
    group: &'a GroupCommit<T, E>,
    normally: bool,
}

impl<T, E> Drop for Stopped<'_, T, E> {
    fn drop(&mut self) {
        if self.normally {
            return;
        }
        let mut pending = self
            .group
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.running = false;
        // Items taken by a step that panicked have dropped their answers already; items still
        // queued are answered `Interrupted` as their senders drop here.
        pending.items.clear();
    }
}

impl From<Interrupted> for Arc<str> {
    fn from(error: Interrupted) -> Self {
        error.to_string().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    /// The groups each step took, in order.
    type Groups = Arc<Mutex<Vec<Vec<u32>>>>;

    fn recording() -> (Arc<GroupCommit<u32, Arc<str>>>, Groups) {
        let groups = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&groups);
        let commit = GroupCommit::new(move |items: Vec<u32>| {
            let seen = Arc::clone(&seen);
            async move {
                if items.contains(&13) {
                    return Err(Arc::from("thirteen"));
                }
                seen.lock().unwrap().push(items);
                Ok(())
            }
            .boxed()
        });
        (commit, groups)
    }

    #[tokio::test]
    async fn callers_that_arrive_together_share_one_step_and_later_ones_get_their_own() {
        let (commit, groups) = recording();
        // On this single-threaded runtime every caller queues its item before the task first
        // runs, so one step takes all ten.
        let results = futures::future::join_all((0..10).map(|n| commit.submit(n))).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(*groups.lock().unwrap(), vec![(0..10).collect::<Vec<_>>()]);
        commit.submit(10).await.unwrap();
        assert_eq!(groups.lock().unwrap().last().unwrap(), &vec![10]);
        assert_eq!(commit.steps(), 2);
    }

    #[tokio::test]
    async fn a_failed_step_fails_every_caller_it_took_and_the_next_step_runs() {
        let (commit, groups) = recording();
        let results = futures::future::join_all([12, 13, 14].map(|n| commit.submit(n))).await;
        for result in results {
            assert_eq!(result.unwrap_err().as_ref(), "thirteen");
        }
        commit.submit(15).await.unwrap();
        assert_eq!(*groups.lock().unwrap(), vec![vec![15]]);
    }

    #[tokio::test]
    async fn a_step_that_panics_answers_interrupted_and_does_not_block_the_next_caller() {
        let commit: Arc<GroupCommit<u32, Arc<str>>> = GroupCommit::new(|items: Vec<u32>| {
            async move {
                assert!(!items.contains(&1), "a step's bug");
                Ok(())
            }
            .boxed()
        });
        let error = commit.submit(1).await.unwrap_err();
        assert_eq!(error.as_ref(), Interrupted.to_string());
        commit.submit(2).await.unwrap();
    }

    #[test]
    fn a_task_dropped_mid_step_does_not_block_the_next_caller() {
        let commit: Arc<GroupCommit<u32, Arc<str>>> = GroupCommit::new(|items: Vec<u32>| {
            async move {
                if items.contains(&0) {
                    futures::future::pending::<()>().await;
                }
                Ok(())
            }
            .boxed()
        });
        let first = tokio::runtime::Runtime::new().unwrap();
        let stuck = Arc::clone(&commit);
        first.spawn(async move { stuck.submit(0).await });
        first.block_on(async {
            while !commit.lock().running {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        });
        // Shutting the runtime down drops the task in the middle of its step.
        drop(first);
        let second = tokio::runtime::Runtime::new().unwrap();
        second.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(5), commit.submit(1))
                .await
                .expect("the next caller is not left waiting")
                .unwrap();
        });
    }
}
