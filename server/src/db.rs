//! Opening the mirror database: SQLite tuned for concurrent readers and one writer, or a Postgres pool.

use std::{path::Path, sync::Arc, time::Duration};

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

// Defined beside the schema, whose admin mutations write the webhook log too.
pub use schema::{WriteTransaction, begin_write};

/// `DB_ACQUIRE_TIMEOUT_SECS`, set once at start: every pool the process opens (one per worker, the CLI's) waits
/// this long for a connection. Short, so an outage answers 503 at once instead of holding requests.
static ACQUIRE_TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// The default wait for a pooled connection.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Sets the wait for a pooled connection of pools opened from now on (the first call wins).
pub fn set_acquire_timeout(timeout: Duration) {
    let _ = ACQUIRE_TIMEOUT.set(timeout);
}

/// The connections a one-off command (`migrate`, `sync`, `keys`) opens at most.
pub fn pool_size(url: &str) -> u32 {
    if url.starts_with("sqlite:") { 8 } else { 16 }
}

/// The connections a serving process opens at most, all its pools together, unless `DATABASE_MAX_CONNECTIONS` says
/// otherwise: Postgres refuses clients past its `max_connections` (100 by default), shared by every replica, so
/// three replicas fit with room for `psql` and migrations. SQLite's readers are bound by the cores, not by waits,
/// and each connection is a thread with a heap, page cache and statements of its own: 8 (or the least the workers
/// need) served the benchmark's queries as fast as 16, with 30 MiB less at the peak (BENCHMARKS.md).
pub fn default_max_connections(url: &str) -> u32 {
    if url.starts_with("sqlite:") { 8 } else { 32 }
}

/// How a serving process shares its connection budget out: a third to the main pool (webhook appliers, sync,
/// scoring, writes through HubSpot), the rest evenly to the HTTP workers' own pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub background: u32,
    pub per_worker: u32,
}

impl Budget {
    /// The least the main pool may have: two appliers and a supervisor hold a connection through a pass each.
    const MIN_BACKGROUND: u32 = 4;
    /// The least a worker's pool may have, so one slow request does not stop its worker.
    const MIN_PER_WORKER: u32 = 2;

    /// `total` connections shared by the main pool and `workers` pools; an error when they would not fit.
    pub fn split(total: u32, workers: usize) -> Result<Self, String> {
        let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
        let background = (total / 3).max(Self::MIN_BACKGROUND);
        let per_worker = total.saturating_sub(background) / workers;
        if per_worker < Self::MIN_PER_WORKER {
            let least = Self::least(workers as usize);
            return Err(format!(
                "DATABASE_MAX_CONNECTIONS {total} is too small for {workers} WORKERS: at least {least} (4 for background work, 2 a worker)"
            ));
        }
        Ok(Self { background, per_worker })
    }

    /// The smallest budget `workers` fit in.
    pub fn least(workers: usize) -> u32 {
        Self::MIN_BACKGROUND + Self::MIN_PER_WORKER * u32::try_from(workers.max(1)).unwrap_or(u32::MAX / 4)
    }

    /// Connections opened at most, all pools together.
    pub fn total(&self, workers: usize) -> u32 {
        self.background + self.per_worker * workers as u32
    }
}

/// What a pool's connections run, which decides how many prepared statements each SQLite connection keeps (sqlx
/// keeps 100). A statement binds each value of a list, so a list of another length is another statement, and each
/// kept one stays in SQLite's heap (BENCHMARKS.md: 16 connections keeping 100 held about 30 MiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serves {
    /// Requests: a few shapes of statement over and over, each worth keeping.
    Requests,
    /// Background work (appliers, scoring passes, sweeps): writes of hundreds of rows and lists of hundreds of ids,
    /// most of a MiB each once prepared and seldom run again at the same length.
    Background,
}

impl Serves {
    /// Prepared statements each SQLite connection of such a pool keeps. Six for background work: keeping twenty
    /// there held 35-50 MiB of the gateway's peak after its first scoring pass, and two slowed the webhook appliers,
    /// which run a few statements over and over (BENCHMARKS.md).
    fn sqlite_statements(self) -> usize {
        match self {
            Self::Requests => 20,
            Self::Background => 6,
        }
    }
}

/// SQLite's page cache per connection, in KiB: SQLite's default, said here as the bound it is. A quarter of it
/// (512) saved 30 MiB over sixteen connections but slowed text search by a third (BENCHMARKS.md).
const SQLITE_CACHE_KIB: u32 = 2_000;

/// SQLite's own heap in this process, all its connections together, in bytes: now and at its highest since start
/// (`sqlite3_status64`). Zero on a Postgres gateway.
pub fn sqlite_heap() -> (i64, i64) {
    let (mut now, mut highest) = (0, 0);
    // SAFETY: both pointers are to live locals; SQLite only writes the two counters.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_status64(libsqlite3_sys::SQLITE_STATUS_MEMORY_USED, &mut now, &mut highest, 0)
    };
    if rc == libsqlite3_sys::SQLITE_OK { (now, highest) } else { (0, 0) }
}

/// Connects with a pool of `pool_size` connections at most.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_sized(url, pool_size(url), Serves::Requests).await
}

