use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, Default, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hubspot_id: i64,
    pub dealname: Option<String>,
    #[sea_orm(column_type = "Double", nullable)]
    pub amount: Option<f64>,
    pub pipeline: Option<String>,
    pub dealstage: Option<String>,
    pub closedate: Option<DateTimeUtc>,
    pub owner_id: Option<i64>,
    pub is_closed: Option<bool>,
    pub is_closed_won: Option<bool>,
    #[sea_orm(column_type = "Double", nullable)]
    pub probability: Option<f64>,
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub archived_at: Option<DateTimeUtc>,
    pub merged_into: Option<i64>,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
