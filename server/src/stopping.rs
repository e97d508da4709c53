//! Stopping cleanly. SIGTERM or SIGINT cancels one token that every background loop and socket watches; each stops
//! where stopping loses nothing (the webhook applier between passes, the rest anywhere, their transaction rolled
//! back and their saved place kept). Every task is tracked, so the stop waits for them and, when the grace runs out,
//! names the ones still running.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::task::JoinHandle;
use tokio_util::{
    sync::CancellationToken,
    task::{TaskTracker, task_tracker::TaskTrackerToken},
};

/// A stop and the work that must end before it is done; cheap to clone.
#[derive(Clone, Default)]
pub struct Stopping {
    token: CancellationToken,
    tasks: TaskTracker,
    running: Arc<Mutex<BTreeMap<u64, &'static str>>>,
    next: Arc<AtomicU64>,
}

impl Stopping {
    /// A stop of its own, begun by this one too: its work is waited for apart (the HTTP side's sockets).
    pub fn child(&self) -> Self {
        Self { token: self.token.child_token(), ..Self::default() }
    }

    /// The token a loop that stops itself watches.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Begins the stop.
    pub fn stop(&self) {
        self.token.cancel();
    }

    pub fn is_stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes once the stop has begun.
    pub async fn stopped(&self) {
        self.token.cancelled().await;
    }

    /// Runs `task`, tracked under `name`; it watches [`Stopping::stopped`] itself, to stop at a point of its choosing.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let running = self.enter(name);
        self.tasks.spawn(async move {
            task.await;
            drop(running);
        })
    }

    /// Runs `task`, tracked under `name`, and drops it where it stands once the stop begins: for work any stop
    /// leaves consistent (its transaction rolls back, the next run starts from what the last one saved).
    pub fn spawn_until_stopped<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        self.spawn(name, async move {
            tokio::select! {
                () = task => {}
                () = token.cancelled() => {}
            }
        })
    }

    /// Counts work that runs elsewhere (a socket's session, spawned by axum) as running until the guard drops.
    pub fn enter(&self, name: &'static str) -> Running {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.running).insert(id, name);
        Running { id, running: Arc::clone(&self.running), _tracked: self.tasks.token() }
    }

    /// Waits until every task and guard has ended; nothing may be added after.
    pub async fn finished(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// What is still running: each name with how many.
    pub fn still_running(&self) -> BTreeMap<&'static str, usize> {
        let mut names = BTreeMap::new();
        for name in lock(&self.running).values() {
            *names.entry(*name).or_default() += 1;
        }
        names
    }
}

/// Work counted as running until dropped.
pub struct Running {
    id: u64,
    running: Arc<Mutex<BTreeMap<u64, &'static str>>>,
    _tracked: TaskTrackerToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.id);
    }
}

/// The map even if a panic poisoned it: it only holds names.
type Names = BTreeMap<u64, &'static str>;

fn lock(running: &Mutex<Names>) -> std::sync::MutexGuard<'_, Names> {
    running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Completes at SIGTERM (what orchestrators send) or SIGINT (Ctrl-C), with the signal's name. The handlers are
/// installed when this is called, so call it before serving: from then on neither signal kills the process outright.
pub fn signals() -> std::io::Result<impl Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_ends_the_tasks_that_watch_it_and_names_those_that_do_not() {
        let stopping = Stopping::default();
        let sockets = stopping.child();
        let cut = stopping.spawn_until_stopped("cut anywhere", std::future::pending());
        let watching = stopping.clone();
        stopping.spawn("stops itself", async move { watching.stopped().await });
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        stopping.spawn("ignores the stop", async move { released.await.unwrap_or_default() });
        let socket = sockets.enter("socket");
        assert_eq!(stopping.still_running().len(), 3);

        stopping.stop();
        assert!(sockets.is_stopping(), "a child hears its parent's stop");
        cut.await.unwrap();
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), stopping.finished()).await.is_err());
        assert_eq!(stopping.still_running(), BTreeMap::from([("ignores the stop", 1)]));
        release.send(()).unwrap();
        stopping.finished().await;
        assert!(stopping.still_running().is_empty());

        assert_eq!(sockets.still_running(), BTreeMap::from([("socket", 1)]));
        drop(socket);
        sockets.finished().await;
    }
}
