//! `property_values`: each value of a property the portal defined itself (a custom property, or one with no
//! definition yet), one row per record and property, typed and indexed by name, so a property filter is an index range
//! and a property sort a key lookup instead of parsing every record's JSON (300 ms a page at 100k contacts).
//! HubSpot's own properties stay out of it: most of them are typed columns already, and indexing them too meant 28
//! times as many rows to write (BENCHMARKS.md). Triggers keep it in step with `object_properties` (every write,
//! erasure and purge goes through that table) and with a definition that turns custom, on both backends.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000017_property_values"
    }
}

/// Values longer than this (in characters) have no `text_key`: Postgres refuses a btree entry over 2,704 bytes.
const KEY_CHARS: usize = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => db.execute_unprepared(&postgres_up()).await?,
            _ => db.execute_unprepared(&sqlite_up()).await?,
        };
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                "DROP TABLE property_values;
                 DROP FUNCTION property_values_sync() CASCADE;
                 DROP FUNCTION property_values_definition() CASCADE;
                 DROP FUNCTION property_number(text);"
            }
            _ => {
                "DROP TRIGGER property_values_insert; DROP TRIGGER property_values_update;
                 DROP TRIGGER property_values_delete; DROP TRIGGER property_values_definition_insert;
                 DROP TRIGGER property_values_definition_update; DROP TABLE property_values;"
            }
        };
        manager.get_connection().execute_unprepared(sql).await.map(drop)
    }
}

const COLUMNS: &str = "portal_id, object_type, hubspot_id, name, text_value, text_key, number_value";

/// SQLite: a table without rowid, so its indexes carry the key (`hubspot_id`) and answer a filter alone. Numbers are
/// read as the filters read them before (`CAST`, text that is no number reading as 0).
fn sqlite_up() -> String {
    // The values of the record `{r}` (`new`, or each `object_properties` row) that are not HubSpot's own properties,
    // from the JSON pairs `{json}`.
    let values = |r: &str, json: &str| {
        format!(
            "INSERT INTO property_values ({COLUMNS})
             SELECT {r}.portal_id, {r}.object_type, {r}.hubspot_id, j.key, j.value,
               CASE WHEN length(j.value) <= {KEY_CHARS} THEN j.value END,
               CASE WHEN trim(j.value) <> '' THEN CAST(j.value AS REAL) END
             FROM {json} j
             WHERE j.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM property_definitions d
               WHERE d.portal_id = {r}.portal_id AND d.object_type = {r}.object_type AND d.name = j.key
                 AND d.hubspot_defined)
             ON CONFLICT DO NOTHING;"
        )
    };
    let forget = "DELETE FROM property_values WHERE portal_id = old.portal_id AND object_type = old.object_type
                    AND hubspot_id = old.hubspot_id;";
    // Every record's value of the property `new` defines, when it is a custom one.
    let of_definition = sqlite_of_definition("new", "AND NOT new.hubspot_defined");
    format!(
        "CREATE TABLE property_values (
           portal_id integer NOT NULL, object_type text NOT NULL, hubspot_id integer NOT NULL, name text NOT NULL,
           text_value text NOT NULL, text_key text, number_value real,
           PRIMARY KEY (portal_id, object_type, hubspot_id, name)) WITHOUT ROWID;
         CREATE INDEX ix_property_values_text ON property_values (portal_id, object_type, name, text_key);
         CREATE INDEX ix_property_values_number ON property_values (portal_id, object_type, name, number_value);
         CREATE TRIGGER property_values_insert AFTER INSERT ON object_properties BEGIN {insert} END;
         CREATE TRIGGER property_values_update AFTER UPDATE OF properties ON object_properties
           WHEN old.properties IS NOT new.properties BEGIN {forget} {insert} END;
         CREATE TRIGGER property_values_delete AFTER DELETE ON object_properties BEGIN {forget} END;
         CREATE TRIGGER property_values_definition_insert AFTER INSERT ON property_definitions
           WHEN NOT new.hubspot_defined BEGIN {of_definition} END;
         CREATE TRIGGER property_values_definition_update AFTER UPDATE OF hubspot_defined ON property_definitions
           WHEN old.hubspot_defined IS NOT new.hubspot_defined BEGIN
             DELETE FROM property_values WHERE portal_id = new.portal_id AND object_type = new.object_type
               AND name = new.name;
             {of_definition}
           END;
         {backfill}",
        insert = values("new", "json_each(new.properties)"),
        backfill = values("p", "object_properties p, json_each(p.properties)"),
    )
}

/// SQLite: the statement inserting every record's value of the property the definition `{r}` names, those `{and}`
/// selects besides.
pub(crate) fn sqlite_of_definition(r: &str, and: &str) -> String {
    format!(
        "INSERT INTO property_values ({COLUMNS})
         SELECT portal_id, object_type, hubspot_id, {r}.name, v,
           CASE WHEN length(v) <= {KEY_CHARS} THEN v END, CASE WHEN trim(v) <> '' THEN CAST(v AS REAL) END
         FROM (SELECT portal_id, object_type, hubspot_id, json_extract(properties, '$.\"' || {r}.name || '\"') AS v
               FROM object_properties WHERE portal_id = {r}.portal_id AND object_type = {r}.object_type)
         WHERE v IS NOT NULL {and}
         ON CONFLICT DO NOTHING;"
    )
}

