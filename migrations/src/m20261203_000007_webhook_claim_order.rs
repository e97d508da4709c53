//! The applier claims the oldest due events: `(state, id, next_attempt_at)` lets it walk pending events in id order
//! and stop after a batch, instead of reading and sorting every due event of a backlog (as `(state,
//! next_attempt_at)` made it) to take the first few hundred.

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
        let due = Index::create()
            .name("ix_webhook_events_due")
            .table("webhook_events")
            .col("state")
            .col("id")
            .col("next_attempt_at")
            .to_owned();
        manager.create_index(due).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_webhook_events_due").table("webhook_events").to_owned()).await?;
        let state = Index::create()
            .name("ix_webhook_events_state")
            .table("webhook_events")
            .col("state")
            .col("next_attempt_at")
            .to_owned();
        manager.create_index(state).await
    }
}
