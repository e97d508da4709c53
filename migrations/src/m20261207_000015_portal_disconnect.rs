//! When a portal was disconnected (its OAuth install revoked): its mirror rows are removed once the grace period
//! (`DISCONNECT_GRACE_SECS`) has passed, unless it is installed again first. `NULL`: connected.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000015_portal_disconnect"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new("disconnected_at").timestamp_with_time_zone().null().to_owned();
        manager.alter_table(Table::alter().table("portals").add_column(column).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("portals").drop_column("disconnected_at").to_owned()).await
    }
}
