use sea_orm::entity::prelude::*;

/// Every change of a health score, with what caused it; the cursor of `healthScoreChanged` is its id.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "health_score_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub portal_id: i64,
    pub subject_type: String,
    pub subject_id: i64,
    pub overall: i32,
    pub crm: i32,
    pub payment: i32,
    pub engagement: i32,
    pub support: i32,
    pub churn_risk: i32,
    pub previous_overall: Option<i32>,
    #[sea_orm(column_type = "JsonBinary")]
    pub cause: Json,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
