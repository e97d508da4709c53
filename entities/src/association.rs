use sea_orm::entity::prelude::*;

/// One directed edge as HubSpot reports it; a pair of objects has one row per direction, each with its own type id.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "associations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    /// `contact`, `company`, `deal`, `ticket`, or a custom type's `objectTypeId` (`2-1234567`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub type_id: i32,
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED`.
    pub category: String,
    pub label: Option<String>,
    pub is_primary: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
