use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
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
    /// Every HubSpot property as received (a JSON object of strings or null), kept as text: most reads never
    /// look inside, and parsing it for every row would dominate a list query.
    #[sea_orm(column_type = "Text")]
    pub properties: String,
    /// Per property, the HubSpot change time (ms) of the value held, as a JSON object, so an older change never
    /// wins; a property without an entry dates from `updated_at`.
    #[sea_orm(column_type = "Text")]
    pub property_times: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub archived_at: Option<DateTimeUtc>,
    pub merged_into: Option<i64>,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
