//! Registered operations: the documents a gateway with `OPERATIONS=safelist` runs, each under the SHA-256 of its text
//! (the hash a client sends as an Apollo persisted query).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000013_operations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("operations")
                    .col(string("sha256").primary_key())
                    .col(text("name"))
                    .col(text("document"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("operations").to_owned()).await
    }
}