/// Connects with a pool of `max` connections at most, for what `serves` says.
pub async fn connect_sized(url: &str, max: u32, serves: Serves) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(url) {
        // SQLite creates the file but not its folder (`./data` on a fresh clone).
        if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT.get().copied().unwrap_or(DEFAULT_ACQUIRE_TIMEOUT))
        // A ping before every statement would double the round trips of a query; a connection idle for a while is
        // still checked, and a broken one surfaces as an error on its statement.
        .test_before_acquire(false)
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .max_connections(max)
        .map_sqlx_sqlite_opts(move |o| {
            // WAL lets readers run beside the writer; the busy timeout queues writers instead of failing them.
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .statement_cache_capacity(serves.sqlite_statements())
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
        });
    Database::connect(options).await
}

/// Connects and runs every pending migration (one replica at a time: see `migrate`).
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_and_migrate_sized(url, pool_size(url), Serves::Requests).await
}

/// Connects with a pool of `max` connections at most, for what `serves` says, and runs every pending migration.
pub async fn connect_and_migrate_sized(url: &str, max: u32, serves: Serves) -> Result<DatabaseConnection, DbErr> {
    let db = connect_sized(url, max, serves).await?;
    crate::migrate::run(url, &db).await?;
    Ok(db)
}

/// Counts every statement the connection runs (for `/metrics` and the tests that bound statements per query);
/// `RUST_LOG=sql=trace` logs each one. With traces on, each is also a span of the request (or other span) it ran in:
/// sea-orm reports a statement once it has run, so the span is made then and carries its duration as `elapsed_us`.
pub fn count_statements(db: &mut DatabaseConnection, counter: Arc<std::sync::atomic::AtomicU64>) {
    db.set_metric_callback(move |info| {
        let elapsed_us = info.elapsed.as_micros() as u64;
        // Only with traces on (a check of the callsite's cached interest), and within a request's (or another) span:
        // a background poll's statements alone would each be a trace.
        if tracing::enabled!(target: "otel::sql", tracing::Level::INFO) && !tracing::Span::current().is_none() {
            let sql = &info.statement.sql;
            drop(
                tracing::info_span!(target: "otel::sql", "sql", db.statement = %sql, elapsed_us, failed = info.failed),
            );
        }
        tracing::trace!(target: "sql", elapsed_us, sql = %info.statement.sql);
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
}

/// An in-memory SQLite database, which exists once per connection pool.
pub fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && sqlite_path(url).is_none()
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnectionTrait;

    #[test]
    fn a_budget_gives_a_third_to_background_work_and_the_rest_to_the_workers() {
        assert_eq!(Budget::split(32, 2), Ok(Budget { background: 10, per_worker: 11 }));
        assert_eq!(Budget::split(16, 2).map(|b| b.total(2)), Ok(15));
        assert_eq!(Budget::split(8, 2), Ok(Budget { background: 4, per_worker: 2 }));
        assert!(Budget::split(7, 2).unwrap_err().contains("at least 8"));
        assert!(Budget::split(32, 16).unwrap_err().contains("DATABASE_MAX_CONNECTIONS"));
    }

    #[tokio::test]
    async fn a_background_connection_keeps_six_prepared_statements_a_request_one_twenty() {
        for (serves, kept) in [(Serves::Background, 6), (Serves::Requests, 20)] {
            let dir = std::env::temp_dir().join(format!("gateway-db-statements-{}-{serves:?}", std::process::id()));
            let url = format!("sqlite://{}/mirror.db?mode=rwc", dir.display());
            let db = connect_sized(&url, 1, serves).await.unwrap();
            // 25 statements, each binding another number of values.
            for n in 1..=25_i64 {
                let sql = format!("SELECT {}", vec!["?"; n as usize].join(", "));
                let values: Vec<sea_orm::Value> = (0..n).map(Into::into).collect();
                let statement = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), sql, values);
                db.query_one_raw(statement).await.unwrap();
            }
            let mut connection = db.get_sqlite_connection_pool().acquire().await.unwrap();
            let mut handle = connection.lock_handle().await.unwrap();
            let raw = handle.as_raw_handle().as_ptr();
            let mut prepared = 0_usize;
            // SAFETY: walks the statements of a connection this test holds locked; none is used.
            let mut statement = unsafe { libsqlite3_sys::sqlite3_next_stmt(raw, std::ptr::null_mut()) };
            while !statement.is_null() {
                // The connection's set-up pragmas stay prepared too; the statements above are those binding values.
                prepared += usize::from(unsafe { libsqlite3_sys::sqlite3_bind_parameter_count(statement) } > 0);
                statement = unsafe { libsqlite3_sys::sqlite3_next_stmt(raw, statement) };
            }
            assert_eq!(prepared, kept, "{serves:?}");
            drop(handle);
            drop(connection);
            db.close().await.unwrap();
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[tokio::test]
    async fn sqlite_connections_keep_the_page_cache_they_are_given() {
        let dir = std::env::temp_dir().join(format!("gateway-db-cache-{}", std::process::id()));
        let url = format!("sqlite://{}/mirror.db?mode=rwc", dir.display());
        let db = connect_sized(&url, 2, Serves::Requests).await.unwrap();
        let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "PRAGMA cache_size"));
        let size: i64 = row.await.unwrap().unwrap().try_get_by_index(0).unwrap();
        assert_eq!(size, -i64::from(SQLITE_CACHE_KIB));
        db.close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
