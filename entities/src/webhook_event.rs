use sea_orm::entity::prelude::*;

/// One event of a verified webhook batch, stored before the batch is acknowledged.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Identifies the delivery (HTTP request) the event came in.
    pub batch_id: String,
    pub portal_id: i64,
    pub event_id: i64,
    pub subscription_type: String,
    pub object_id: i64,
    pub occurred_at: i64,
    /// portal, subscription type, object, occurredAt and eventId: the identity duplicates share.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// `pending`, `applied`, `dead` or `ignored`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTimeUtc,
    pub next_attempt_at: DateTimeUtc,
    pub applied_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
