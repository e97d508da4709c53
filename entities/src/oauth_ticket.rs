use sea_orm::entity::prelude::*;

/// A single-use link an admin asked for (`POST /oauth/hubspot/install`) to open in a browser, which then starts the
/// install there. Only its hash is kept.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_tickets")]
pub struct Model {
    /// SHA-256 (hex) of the ticket in the link.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_hash: String,
    /// The admin who asked for it (`key:{id}`).
    pub created_by: String,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