/// Postgres: the same, by functions. A number is the text the filters read as one before (the same pattern); one too
/// large for a double reads as none instead of failing the write.
fn postgres_up() -> String {
    let number_pattern = "'^\\s*-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?\\s*$'";
    format!(
        "CREATE TABLE property_values (
           portal_id bigint NOT NULL, object_type text NOT NULL, hubspot_id bigint NOT NULL, name text NOT NULL,
           text_value text NOT NULL, text_key text, number_value double precision,
           PRIMARY KEY (portal_id, object_type, hubspot_id, name));
         CREATE INDEX ix_property_values_text ON property_values (portal_id, object_type, name, text_key, hubspot_id);
         CREATE INDEX ix_property_values_number
           ON property_values (portal_id, object_type, name, number_value, hubspot_id);
         CREATE FUNCTION property_number(v text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
         BEGIN
           IF v !~ {number_pattern} THEN
             RETURN NULL;
           END IF;
           BEGIN
             RETURN v::double precision;
           EXCEPTION WHEN numeric_value_out_of_range THEN
             RETURN NULL;
           END;
         END $$;
         {sync}
         CREATE TRIGGER property_values_write AFTER INSERT OR DELETE ON object_properties
           FOR EACH ROW EXECUTE FUNCTION property_values_sync();
         CREATE TRIGGER property_values_change AFTER UPDATE ON object_properties
           FOR EACH ROW WHEN (OLD.properties IS DISTINCT FROM NEW.properties) EXECUTE FUNCTION property_values_sync();
         CREATE TRIGGER property_values_truncate AFTER TRUNCATE ON object_properties
           FOR EACH STATEMENT EXECUTE FUNCTION property_values_sync();
         CREATE FUNCTION property_values_definition() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           DELETE FROM property_values WHERE portal_id = NEW.portal_id AND object_type = NEW.object_type
             AND name = NEW.name;
           IF NOT NEW.hubspot_defined THEN
             {of_definition}
           END IF;
           RETURN NULL;
         END $$;
         CREATE TRIGGER property_values_definition_insert AFTER INSERT ON property_definitions
           FOR EACH ROW WHEN (NOT NEW.hubspot_defined) EXECUTE FUNCTION property_values_definition();
         CREATE TRIGGER property_values_definition_change AFTER UPDATE ON property_definitions
           FOR EACH ROW WHEN (OLD.hubspot_defined IS DISTINCT FROM NEW.hubspot_defined)
           EXECUTE FUNCTION property_values_definition();
         {backfill}",
        sync = postgres_sync(),
        of_definition = postgres_of_definition("NEW"),
        backfill = postgres_values("p", "object_properties p, json_each_text(p.properties::json)", ""),
    )
}

/// Postgres: the statement inserting every record's value of the property the definition `{r}` names.
pub(crate) fn postgres_of_definition(r: &str) -> String {
    format!(
        "INSERT INTO property_values ({COLUMNS})
         SELECT portal_id, object_type, hubspot_id, {r}.name, v,
           CASE WHEN length(v) <= {KEY_CHARS} THEN v END, property_number(v)
         FROM (SELECT portal_id, object_type, hubspot_id, properties::json ->> {r}.name AS v FROM object_properties
               WHERE portal_id = {r}.portal_id AND object_type = {r}.object_type) p
         WHERE v IS NOT NULL
         ON CONFLICT DO NOTHING;"
    )
}

/// Postgres: the statement inserting the values of the record `{r}` that are not HubSpot's own properties, from the
/// JSON pairs `{json}` (`j`), those `{and}` selects besides.
pub(crate) fn postgres_values(r: &str, json: &str, and: &str) -> String {
    format!(
        "INSERT INTO property_values ({COLUMNS})
         SELECT {r}.portal_id, {r}.object_type, {r}.hubspot_id, j.key, j.value,
           CASE WHEN length(j.value) <= {KEY_CHARS} THEN j.value END, property_number(j.value)
         FROM {json} j
         WHERE j.value IS NOT NULL {and} AND NOT EXISTS (SELECT 1 FROM property_definitions d
           WHERE d.portal_id = {r}.portal_id AND d.object_type = {r}.object_type AND d.name = j.key
             AND d.hubspot_defined)
         ON CONFLICT DO NOTHING;"
    )
}

/// Postgres: the trigger function as this migration made it, each write of a record rewriting all its values.
pub(crate) fn postgres_sync() -> String {
    postgres_sync_with("", "")
}

/// Postgres: the trigger function with the variables `{declare}`, `{on_update}` run first (it returns when it
/// handled an update).
pub(crate) fn postgres_sync_with(declare: &str, on_update: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION property_values_sync() RETURNS trigger LANGUAGE plpgsql AS $$
         {declare}
         BEGIN
           IF TG_OP = 'TRUNCATE' THEN
             TRUNCATE property_values;
             RETURN NULL;
           END IF;
           {on_update}
           IF TG_OP IN ('UPDATE', 'DELETE') THEN
             DELETE FROM property_values WHERE portal_id = OLD.portal_id AND object_type = OLD.object_type
               AND hubspot_id = OLD.hubspot_id;
           END IF;
           IF TG_OP IN ('INSERT', 'UPDATE') THEN
             {insert}
           END IF;
           RETURN NULL;
         END $$;",
        insert = postgres_values("NEW", "json_each_text(NEW.properties::json)", ""),
    )
}
