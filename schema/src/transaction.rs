//! Transactions that write, as every writer of the mirror opens them (the gateway's and this crate's).

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// A transaction that will write. On SQLite it takes the write lock at `BEGIN` (waiting its turn by the busy
/// timeout): a deferred one that reads first is refused at its first write, without waiting, whenever another
/// connection wrote since its read. Postgres ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(immediate).await
}
