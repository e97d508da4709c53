//! Singleton work under a lease: a portal's backfill, reconcile sweep and reference refresh, the full scoring pass,
//! the purge of disconnected portals and the retention pass run on one replica at a time. The replica that takes a lease renews it
//! every third of its term; the others try again every second, so when the holder dies another takes over within
//! the term and a second. A holder that cannot renew drops its work before the lease can run out, so two replicas
//! never do it at once. On SQLite the gateway is one process: every lease is held.

mod store;

use std::{
    collections::BTreeSet,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::time::Instant;

/// The default term (`LEASE_SECS`).
pub const DEFAULT_TERM: Duration = Duration::from_secs(15);
/// How often a replica without a lease tries to take it.
const RETRY: Duration = Duration::from_secs(1);

/// The leases of this replica.
#[derive(Clone)]
pub struct Leases {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: one process (SQLite, tests), every lease is held.
    db: Option<DatabaseConnection>,
    holder: String,
    term: Duration,
    held: Mutex<BTreeSet<String>>,
}

impl Leases {
    /// Every lease held: the only process on its database.
    pub fn local() -> Self {
        Self::new(None, DEFAULT_TERM)
    }

    /// Leases shared through `db` on Postgres with a term of `term`; held by this process alone on SQLite.
    pub fn for_database(db: &DatabaseConnection, term: Duration) -> Self {
        let shared = db.get_database_backend() == DbBackend::Postgres;
        Self::new(shared.then(|| db.clone()), term)
    }

    fn new(db: Option<DatabaseConnection>, term: Duration) -> Self {
        let inner = Inner { db, holder: holder_id(), term, held: Mutex::default() };
        Self { inner: Arc::new(inner) }
    }

    /// This replica's name in the `leases` table: hostname, process id and a random part.
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    /// Runs `work` whenever this replica holds `name`, for ever: waits for the lease, runs `work()` while renewing
    /// it, and drops (cancels) the work when the lease is lost or cannot be renewed in time, then waits again. When
    /// `work` ends by itself the lease is given up and this returns.
    pub async fn run<F, W>(&self, name: &str, mut work: W)
    where
        W: FnMut() -> F,
        F: Future<Output = ()>,
    {
        let Some(db) = &self.inner.db else { return work().await };
        loop {
            let taken_at = self.wait_to_take(db, name).await;
            tracing::info!(lease = name, holder = self.holder(), "lease taken; running its work here");
            self.held().insert(name.to_owned());
            tokio::select! {
                () = work() => {
                    self.release(name).await;
                    return;
                }
                () = self.keep_renewed(db, name, taken_at) => {
                    self.held().remove(name);
                    tracing::warn!(lease = name, "lease lost or not renewed in time; its work stopped here");
                }
            }
        }
    }

    /// Gives up every lease this replica holds (a clean stop), so another replica takes over at once.
    pub async fn release_all(&self) {
        let names: Vec<String> = self.held().iter().cloned().collect();
        for name in names {
            self.release(&name).await;
        }
    }

    async fn release(&self, name: &str) {
        self.held().remove(name);
        if let Some(db) = &self.inner.db
            && let Err(err) = store::release(db, name, self.holder()).await
        {
            tracing::warn!(lease = name, error = %err, "releasing a lease failed; it expires by itself");
        }
    }

    /// Waits until this replica takes `name`; when the attempt that took it was sent.
    async fn wait_to_take(&self, db: &DatabaseConnection, name: &str) -> Instant {
        loop {
            let sent = Instant::now();
            match store::take(db, name, self.holder(), self.inner.term).await {
                Ok(true) => return sent,
                Ok(false) => {}
                Err(err) => tracing::warn!(lease = name, error = %err, "taking a lease failed; trying again"),
            }
            tokio::time::sleep(RETRY.min(self.renew_every())).await;
        }
    }

    /// Renews `name` every third of the term; returns when it was lost, or when the last renewal is so old that
    /// the lease could expire before the next attempt ends. Times are when each attempt was sent: the database
    /// dates the lease later than that, so this side always stops first.
    async fn keep_renewed(&self, db: &DatabaseConnection, name: &str, mut renewed_at: Instant) {
        let every = self.renew_every();
        loop {
            tokio::time::sleep(every).await;
            let sent = Instant::now();
            match tokio::time::timeout(every, store::take(db, name, self.holder(), self.inner.term)).await {
                Ok(Ok(true)) => renewed_at = sent,
                Ok(Ok(false)) => return,
                Ok(Err(err)) => tracing::warn!(lease = name, error = %err, "renewing a lease failed"),
                Err(_) => tracing::warn!(lease = name, "renewing a lease timed out"),
            }
            if renewed_at.elapsed() + 2 * every >= self.inner.term {
                return;
            }
        }
    }

    fn renew_every(&self) -> Duration {
        self.inner.term / 3
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.inner.held.lock().expect("held leases")
    }
}

/// `hostname:pid:random`: unique among replicas, and readable in the table and the logs.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}
