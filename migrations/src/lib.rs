//! Migrations, named by date. The same ones run on SQLite and Postgres, at start-up and by `server migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_mirror;
mod m20261122_000002_gateway;
mod m20261122_000003_sqlite_search;
mod m20261122_000004_oauth_states;
mod m20261201_000005_idempotency_keys;
mod m20261202_000006_insight_events;
mod m20261203_000007_webhook_claim_order;
mod m20261205_000008_webhook_queue;
mod m20261206_000009_postgres_search_tables;
mod m20261206_000010_api_keys;
mod m20261206_000011_oauth_install_binding;
mod m20261206_000012_audit_log;
mod m20261206_000013_operations;
mod m20261207_000014_property_definitions;
mod m20261207_000015_portal_disconnect;
mod m20261208_000016_custom_objects;
mod m20261208_000017_property_values;
mod m20261208_000018_leases;
mod m20261209_000019_search_statistics;
mod m20261210_000020_property_values_changes;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_mirror::Migration),
            Box::new(m20261122_000002_gateway::Migration),
            Box::new(m20261122_000003_sqlite_search::Migration),
            Box::new(m20261122_000004_oauth_states::Migration),
            Box::new(m20261201_000005_idempotency_keys::Migration),
            Box::new(m20261202_000006_insight_events::Migration),
            Box::new(m20261203_000007_webhook_claim_order::Migration),
            Box::new(m20261205_000008_webhook_queue::Migration),
            Box::new(m20261206_000009_postgres_search_tables::Migration),
            Box::new(m20261206_000010_api_keys::Migration),
            Box::new(m20261206_000011_oauth_install_binding::Migration),
            Box::new(m20261206_000012_audit_log::Migration),
            Box::new(m20261206_000013_operations::Migration),
            Box::new(m20261207_000014_property_definitions::Migration),
            Box::new(m20261207_000015_portal_disconnect::Migration),
            Box::new(m20261208_000016_custom_objects::Migration),
            Box::new(m20261208_000017_property_values::Migration),
            Box::new(m20261208_000018_leases::Migration),
            Box::new(m20261209_000019_search_statistics::Migration),
            Box::new(m20261210_000020_property_values_changes::Migration),
        ]
    }
}
