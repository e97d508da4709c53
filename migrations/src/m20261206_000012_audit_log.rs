//! Who did what: every mutation, replay, install, disconnect and key change, with its caller, portal, operation,
//! the HubSpot ids it touched and how it ended. Ids and names only: never keys, tokens or property values.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000012_audit_log"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string("caller"))
                    .col(big_integer_null("portal_id"))
                    .col(string("operation"))
                    .col(string("field"))
                    .col(json_binary("hubspot_ids"))
                    .col(string_null("target"))
                    .col(string("outcome"))
                    .col(string_null("category"))
                    .col(string_null("correlation_id"))
                    .col(text_null("error"))
                    .to_owned(),
            )
            .await?;
        // `auditLog` reads one portal's rows newest first.
        manager
            .create_index(
                Index::create().name("ix_audit_log_portal").table("audit_log").col("portal_id").col("id").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("audit_log").to_owned()).await
    }
}
