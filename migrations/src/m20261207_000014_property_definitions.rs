//! The portal's own schema: every property definition HubSpot's properties API gives, per portal and object type;
//! and, beside the backfill's place per object type, when each kind of reference data was last refreshed.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000014_property_definitions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("property_definitions")
                    .col(big_integer("portal_id"))
                    .col(string("object_type"))
                    .col(string("name"))
                    .col(text("label"))
                    .col(string("property_type"))
                    .col(string("field_type"))
                    .col(text("group_name"))
                    .col(text("description"))
                    .col(text("options"))
                    .col(integer("display_order"))
                    .col(boolean("hubspot_defined"))
                    .col(boolean("calculated"))
                    .col(boolean("read_only_value"))
                    .col(boolean("has_unique_value"))
                    .col(boolean("archived"))
                    .col(timestamp_with_time_zone_null("hubspot_updated_at"))
                    .col(timestamp_with_time_zone("synced_at"))
                    .primary_key(Index::create().col("portal_id").col("object_type").col("name"))
                    .to_owned(),
            )
            .await?;
        // Reference data (owners, pipelines, properties, campaigns) shares `sync_state` with the object types: a row
        // per kind, with when it was last refreshed, a digest of what was read (the change check) and the scopes
        // HubSpot said were missing.
        for column in [
            ColumnDef::new("refreshed_at").timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new("fingerprint").string().null().to_owned(),
            ColumnDef::new("missing_scopes").text().null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table("sync_state").add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["refreshed_at", "fingerprint", "missing_scopes"] {
            manager.alter_table(Table::alter().table("sync_state").drop_column(column).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table("property_definitions").to_owned()).await
    }
}
