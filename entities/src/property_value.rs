use sea_orm::entity::prelude::*;

/// One value of a custom property of a record (or of a property the portal has no definition of yet), typed and
/// indexed by name so that property filters and sorts find records without parsing `object_properties`' JSON. Written
/// by triggers on `object_properties` and `property_definitions` alone: the gateway only reads it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "property_values")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    /// As in `object_properties`: `contact`, `company`, …, or a custom object's type id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hubspot_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// HubSpot's text of the value (possibly empty; a null value has no row).
    #[sea_orm(column_type = "Text")]
    pub text_value: String,
    /// `text_value` when short enough for a btree entry (500 characters), else null: what the text index holds.
    #[sea_orm(column_type = "Text", nullable)]
    pub text_key: Option<String>,
    /// The text read as a number, as property filters read numbers.
    pub number_value: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
