//! A portal's custom objects: their schemas (HubSpot's `/crm/v3/schemas`) and their records' typed rows. A record's
//! properties sit in `object_properties` and its links in `associations`, like every other record's, under its
//! type's `objectTypeId` (`2-1234567`).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000016_custom_objects"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("object_schemas")
                    .col(big_integer("portal_id"))
                    .col(string("object_type"))
                    .col(string("name"))
                    .col(string("fully_qualified_name"))
                    .col(text("singular_label"))
                    .col(text("plural_label"))
                    .col(string_null("primary_display_property"))
                    .col(text("required_properties"))
                    .col(text("searchable_properties"))
                    .col(text("associations"))
                    .col(boolean("archived"))
                    .col(timestamp_with_time_zone_null("hubspot_updated_at"))
                    .col(timestamp_with_time_zone("synced_at"))
                    .primary_key(Index::create().col("portal_id").col("object_type"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("custom_objects")
                    .col(big_integer("portal_id"))
                    .col(string("object_type"))
                    .col(big_integer("hubspot_id"))
                    .col(text_null("display_name"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    .col(big_integer_null("merged_into"))
                    .col(timestamp_with_time_zone("synced_at"))
                    .primary_key(Index::create().col("portal_id").col("object_type").col("hubspot_id"))
                    .to_owned(),
            )
            .await?;
        // Records are looked up and paged by id within a type; lists sorted by time read this one.
        manager
            .create_index(
                Index::create()
                    .name("custom_objects_updated")
                    .table("custom_objects")
                    .col("portal_id")
                    .col("object_type")
                    .col("updated_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("custom_objects").to_owned()).await?;
        manager.drop_table(Table::drop().table("object_schemas").to_owned()).await
    }
}
