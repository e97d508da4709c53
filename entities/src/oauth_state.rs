use sea_orm::entity::prelude::*;

/// A pending OAuth install: the `state` sent to HubSpot's authorize page, used once before it expires, by the
/// browser that started it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state: String,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// SHA-256 (hex) of the nonce in the starting browser's cookie; the callback must bring the nonce. None on
    /// states made before installs were bound to a browser: those are refused.
    pub browser_hash: Option<String>,
    /// The caller whose ticket started the install (`key:{id}`), for the log.
    pub created_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
