//! Transactions that write, as every writer of the mirror opens them (the gateway's and this crate's).

use std::{
    collections::HashMap,
    ops::Deref,
    path::PathBuf,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::OwnedMutexGuard;

/// How long a writer waits for its turn at a SQLite database, as long as SQLite's own busy timeout
/// (`server::db::connect_sized`) would have let it wait for the lock.
const TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// A transaction that will write. On SQLite it takes the write lock at `BEGIN` (a deferred one that reads first is
/// refused at its first write, without waiting, whenever another connection wrote since its read), and first waits
/// its turn behind the process's other writers of that database, in the order they came ([`turn`]). Postgres
/// ignores the mode and takes no turn.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
    let turn = match db.get_database_backend() {
        DbBackend::Sqlite => Some(turn(db).await?),
        _ => None,
    };
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(immediate).await?;
    Ok(WriteTransaction { txn, _turn: turn })
}

/// Waits for this process's turn to write to `db`'s SQLite file. SQLite has one writer at a time, and a writer that
/// finds the lock taken sleeps in its busy handler (up to 100 ms a try) while later writers may take the lock first:
/// under load a webhook delivery waited seconds behind the appliers. A fair queue in front of `BEGIN` lets each in
/// when the one before commits. Keyed by the file, since every pool of the process (one per worker) writes to it; an
/// in-memory database's name is its pool's own. Other processes still meet the busy handler.
async fn turn(db: &DatabaseConnection) -> Result<OwnedMutexGuard<()>, DbErr> {
    static TURNS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Mutex::default);
    let file = db.get_sqlite_connection_pool().connect_options().get_filename().to_owned();
    let queue = TURNS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(file).or_default().clone();
    tokio::time::timeout(TURN_TIMEOUT, queue.lock_owned())
        .await
        .map_err(|_| DbErr::Custom(format!("database is locked: no turn to write within {TURN_TIMEOUT:?}")))
}

/// A write transaction from [`begin_write`]: the transaction, and on SQLite the turn it holds until it ends.
pub struct WriteTransaction {
    // Dropped first: an unfinished transaction starts its rollback before the next writer takes its turn.
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTransaction {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl std::fmt::Debug for WriteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTransaction").finish_non_exhaustive()
    }
}

// async-graphql's re-export of the `async_trait` sea-orm declares the trait with.
#[async_graphql::async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.txn.is_mock_connection()
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement};

    use super::*;

    /// Writers waiting at once get the SQLite write lock in the order they asked for it, each as the one before
    /// commits. Every waiter has a connection of its own: SQLite's busy handler alone would let them in in any order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writers_take_turns_in_the_order_they_came() {
        const WAITERS: usize = 12;
        let file = std::env::temp_dir().join(format!("turns-{}-{}.db", std::process::id(), rand::random::<u64>()));
        let mut options = ConnectOptions::new(format!("sqlite:{}?mode=rwc", file.display()));
        options.max_connections(WAITERS as u32 + 2).sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        db.execute_unprepared("PRAGMA journal_mode = WAL; CREATE TABLE turns (n INTEGER)").await.unwrap();

        let first = begin_write(&db).await.unwrap();
        let mut waiters = Vec::new();
        for n in 0..WAITERS {
            let db = db.clone();
            let (asked, queued) = tokio::sync::oneshot::channel();
            waiters.push(tokio::spawn(async move {
                let mut turn = std::pin::pin!(begin_write(&db));
                // Polled once: it has taken its place in the queue (a turn is not given while `first` is open).
                assert!(futures::poll!(turn.as_mut()).is_pending());
                asked.send(()).unwrap();
                let txn = turn.await.unwrap();
                let insert =
                    Statement::from_string(db.get_database_backend(), format!("INSERT INTO turns VALUES ({n})"));
                txn.execute_raw(insert).await.unwrap();
                txn.commit().await.unwrap();
            }));
            queued.await.unwrap();
        }
        first.commit().await.unwrap();
        for waiter in waiters {
            waiter.await.unwrap();
        }
        let rows =
            db.query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT n FROM turns ORDER BY rowid"));
        let order: Vec<i64> = rows.await.unwrap().iter().map(|r| r.try_get::<i64>("", "n").unwrap()).collect();
        assert_eq!(order, (0..WAITERS as i64).collect::<Vec<_>>());
        drop(db);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}
