use sea_orm::entity::prelude::*;

/// Where the backfill and the reconcile sweep stand, per portal and object type.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_type: String,
    pub backfill_cursor: Option<String>,
    pub backfill_done: bool,
    pub reconcile_cursor: Option<DateTimeUtc>,
    pub objects_synced: i64,
    pub last_error: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
