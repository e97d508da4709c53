//! The applier claims the oldest due events: `(state, id, next_attempt_at)` lets it walk pending events in id order
//! and stop after a batch, instead of reading and sorting every due event of a backlog (as `(state,
//! next_attempt_at)` made it) to take the first few hundred. It then takes the pending events of the same records:
//! `(portal_id, object_id, state)` finds them without visiting each record's applied history.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000007_webhook_claim_order"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_webhook_events_state").table("webhook_events").to_owned()).await?;
        manager.drop_index(Index::drop().name("ix_webhook_events_object").table("webhook_events").to_owned()).await?;
        manager.create_index(index("ix_webhook_events_due", &["state", "id", "next_attempt_at"])).await?;
        manager.create_index(index("ix_webhook_events_record", &["portal_id", "object_id", "state"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_webhook_events_due").table("webhook_events").to_owned()).await?;
        manager.drop_index(Index::drop().name("ix_webhook_events_record").table("webhook_events").to_owned()).await?;
        // The indexes as `m20261122_000002_gateway` made them.
        manager.create_index(index("ix_webhook_events_state", &["state", "next_attempt_at"])).await?;
        manager.create_index(index("ix_webhook_events_object", &["portal_id", "object_id", "occurred_at"])).await
    }
}

fn index(name: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table("webhook_events");
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}
