use sea_orm::entity::prelude::*;

/// An operation document registered with `server operations add`; with `OPERATIONS=safelist` only these run.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "operations")]
pub struct Model {
    /// SHA-256 of `document`, lowercase hex: what a client sends as its persisted query hash.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    /// The names of the operations in the document, comma-separated (`(anonymous)` for one without a name).
    pub name: String,
    /// The text a client sends, exactly (the registered file without leading and trailing whitespace).
    pub document: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
