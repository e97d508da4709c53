//! Admin fields over the request's portal's webhook event log: list events by state, replay dead ones (each replay
//! leaves an audit row naming the events' HubSpot `eventId`s).

use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, TimeZone, Utc};
use entities::{
    webhook_event::{self, Column as C},
    webhook_queue,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use crate::{
    ApiError, MAX_PAGE_SIZE,
    audit::Trail,
    error::{GqlResult, IntoGql},
    scope::scope,
};

/// Where an event stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEventState {
    /// Stored, not applied yet (or waiting for a retry).
    Pending,
    Applied,
    /// Failed every attempt; `replayWebhookEvents` tries again.
    Dead,
    /// A type the gateway does not apply; kept as received.
    Ignored,
}

impl WebhookEventState {
    fn stored(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Dead => "dead",
            Self::Ignored => "ignored",
        }
    }
}

/// One event of a webhook delivery.
#[derive(SimpleObject)]
pub struct WebhookEvent {
    /// The log's id (for `replayWebhookEvents`).
    pub id: ID,
    /// HubSpot's `eventId`.
    pub event_id: ID,
    pub subscription_type: String,
    pub object_id: ID,
    pub occurred_at: DateTime<Utc>,
    pub state: String,
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub applied_at: Option<DateTime<Utc>>,
    /// The event as HubSpot sent it (personal data erased after a GDPR deletion).
    pub payload: Json<serde_json::Value>,
}

impl From<webhook_event::Model> for WebhookEvent {
    fn from(e: webhook_event::Model) -> Self {
        Self {
            id: ID(e.id.to_string()),
            event_id: ID(e.event_id.to_string()),
            subscription_type: e.subscription_type,
            object_id: ID(e.object_id.to_string()),
            occurred_at: Utc.timestamp_millis_opt(e.occurred_at).single().unwrap_or_default(),
            state: e.state,
            attempts: e.attempts,
            last_error: e.last_error,
            received_at: e.received_at,
            applied_at: e.applied_at,
            payload: Json(e.payload),
        }
    }
}

#[derive(Default)]
pub struct WebhookAdminQuery;

#[Object(guard = "crate::role::Needs(crate::role::Role::Admin)")]
impl WebhookAdminQuery {
    /// The portal's webhook events in `state`, newest first.
    async fn webhook_events(
        &self,
        ctx: &Context<'_>,
        state: WebhookEventState,
        #[graphql(default = 50)] first: i32,
    ) -> GqlResult<Vec<WebhookEvent>> {
        if !(0..=MAX_PAGE_SIZE as i32).contains(&first) {
            return Err(ApiError::invalid("first", format!("must be between 0 and {MAX_PAGE_SIZE}, got {first}")))
                .gql();
        }
        let scope = scope(ctx);
        let rows = webhook_event::Entity::find()
            .filter(C::PortalId.eq(scope.portal_id))
            .filter(C::State.eq(state.stored()))
            .order_by_desc(C::Id)
            .limit(first as u64)
            .all(&scope.db)
            .await
            .map_err(ApiError::from)
            .gql()?;
        Ok(rows.into_iter().map(WebhookEvent::from).collect())
    }
}

#[derive(Default)]
pub struct WebhookAdminMutation;

#[Object(guard = "crate::role::Needs(crate::role::Role::Admin)")]
impl WebhookAdminMutation {
    /// Sends dead events back to the applier, with their attempts reset: the one with `id`, or every dead event of
    /// the portal. How many were replayed.
    async fn replay_webhook_events(&self, ctx: &Context<'_>, id: Option<ID>) -> GqlResult<u64> {
        let scope = scope(ctx);
        let trail = Trail::start(ctx);
        let result = async {
            let only: Option<i64> = id
                .as_ref()
                .map(|id| id.parse().map_err(|_| ApiError::invalid("id", format!("{:?} is not an event id", id.0))))
                .transpose()?;
            let replayed = replay(&scope.db, scope.portal_id, only).await?;
            for event_id in &replayed {
                trail.touch("event", event_id);
            }
            trail.target(match only {
                Some(only) => format!("webhook event {only}"),
                None => format!("{} dead webhook events", replayed.len()),
            });
            if replayed.is_empty()
                && let Some(id) = id
            {
                return Err(ApiError::invalid("id", format!("no dead event {} in this portal", id.0)));
            }
            Ok(replayed.len() as u64)
        }
        .await;
        trail.finish(result).await.gql()
    }
}

/// Puts the portal's dead events (or the one with id `only`) back on the appliers' work list with their attempts
/// reset, in one transaction; HubSpot's `eventId`s of those replayed.
async fn replay(db: &DatabaseConnection, portal: i64, only: Option<i64>) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let txn = crate::begin_write(db).await?;
    let mut dead = webhook_event::Entity::update_many()
        .col_expr(C::State, Expr::val("pending"))
        .col_expr(C::Attempts, Expr::val(0))
        .col_expr(C::NextAttemptAt, Expr::val(now))
        .filter(C::PortalId.eq(portal))
        .filter(C::State.eq("dead"));
    if let Some(id) = only {
        dead = dead.filter(C::Id.eq(id));
    }
    let replayed = dead.exec_with_returning(&txn).await?;
    let event_ids = replayed.iter().map(|e| e.event_id).collect();
    webhook_queue::Entity::insert_many(
        replayed.into_iter().map(|e| webhook_queue::ActiveModel { id: Set(e.id), next_attempt_at: Set(now) }),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(event_ids)
}
