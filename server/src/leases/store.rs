//! The `leases` table on Postgres: taking or renewing a lease is one atomic upsert, judged by the database's clock
//! so replicas' clocks need not agree.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// Takes `name` for `holder` (or renews it when `holder` has it) for `term`; whether `holder` now has it. A row
/// another replica holds and has not let expire is left alone.
pub async fn take(db: &DatabaseConnection, name: &str, holder: &str, term: Duration) -> Result<bool, DbErr> {
    let sql = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) \
               ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
               WHERE leases.holder = excluded.holder OR leases.expires_at <= now() \
               RETURNING holder";
    let values = [name.into(), holder.into(), term.as_secs_f64().into()];
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
    Ok(row.is_some())
}

/// Gives `name` up if `holder` has it, so another replica may take it at once.
pub async fn release(db: &DatabaseConnection, name: &str, holder: &str) -> Result<(), DbErr> {
    let sql = "DELETE FROM leases WHERE name = $1 AND holder = $2";
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [name.into(), holder.into()])).await?;
    Ok(())
}
