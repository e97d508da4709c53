//! Postgres only: the planner samples `search_text` of each search table (`{table}_search`) ten times as widely.
//! It has no statistics for a substring, so it estimates `LIKE '%word%'` by trying the pattern on the column's
//! histogram; at the default 101 values a word in 1.6% of a million contacts matched none, the estimate fell to 100
//! rows, and a page of a search joined all 15,954 matches to `contacts` before taking its first 21 (400 ms). At
//! 1,001 values the estimate is within a few percent, and the page walks the search table in id order (1 ms;
//! BENCHMARKS.md). The statistics take effect at the table's next `ANALYZE`, which the migration runs.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000019_search_statistics"
    }
}

const TABLES: [&str; 4] = ["contacts", "companies", "deals", "tickets"];

/// Histogram values sampled for `search_text` (Postgres's default is 100).
const SEARCH_TEXT_STATISTICS: i32 = 1000;

async fn set_statistics(manager: &SchemaManager<'_>, target: i32) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for t in TABLES {
        let sql =
            format!("ALTER TABLE {t}_search ALTER COLUMN search_text SET STATISTICS {target}; ANALYZE {t}_search");
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_statistics(manager, SEARCH_TEXT_STATISTICS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // -1: the server's default again.
        set_statistics(manager, -1).await
    }
}
