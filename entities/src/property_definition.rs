use sea_orm::entity::prelude::*;

/// One property of an object type as the portal defines it (HubSpot's properties API), custom ones included.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "property_definitions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    /// `contact`, `company`, `deal`, `ticket`, or a custom type's `objectTypeId` (`2-1234567`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `enumeration`, `bool` or `phone_number`.
    pub property_type: String,
    pub field_type: String,
    #[sea_orm(column_type = "Text")]
    pub group_name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The enumeration's options as JSON: `[{label, value, displayOrder, hidden}]`.
    #[sea_orm(column_type = "Text")]
    pub options: String,
    pub display_order: i32,
    pub hubspot_defined: bool,
    pub calculated: bool,
    pub read_only_value: bool,
    pub has_unique_value: bool,
    pub archived: bool,
    /// HubSpot's `updatedAt` of the definition.
    pub hubspot_updated_at: Option<DateTimeUtc>,
    /// When the gateway last read it.
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
