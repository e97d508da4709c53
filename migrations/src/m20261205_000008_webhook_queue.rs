//! The appliers' work list moves out of the event log into `webhook_queue`: one row per event still to apply.
//! With no index on the log's state, marking an event applied rewrites its row in place (Postgres: a heap-only
//! update, for which the log's pages keep half their room) instead of adding an entry to each of the log's indexes,
//! which cost three times the event's insert. The log keeps `(portal_id, object_id, id)`: the applier finds a
//! record's later events there, and an erasure all of a contact's events. Its name is new: SQLite checks a
//! `CREATE INDEX` against the schema its connection last read, and the migrator runs SQLite's statements on any of
//! the pool's connections, so re-creating the name `m20261203_000007` dropped failed once in a test run ("index
//! ix_webhook_events_object already exists" on a fresh database).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000008_webhook_queue"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_queue")
                    .col(ColumnDef::new("id").big_integer().not_null().primary_key())
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO webhook_queue (id, next_attempt_at) SELECT id, next_attempt_at FROM webhook_events \
             WHERE state = 'pending'",
        )
        .await?;
        manager.drop_index(Index::drop().name("ix_webhook_events_due").table("webhook_events").to_owned()).await?;
        manager.drop_index(Index::drop().name("ix_webhook_events_record").table("webhook_events").to_owned()).await?;
        manager
            .create_index(index("ix_webhook_events_by_record").col("portal_id").col("object_id").col("id").to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE webhook_events SET (fillfactor = 50)").await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared("ALTER TABLE webhook_events RESET (fillfactor)").await?;
        }
        manager
            .drop_index(Index::drop().name("ix_webhook_events_by_record").table("webhook_events").to_owned())
            .await?;
        // The indexes as `m20261203_000007_webhook_claim_order` made them; the log's state says what is pending.
        manager
            .create_index(index("ix_webhook_events_due").col("state").col("id").col("next_attempt_at").to_owned())
            .await?;
        manager
            .create_index(index("ix_webhook_events_record").col("portal_id").col("object_id").col("state").to_owned())
            .await?;
        manager.drop_table(Table::drop().table("webhook_queue").to_owned()).await
    }
}

fn index(name: &'static str) -> IndexCreateStatement {
    Index::create().name(name).table("webhook_events").to_owned()
}
