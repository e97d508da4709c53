//! Opening the mirror database: SQLite tuned for concurrent readers and one writer, or a Postgres pool.

use std::{path::Path, sync::Arc, time::Duration};

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

// Defined beside the schema, whose admin mutations write the webhook log too.
pub use schema::begin_write;

/// The connections a gateway opens at most, per pool kind: Postgres refuses clients past its `max_connections`
/// (100 by default), shared by every replica.
pub fn pool_size(url: &str) -> u32 {
    if url.starts_with("sqlite:") { 8 } else { 16 }
}

/// Connects with a pool of `pool_size` connections at most.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_sized(url, pool_size(url)).await
}

/// Connects with a pool of `max` connections at most.
pub async fn connect_sized(url: &str, max: u32) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(url) {
        // SQLite creates the file but not its folder (`./data` on a fresh clone).
        if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10))
        // A ping before every statement would double the round trips of a query; a connection idle for a while is
        // still checked, and a broken one surfaces as an error on its statement.
        .test_before_acquire(false)
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .max_connections(max)
        .map_sqlx_sqlite_opts(|o| {
            // WAL lets readers run beside the writer; the busy timeout queues writers instead of failing them.
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
        });
    Database::connect(options).await
}

/// Connects and runs every pending migration.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Counts every statement the connection runs (for `/metrics` and the tests that bound statements per query);
/// `RUST_LOG=sql=trace` logs each one.
pub fn count_statements(db: &mut DatabaseConnection, counter: Arc<std::sync::atomic::AtomicU64>) {
    db.set_metric_callback(move |info| {
        tracing::trace!(target: "sql", elapsed_us = info.elapsed.as_micros() as u64, sql = %info.statement.sql);
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
