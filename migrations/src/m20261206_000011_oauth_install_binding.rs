//! Installs only an admin starts, finished only in the browser that started them. An admin's API call makes a
//! single-use ticket (`oauth_tickets`); opening it in a browser makes the OAuth `state`, bound to a nonce kept in
//! that browser's cookie (`browser_hash`), and remembers who started it (`created_by`). Only hashes of the ticket
//! and the nonce are stored, so reading the table gives no way to finish someone's install.
//!
//! States made before this migration have no `browser_hash`: the callback refuses them (they expire within minutes
//! anyway).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000011_oauth_install_binding"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("oauth_tickets")
                    .col(string("ticket_hash").primary_key())
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite alters one thing at a time.
        for column in ["browser_hash", "created_by"] {
            manager
                .alter_table(Table::alter().table("oauth_states").add_column(string_null(column)).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["browser_hash", "created_by"] {
            manager.alter_table(Table::alter().table("oauth_states").drop_column(column).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table("oauth_tickets").to_owned()).await
    }
}
