use sea_orm::entity::prelude::*;

/// Every HubSpot property of a contact, company, deal or ticket as received, apart from its typed row: lists read the
/// typed columns only, and a record's properties are loaded when a client asks for them.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "object_properties")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    /// `contact`, `company`, `deal`, `ticket`, or a custom type's `objectTypeId` (`2-1234567`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hubspot_id: i64,
    /// A JSON object of strings or null, kept as text: only clients that ask for properties pay for parsing it.
    #[sea_orm(column_type = "Text")]
    pub properties: String,
    /// Per property, the HubSpot change time (ms) of the value held, as a JSON object, so an older change never
    /// wins; a property without an entry dates from `updated_at`.
    #[sea_orm(column_type = "Text")]
    pub property_times: String,
    /// HubSpot's `updatedAt` of the version held.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
