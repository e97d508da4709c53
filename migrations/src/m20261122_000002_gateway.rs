//! The gateway's own tables: webhook event log, sync state, OAuth tokens, health scores and history, insights.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000002_gateway"
    }
}

fn index(name: &'static str, table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

/// The four dimensions, the overall score and the churn risk, shared by the current score and its history.
fn score_columns(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    for column in ["overall", "crm", "payment", "engagement", "support", "churn_risk"] {
        table.col(integer(column));
    }
    table
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_events")
                    .col(big_pk_auto("id"))
                    .col(string("batch_id"))
                    .col(big_integer("portal_id"))
                    .col(big_integer("event_id"))
                    .col(string("subscription_type"))
                    .col(big_integer("object_id"))
                    .col(big_integer("occurred_at"))
                    .col(string_uniq("dedupe_key"))
                    .col(json_binary("payload"))
                    .col(string("state"))
                    .col(integer("attempts"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("received_at"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("applied_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_webhook_events_state", "webhook_events", &["state", "next_attempt_at"])).await?;
        manager
            .create_index(index(
                "ix_webhook_events_object",
                "webhook_events",
                &["portal_id", "object_id", "occurred_at"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sync_state")
                    .col(big_integer("portal_id"))
                    .col(string("object_type"))
                    .col(string_null("backfill_cursor"))
                    .col(boolean("backfill_done"))
                    .col(timestamp_with_time_zone_null("reconcile_cursor"))
                    .col(big_integer("objects_synced"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("portal_id").col("object_type"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("oauth_tokens")
                    .col(big_integer("portal_id").primary_key())
                    .col(string("key_id"))
                    .col(binary("access_token_enc"))
                    .col(binary("refresh_token_enc"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(text("scopes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                score_columns(
                    Table::create()
                        .table("health_scores")
                        .col(big_integer("portal_id"))
                        .col(string("subject_type"))
                        .col(big_integer("subject_id")),
                )
                .col(json_binary("explanation"))
                .col(timestamp_with_time_zone("computed_at"))
                .primary_key(Index::create().col("portal_id").col("subject_type").col("subject_id"))
                .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_health_scores_overall", "health_scores", &["portal_id", "overall"])).await?;
        manager
            .create_table(
                score_columns(
                    Table::create()
                        .table("health_score_history")
                        .col(big_pk_auto("id"))
                        .col(big_integer("portal_id"))
                        .col(string("subject_type"))
                        .col(big_integer("subject_id")),
                )
                .col(integer_null("previous_overall"))
                .col(json_binary("cause"))
                .col(timestamp_with_time_zone("computed_at"))
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_health_score_history_subject",
                "health_score_history",
                &["portal_id", "subject_type", "subject_id", "computed_at"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("insights")
                    .col(big_pk_auto("id"))
                    .col(big_integer("portal_id"))
                    .col(string("subject_type"))
                    .col(big_integer("subject_id"))
                    .col(string("kind"))
                    .col(string("impact"))
                    .col(integer("confidence"))
                    .col(string("status"))
                    .col(json_binary("actions"))
                    .col(json_binary("evidence"))
                    .col(timestamp_with_time_zone("raised_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_insights_subject",
                "insights",
                &["portal_id", "subject_type", "subject_id", "kind"],
            ))
            .await?;
        manager.create_index(index("ix_insights_status", "insights", &["portal_id", "status", "impact"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["insights", "health_score_history", "health_scores", "oauth_tokens", "sync_state", "webhook_events"]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
