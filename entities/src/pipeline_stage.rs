use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pipeline_stages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub pipeline_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hubspot_id: String,
    pub label: String,
    pub display_order: i32,
    /// From the stage's `metadata.probability` (a string on the wire); tickets' stages have none.
    #[sea_orm(column_type = "Double", nullable)]
    pub probability: Option<f64>,
    pub is_closed: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub archived_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
