//! The mirror of a portal: CRM objects, owners, pipelines and stages, campaigns, associations, portals.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_mirror"
    }
}

/// A CRM object table: the key, the typed columns the API filters and sorts on, then what every object keeps.
fn crm_table(name: &'static str, typed: Vec<ColumnDef>) -> TableCreateStatement {
    let mut table = Table::create();
    table.table(name).col(big_integer("portal_id")).col(big_integer("hubspot_id"));
    for mut col in typed {
        table.col(&mut col);
    }
    table
        .col(string("search_text"))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(timestamp_with_time_zone_null("archived_at"))
        .col(big_integer_null("merged_into"))
        .col(timestamp_with_time_zone("synced_at"))
        .primary_key(Index::create().col("portal_id").col("hubspot_id"))
        .to_owned()
}

/// The columns of each CRM table that get a `(portal_id, column, hubspot_id)` index for filtering and keyset paging.
const INDEXED: &[(&str, &[&str])] = &[
    (
        "contacts",
        &[
            "email",
            "firstname",
            "lastname",
            "phone",
            "company_name",
            "jobtitle",
            "country",
            "city",
            "lifecyclestage",
            "lead_status",
            "hubspotscore",
            "owner_id",
            "last_contacted_at",
            "num_notes",
            "email_last_open_at",
            "email_last_click_at",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "companies",
        &[
            "name",
            "domain",
            "industry",
            "country",
            "city",
            "numberofemployees",
            "annualrevenue",
            "lifecyclestage",
            "owner_id",
            "notes_last_updated_at",
            "total_revenue",
            "num_associated_contacts",
            "num_associated_deals",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "deals",
        &[
            "dealname",
            "amount",
            "pipeline",
            "dealstage",
            "closedate",
            "owner_id",
            "is_closed",
            "is_closed_won",
            "probability",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "tickets",
        &["subject", "pipeline", "pipeline_stage", "priority", "owner_id", "closed_at", "created_at", "updated_at"],
    ),
];

/// Owners and campaigns: small tables, indexed all the same so every filter and sort stays an index lookup.
const INDEXED_SMALL: &[(&str, &[&str])] = &[
    ("owners", &["email", "first_name", "last_name", "created_at"]),
    ("campaigns", &["name", "campaign_type", "status", "sent", "opened", "clicked", "created_at"]),
];

fn index_name(table: &str, column: &str) -> String {
    format!("ix_{table}_{column}")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("portals")
                    .col(big_integer("portal_id").primary_key())
                    .col(string("name"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(crm_table(
                "contacts",
                vec![
                    string_null("email"),
                    string_null("firstname"),
                    string_null("lastname"),
                    string_null("phone"),
                    string_null("company_name"),
                    string_null("jobtitle"),
                    string_null("country"),
                    string_null("city"),
                    string_null("lifecyclestage"),
                    string_null("lead_status"),
                    integer_null("hubspotscore"),
                    big_integer_null("owner_id"),
                    timestamp_with_time_zone_null("last_contacted_at"),
                    integer_null("num_notes"),
                    timestamp_with_time_zone_null("email_last_open_at"),
                    timestamp_with_time_zone_null("email_last_click_at"),
                ],
            ))
            .await?;
        manager
            .create_table(crm_table(
                "companies",
                vec![
                    string_null("name"),
                    string_null("domain"),
                    string_null("industry"),
                    string_null("country"),
                    string_null("city"),
                    integer_null("numberofemployees"),
                    double_null("annualrevenue"),
                    string_null("lifecyclestage"),
                    big_integer_null("owner_id"),
                    timestamp_with_time_zone_null("notes_last_updated_at"),
                    double_null("total_revenue"),
                    integer_null("num_associated_contacts"),
                    integer_null("num_associated_deals"),
                ],
            ))
            .await?;
        manager
            .create_table(crm_table(
                "deals",
                vec![
                    string_null("dealname"),
                    double_null("amount"),
                    string_null("pipeline"),
                    string_null("dealstage"),
                    timestamp_with_time_zone_null("closedate"),
                    big_integer_null("owner_id"),
                    boolean_null("is_closed"),
                    boolean_null("is_closed_won"),
                    double_null("probability"),
                ],
            ))
            .await?;
        manager
            .create_table(crm_table(
                "tickets",
                vec![
                    string_null("subject"),
                    text_null("content"),
                    string_null("pipeline"),
                    string_null("pipeline_stage"),
                    string_null("priority"),
                    big_integer_null("owner_id"),
                    timestamp_with_time_zone_null("closed_at"),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("owners")
                    .col(big_integer("portal_id"))
                    .col(big_integer("hubspot_id"))
                    .col(string_null("email"))
                    .col(string_null("first_name"))
                    .col(string_null("last_name"))
                    .col(big_integer_null("user_id"))
                    .col(json_binary("teams"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    .col(timestamp_with_time_zone("synced_at"))
                    .primary_key(Index::create().col("portal_id").col("hubspot_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pipelines")
                    .col(big_integer("portal_id"))
                    .col(string("hubspot_id"))
                    .col(string("object_type"))
                    .col(string("label"))
                    .col(integer("display_order"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    .col(timestamp_with_time_zone("synced_at"))
                    .primary_key(Index::create().col("portal_id").col("hubspot_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pipeline_stages")
                    .col(big_integer("portal_id"))
                    .col(string("pipeline_id"))
                    .col(string("hubspot_id"))
                    .col(string("label"))
                    .col(integer("display_order"))
                    .col(double_null("probability"))
                    .col(boolean("is_closed"))
                    .col(json_binary("metadata"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    .primary_key(Index::create().col("portal_id").col("pipeline_id").col("hubspot_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("campaigns")
                    .col(big_integer("portal_id"))
                    .col(string("hubspot_id"))
                    .col(string("name"))
                    .col(string_null("campaign_type"))
                    .col(string_null("status"))
                    .col(big_integer("sent"))
                    .col(big_integer("delivered"))
                    .col(big_integer("opened"))
                    .col(big_integer("clicked"))
                    .col(big_integer("bounced"))
                    .col(big_integer("unsubscribed"))
                    .col(json_binary("properties"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("archived_at"))
                    .col(timestamp_with_time_zone("synced_at"))
                    .primary_key(Index::create().col("portal_id").col("hubspot_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("associations")
                    .col(big_integer("portal_id"))
                    .col(string("from_type"))
                    .col(big_integer("from_id"))
                    .col(string("to_type"))
                    .col(big_integer("to_id"))
                    .col(integer("type_id"))
                    .col(string("category"))
                    .col(string_null("label"))
                    .col(boolean("is_primary"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(
                        Index::create()
                            .col("portal_id")
                            .col("from_type")
                            .col("from_id")
                            .col("to_type")
                            .col("to_id")
                            .col("type_id"),
                    )
                    .to_owned(),
            )
            .await?;
        for (table, columns) in INDEXED.iter().chain(INDEXED_SMALL) {
            for column in *columns {
                manager
                    .create_index(
                        Index::create()
                            .name(index_name(table, column))
                            .table(Alias::new(*table))
                            .col(Alias::new("portal_id"))
                            .col(Alias::new(*column))
                            .col(Alias::new("hubspot_id"))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        manager
            .create_table(
                Table::create()
                    .table("object_properties")
                    .col(big_integer("portal_id"))
                    .col(string("object_type"))
                    .col(big_integer("hubspot_id"))
                    .col(text("properties"))
                    .col(text("property_times"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("portal_id").col("object_type").col("hubspot_id"))
                    .to_owned(),
            )
            .await?;
        // The reverse lookup: which edges point at an object (merges and deletions repoint or drop them).
        manager
            .create_index(
                Index::create()
                    .name("ix_associations_to")
                    .table("associations")
                    .col("portal_id")
                    .col("to_type")
                    .col("to_id")
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Trigram indexes make `search` (substring match) an index lookup on Postgres.
            let db = manager.get_connection();
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await?;
            for table in ["contacts", "companies", "deals", "tickets"] {
                db.execute_unprepared(&format!(
                    "CREATE INDEX ix_{table}_search ON {table} USING gin (search_text gin_trgm_ops)"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "object_properties",
            "associations",
            "campaigns",
            "pipeline_stages",
            "pipelines",
            "owners",
            "tickets",
            "deals",
            "companies",
            "contacts",
            "portals",
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
