use sea_orm::entity::prelude::*;

/// A caller of the GraphQL API: `gw_{id}_{secret}`, of which only the SHA-256 of the whole key is kept.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// The key's public part, safe to log and list.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// What it is for ("web app").
    pub name: String,
    /// `reader`, `writer` or `admin`.
    pub role: String,
    /// The portals it may read, comma-separated, or `*` for every portal the gateway holds.
    pub portals: String,
    /// SHA-256 of the whole key, hex.
    pub secret_hash: String,
    pub created_at: DateTimeUtc,
    /// Set when revoked; a revoked key is refused.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
