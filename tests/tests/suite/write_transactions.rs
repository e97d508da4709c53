//! Write transactions that read first still get to write on SQLite while other connections write beside them: the
//! rescoring, the applier and the mutations all read, then write, in one transaction.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use tests::{Backend, TestDb};

fn insert(id: i64) -> Statement {
    let sql = format!("INSERT INTO portals (portal_id, name, created_at) VALUES ({id}, 'p', '2026-01-01T00:00:00Z')");
    Statement::from_string(DbBackend::Sqlite, sql)
}

fn count() -> Statement {
    Statement::from_string(DbBackend::Sqlite, "SELECT COUNT(*) FROM portals")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_transaction_that_read_first_is_not_refused_its_write() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    db.db.execute_raw(insert(1)).await.unwrap();

    let txn = server::db::begin_write(&db.db).await.unwrap();
    txn.query_one_raw(count()).await.unwrap();
    // Another connection writes meanwhile: it waits for the transaction instead of invalidating its read.
    let other = db.db.clone();
    let beside = tokio::spawn(async move { other.execute_raw(insert(2)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    txn.execute_raw(insert(3)).await.expect("the write after the read goes through");
    txn.commit().await.unwrap();
    beside.await.unwrap().expect("the other write went through after the transaction");

    // A plain deferred transaction is refused in the same spot: what `begin_write` is for.
    let txn = db.db.begin().await.unwrap();
    txn.query_one_raw(count()).await.unwrap();
    db.db.execute_raw(insert(4)).await.unwrap();
    assert!(txn.execute_raw(insert(5)).await.is_err(), "SQLite refuses a deferred reader's write after another commit");
}
