use sea_orm::entity::prelude::*;

/// A HubSpot account the gateway mirrors.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "portals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    pub name: String,
    pub created_at: DateTimeUtc,
    /// When its OAuth install was revoked: its rows are purged once the grace period has passed. `None`: connected.
    pub disconnected_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
