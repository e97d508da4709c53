use sea_orm::entity::prelude::*;

/// A lease on singleton work: the replica named by `holder` runs it until `expires_at` (by the database's clock),
/// renewing it well before then; past it, any replica may take it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "leases")]
pub struct Model {
    /// What the lease covers, e.g. `sync:100001`, `health:full-pass`, `purge`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The replica holding it: hostname, process id and a random part.
    pub holder: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
