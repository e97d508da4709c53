use sea_orm::entity::prelude::*;

/// Where the backfill and the reconcile sweep stand, per portal and object type (`contact`…), and when each kind of
/// reference data (`owners`, `pipelines`, `properties`, `campaigns`) was last refreshed.
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
    /// Reference data: when it was last read whole from HubSpot.
    pub refreshed_at: Option<DateTimeUtc>,
    /// Reference data: a digest of what was read, so an unchanged answer writes nothing.
    pub fingerprint: Option<String>,
    /// The scopes HubSpot said the portal's credential lacks for this kind (comma-separated).
    pub missing_scopes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
