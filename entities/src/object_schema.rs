use sea_orm::entity::prelude::*;

/// A custom object type as the portal defines it (HubSpot's schemas API).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "object_schemas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    /// HubSpot's `objectTypeId` (`2-1234567`): how records, properties and associations name the type.
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_type: String,
    /// The name given at creation (`machines`).
    pub name: String,
    /// `p{portal}_{name}`.
    pub fully_qualified_name: String,
    #[sea_orm(column_type = "Text")]
    pub singular_label: String,
    #[sea_orm(column_type = "Text")]
    pub plural_label: String,
    /// The property that names a record in HubSpot's UI.
    pub primary_display_property: Option<String>,
    /// JSON list of the property names a create must set.
    #[sea_orm(column_type = "Text")]
    pub required_properties: String,
    /// JSON list of the property names HubSpot's search matches.
    #[sea_orm(column_type = "Text")]
    pub searchable_properties: String,
    /// JSON list of the association types defined with the other object types: `[{id, name, fromObjectTypeId,
    /// toObjectTypeId}]`.
    #[sea_orm(column_type = "Text")]
    pub associations: String,
    pub archived: bool,
    pub hubspot_updated_at: Option<DateTimeUtc>,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
