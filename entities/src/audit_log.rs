use sea_orm::entity::prelude::*;

/// One act of a caller: a mutation, a replay, an install, a disconnect or a key change, and how it ended. Ids and
/// names only: never keys, tokens or property values.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Also the order of the log: ids grow with every row, across replicas (one sequence).
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// `key:{id}`, `jwt:{sub}`, `anonymous` (AUTH=off) or `cli`.
    pub caller: String,
    /// The portal acted on; `None` for acts on the gateway as a whole (a key for every portal, an install ticket).
    pub portal_id: Option<i64>,
    /// The GraphQL operation's name when the client gave one, else `field`.
    pub operation: String,
    /// The mutation root field (`createContact`), or the route or command (`keys create`).
    pub field: String,
    /// The HubSpot records the act named or made, as `type:id` (`contact:123`), in a JSON array.
    #[sea_orm(column_type = "JsonBinary")]
    pub hubspot_ids: Json,
    /// What a gateway act was about when it is not a HubSpot record: an API key (`key {id}`), replayed events.
    pub target: Option<String>,
    /// `OK`, `PARTIAL` (a batch of which some inputs were not written), `CANCELLED` (the request ended before the
    /// outcome was known), or the error code the caller was answered with (`UPSTREAM_REJECTED`, …).
    pub outcome: String,
    /// HubSpot's `category` when HubSpot refused or failed.
    pub category: Option<String>,
    /// HubSpot's correlation id, to quote to HubSpot's support.
    pub correlation_id: Option<String>,
    /// What went wrong, without the values the caller sent: codes, categories and argument names.
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
