use sea_orm::entity::prelude::*;

/// The current health score of a company (or of a contact without a company).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "health_scores")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    /// `company` or `contact`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_id: i64,
    pub overall: i32,
    pub crm: i32,
    pub payment: i32,
    pub engagement: i32,
    pub support: i32,
    pub churn_risk: i32,
    #[sea_orm(column_type = "JsonBinary")]
    pub explanation: Json,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
