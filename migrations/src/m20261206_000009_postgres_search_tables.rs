//! Postgres only: each CRM table's trigram index moves to a table of its own, `{table}_search`, which holds the
//! `search_text` of the table's live (unarchived) records and is kept in step by triggers, as SQLite's FTS5 tables
//! are. A changed row is a new row version, and a new version gets an entry in every index of its table: on the CRM
//! table that meant all of `search_text`'s trigrams again for every property change, a quarter of a contact's write.
//! Most changes (a job title, a stage, a score) leave `search_text` as it was, and the search table is then not
//! written at all. Holding only live records, it also counts a search's matches on its own.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000009_postgres_search_tables"
    }
}

const TABLES: [&str; 4] = ["contacts", "companies", "deals", "tickets"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for t in TABLES {
            db.execute_unprepared(&format!(
                "CREATE TABLE {t}_search (portal_id bigint NOT NULL, hubspot_id bigint NOT NULL, \
                   search_text text NOT NULL, PRIMARY KEY (portal_id, hubspot_id));
                 INSERT INTO {t}_search SELECT portal_id, hubspot_id, search_text FROM {t} WHERE archived_at IS NULL;
                 DROP INDEX ix_{t}_search;
                 CREATE INDEX ix_{t}_search_text ON {t}_search USING gin (search_text gin_trgm_ops);
                 CREATE FUNCTION {t}_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF TG_OP = 'TRUNCATE' THEN
                     TRUNCATE {t}_search;
                   ELSIF TG_OP = 'DELETE' THEN
                     DELETE FROM {t}_search WHERE portal_id = OLD.portal_id AND hubspot_id = OLD.hubspot_id;
                   ELSIF NEW.archived_at IS NOT NULL THEN
                     DELETE FROM {t}_search WHERE portal_id = NEW.portal_id AND hubspot_id = NEW.hubspot_id;
                   ELSE
                     INSERT INTO {t}_search VALUES (NEW.portal_id, NEW.hubspot_id, NEW.search_text)
                       ON CONFLICT (portal_id, hubspot_id) DO UPDATE SET search_text = EXCLUDED.search_text;
                   END IF;
                   RETURN NULL;
                 END $$;
                 CREATE TRIGGER {t}_search_write AFTER INSERT OR DELETE ON {t}
                   FOR EACH ROW EXECUTE FUNCTION {t}_search_sync();
                 CREATE TRIGGER {t}_search_change AFTER UPDATE ON {t}
                   FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text
                     OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL))
                   EXECUTE FUNCTION {t}_search_sync();
                 CREATE TRIGGER {t}_search_truncate AFTER TRUNCATE ON {t}
                   FOR EACH STATEMENT EXECUTE FUNCTION {t}_search_sync();"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for t in TABLES {
            // The index as `m20261122_000001_mirror` made it.
            db.execute_unprepared(&format!(
                "DROP TABLE {t}_search;
                 DROP FUNCTION {t}_search_sync() CASCADE;
                 CREATE INDEX ix_{t}_search ON {t} USING gin (search_text gin_trgm_ops);"
            ))
            .await?;
        }
        Ok(())
    }
}
