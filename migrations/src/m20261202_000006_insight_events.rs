//! Every raise and resolution of an insight, with what caused it: the cursor `insightRaised` and `insightResolved`
//! subscribers resume from.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000006_insight_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("insight_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("portal_id"))
                    .col(big_integer("insight_id"))
                    .col(string("change"))
                    .col(json_binary("cause"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_insight_events_portal")
                    .table("insight_events")
                    .col("portal_id")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("insight_events").to_owned()).await
    }
}
