//! SQLite only: an FTS5 trigram index over each CRM table's `search_text`, kept in step by triggers, so `search`
//! is an index lookup as it is on Postgres (trigram GIN indexes, in the first migration).

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000003_sqlite_search"
    }
}

const TABLES: [&str; 4] = ["contacts", "companies", "deals", "tickets"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        for t in TABLES {
            db.execute_unprepared(&format!(
                "CREATE VIRTUAL TABLE {t}_search USING fts5(search_text, content='{t}', content_rowid='rowid', \
                 tokenize='trigram');
                 CREATE TRIGGER {t}_search_insert AFTER INSERT ON {t} BEGIN
                   INSERT INTO {t}_search(rowid, search_text) VALUES (new.rowid, new.search_text);
                 END;
                 CREATE TRIGGER {t}_search_delete AFTER DELETE ON {t} BEGIN
                   INSERT INTO {t}_search({t}_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
                 END;
                 CREATE TRIGGER {t}_search_update AFTER UPDATE OF search_text ON {t} BEGIN
                   INSERT INTO {t}_search({t}_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
                   INSERT INTO {t}_search(rowid, search_text) VALUES (new.rowid, new.search_text);
                 END;
                 INSERT INTO {t}_search({t}_search) VALUES ('rebuild');"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let db = manager.get_connection();
        for t in TABLES {
            db.execute_unprepared(&format!(
                "DROP TRIGGER IF EXISTS {t}_search_insert; DROP TRIGGER IF EXISTS {t}_search_delete;
                 DROP TRIGGER IF EXISTS {t}_search_update; DROP TABLE IF EXISTS {t}_search;"
            ))
            .await?;
        }
        Ok(())
    }
}
