//! Postgres only: a record's write rewrites in `property_values` only the properties whose value changed. A webhook
//! changes one or two properties of a record, and rewriting all its values (a definition lookup and a number parse
//! for each of its 30-odd properties, then every custom value deleted and inserted again) was a tenth of Postgres's
//! time while the appliers worked off a backlog (BENCHMARKS.md). Inserts, deletions and truncation are as before,
//! and SQLite's record triggers are unchanged.
//!
//! On both backends, a definition of HubSpot's own property that goes (HubSpot no longer lists it) makes the property
//! one the portal has no definition of, which the index holds: its values are indexed then, instead of at each
//! record's next write (which, rewriting only what changed, may never come).

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::m20261208_000017_property_values::{
    postgres_of_definition, postgres_sync, postgres_sync_with, postgres_values, sqlite_of_definition,
};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_000020_property_values_changes"
    }
}

/// The trigger function: on an update of a record (its key unchanged), the names whose value differs between the
/// old and the new JSON (added, removed or changed) are the only ones deleted and inserted again.
fn incremental() -> String {
    let on_update = format!(
        "IF TG_OP = 'UPDATE' AND OLD.portal_id = NEW.portal_id AND OLD.object_type = NEW.object_type
            AND OLD.hubspot_id = NEW.hubspot_id THEN
           SELECT coalesce(array_agg(DISTINCT coalesce(o.key, n.key)), '{{}}') INTO changed
             FROM json_each_text(OLD.properties::json) o
             FULL JOIN json_each_text(NEW.properties::json) n ON o.key = n.key
             WHERE o.value IS DISTINCT FROM n.value;
           IF cardinality(changed) > 0 THEN
             DELETE FROM property_values WHERE portal_id = OLD.portal_id AND object_type = OLD.object_type
               AND hubspot_id = OLD.hubspot_id AND name = ANY(changed);
             {changed}
           END IF;
           RETURN NULL;
         END IF;",
        changed = postgres_values("NEW", "json_each_text(NEW.properties::json)", "AND j.key = ANY(changed)"),
    );
    postgres_sync_with("DECLARE changed text[];", &on_update)
}

/// Postgres: the values of a dropped definition of HubSpot's own property, indexed.
fn postgres_definition_gone() -> String {
    format!(
        "CREATE FUNCTION property_values_definition_gone() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           {of_definition}
           RETURN NULL;
         END $$;
         CREATE TRIGGER property_values_definition_delete AFTER DELETE ON property_definitions
           FOR EACH ROW WHEN (OLD.hubspot_defined) EXECUTE FUNCTION property_values_definition_gone();",
        of_definition = postgres_of_definition("OLD"),
    )
}

/// SQLite: the same.
fn sqlite_definition_gone() -> String {
    format!(
        "CREATE TRIGGER property_values_definition_delete AFTER DELETE ON property_definitions
           WHEN old.hubspot_defined BEGIN {of_definition} END;",
        of_definition = sqlite_of_definition("old", ""),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::Postgres => format!("{}\n{}", incremental(), postgres_definition_gone()),
            _ => sqlite_definition_gone(),
        };
        manager.get_connection().execute_unprepared(&sql).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                format!("DROP FUNCTION property_values_definition_gone() CASCADE;\n{}", postgres_sync())
            }
            _ => "DROP TRIGGER property_values_definition_delete;".to_owned(),
        };
        manager.get_connection().execute_unprepared(&sql).await.map(drop)
    }
}
