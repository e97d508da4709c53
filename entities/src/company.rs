use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, Default, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hubspot_id: i64,
    pub name: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub numberofemployees: Option<i32>,
    #[sea_orm(column_type = "Double", nullable)]
    pub annualrevenue: Option<f64>,
    pub lifecyclestage: Option<String>,
    pub owner_id: Option<i64>,
    pub notes_last_updated_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Double", nullable)]
    pub total_revenue: Option<f64>,
    pub num_associated_contacts: Option<i32>,
    pub num_associated_deals: Option<i32>,
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
