//! API keys: callers of the GraphQL API, each with a role and the portals it may read. Only a hash of a key's
//! secret is stored; the key itself is shown once, when it is made.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000010_api_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(string("role"))
                    .col(text("portals"))
                    .col(string("secret_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("api_keys").to_owned()).await
    }
}
