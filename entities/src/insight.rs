use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A finding about a client, raised by a rule and resolved when its condition clears.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "insights")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub portal_id: i64,
    pub subject_type: String,
    pub subject_id: i64,
    /// `inactiveClient`, `highValueLowEngagement`, `decliningEngagement`, `churnRisk` or `upsellOpportunity`.
    pub kind: String,
    /// `low`, `medium`, `high` or `critical`.
    pub impact: String,
    pub confidence: i32,
    /// `open` or `resolved`.
    pub status: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub actions: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub evidence: Json,
    pub raised_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
