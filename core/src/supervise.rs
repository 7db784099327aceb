//! The long-running tasks of a node's roles, named so their supervisor can tell which role
//! failed.
//!
//! Design decision: a role task ends only after [`Shutdown`](crate::shutdown::Shutdown) fired
//! and its stage drained. Ending earlier — with an error, with `Ok`, or by panicking — means
//! the role stopped doing its job, so the supervisor (the binary's `run`) marks the role
//! failed on `/healthz`, drains the rest and exits non-zero for its own supervisor (systemd,
//! Kubernetes) to restart it. A half-alive process that answers "ok" while its consumer is
//! dead is the failure this prevents.

use std::collections::HashMap;
use std::future::Future;
use tokio::task::{Id, JoinSet};

/// How one task ended.
#[derive(Debug)]
pub struct TaskExit {
    /// The role it belongs to (`edge`, `dispatcher`, …), as `/healthz` names it.
    pub role: &'static str,
    /// What the task does, for the log.
    pub task: &'static str,
    /// `Err` carries the whole error chain (or the panic message).
    pub outcome: Result<(), String>,
}

/// The set of running role tasks.
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<Result<(), String>>,
    names: HashMap<Id, (&'static str, &'static str)>,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns `fut` on the current runtime as a task of `role`.
    pub fn spawn<F>(&mut self, role: &'static str, task: &'static str, fut: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let handle = self
            .set
            .spawn(async move { fut.await.map_err(|e| format!("{e:#}")) });
        self.names.insert(handle.id(), (role, task));
    }

    /// Waits for the next task to end; `None` when none is left.
    pub async fn next(&mut self) -> Option<TaskExit> {
        let (id, outcome) = match self.set.join_next_with_id().await? {
            Ok((id, outcome)) => (id, outcome),
            Err(e) if e.is_panic() => {
                let id = e.id();
                let payload = e.into_panic();
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic".into());
                (id, Err(format!("panicked: {msg}")))
            }
            Err(e) => (e.id(), Err("was cancelled".into())),
        };
        let (role, task) = self.names.remove(&id).unwrap_or(("unknown", "unknown"));
        Some(TaskExit {
            role,
            task,
            outcome,
        })
    }

    /// Waits for `shutdown`, or for a task to end first — a failed role, returned. After a
    /// failure the caller triggers shutdown so the other roles drain.
    pub async fn watch(&mut self, shutdown: &crate::shutdown::Shutdown) -> Option<TaskExit> {
        if self.is_empty() {
            shutdown.wait().await;
            return None;
        }
        // Biased: a task that ended *because* shutdown fired is not a failure, and polling
        // shutdown first sees that (join_next is cancel-safe: nothing is lost).
        let exit = tokio::select! {
            biased;
            _ = shutdown.wait() => return None,
            exit = self.next() => exit?,
        };
        if shutdown.is_triggered() && exit.outcome.is_ok() {
            return None;
        }
        Some(exit)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Cancels every task still running (after a drain deadline).
    pub fn abort_all(&mut self) {
        self.set.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_the_role_of_a_failed_or_panicking_task() {
        let mut tasks = Tasks::new();
        tasks.spawn("dispatcher", "alert consumer", async {
            anyhow::bail!("broker said no")
        });
        let exit = tasks.next().await.unwrap();
        assert_eq!((exit.role, exit.task), ("dispatcher", "alert consumer"));
        assert_eq!(exit.outcome.unwrap_err(), "broker said no");

        tasks.spawn("edge", "bridge", async { panic!("frame was {}", 3) });
        let exit = tasks.next().await.unwrap();
        assert_eq!(exit.role, "edge");
        assert_eq!(exit.outcome.unwrap_err(), "panicked: frame was 3");
        assert!(tasks.next().await.is_none());
    }

    #[tokio::test]
    async fn watch_reports_a_task_that_ends_before_shutdown_even_with_ok() {
        let shutdown = crate::shutdown::Shutdown::new();
        let mut tasks = Tasks::new();
        let s = shutdown.clone();
        tasks.spawn("dispatcher", "desk API server", async move {
            s.wait().await;
            Ok(())
        });
        tasks.spawn("edge", "bridge", async { Ok(()) });
        let exit = tasks
            .watch(&shutdown)
            .await
            .expect("the early end is a failure");
        assert_eq!((exit.role, exit.task), ("edge", "bridge"));
        assert!(
            !shutdown.is_triggered(),
            "watch reports; the caller decides"
        );

        shutdown.trigger();
        assert!(
            tasks.watch(&shutdown).await.is_none(),
            "shutdown is not a failure"
        );
        let exit = tasks.next().await.unwrap();
        assert!(exit.outcome.is_ok());
    }
}
