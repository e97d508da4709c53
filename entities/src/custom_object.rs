use sea_orm::entity::prelude::*;

/// A record of a custom object type: what lists sort and page on. Its properties are in `object_properties`.
#[derive(Clone, Debug, Default, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "custom_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    /// The type's `objectTypeId` (`2-1234567`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hubspot_id: i64,
    /// The value of the schema's primary display property.
    #[sea_orm(column_type = "Text", nullable)]
    pub display_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub archived_at: Option<DateTimeUtc>,
    pub merged_into: Option<i64>,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
