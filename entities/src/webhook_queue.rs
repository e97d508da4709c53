use sea_orm::entity::prelude::*;

/// An event of the log still to apply: the appliers' work list. The log's own rows carry no index on their state,
/// so marking one applied rewrites it in place (a heap-only update) instead of adding an entry to every index.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_queue")]
pub struct Model {
    /// The event's id in `webhook_events`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// Not before: a retry's backoff, or the lease of a pass waiting on a read from HubSpot.
    pub next_attempt_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
