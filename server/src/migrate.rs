//! Running the migrations, one replica at a time. Replicas started together would otherwise all find the same
//! migrations pending and race to create the same tables (one fails with "already exists", or worse, half-applies).
//! On Postgres a session advisory lock serialises them: the first applies what is pending, the others wait, then
//! find nothing left to do. SQLite is a file one gateway process owns, so it needs no lock.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};

use crate::db;

/// The advisory lock's key: "hsgwmigr" in ASCII, a number no other lock of ours uses.
const LOCK_KEY: i64 = 0x6873_6777_6d69_6772;

/// Applies every pending migration to `db` (opened from `url`), under the lock on Postgres.
pub async fn run(url: &str, db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    // A session lock belongs to the connection that took it: a pool of one keeps the lock, the migrations and the
    // unlock on that one connection.
    let locked = db::connect_sized(url, 1, db::Serves::Background).await?;
    locked.execute_unprepared(&format!("SELECT pg_advisory_lock({LOCK_KEY})")).await?;
    let migrated = Migrator::up(&locked, None).await;
    // Closing the connection would free the lock too; unlocking first lets a waiter go on at once.
    let unlocked = locked.execute_unprepared(&format!("SELECT pg_advisory_unlock({LOCK_KEY})")).await;
    let _ = locked.close().await;
    migrated?;
    unlocked.map(|_| ())
}
