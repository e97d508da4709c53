//! Retention: what the gateway keeps only for a while. One pass, run periodically on the replica holding the
//! `retention` lease, deletes
//! - webhook events applied (or ignored: never to be applied) more than `WEBHOOK_RETENTION_DAYS` ago. Their payloads
//!   hold personal data, and nothing reads a settled event again: the mirror keeps each property's change time, so
//!   ordering does not need the log, and the dedupe key only has to outlive HubSpot's retries (24 hours). Deleted
//!   rather than redacted, because a redacted row would still grow the log for ever. Pending and dead events (an
//!   admin may replay those) are never deleted, however old;
//! - OAuth states and install tickets, and idempotency keys, whose `expires_at` has passed; a claim that lapsed
//!   without a record (its create's outcome unknown) is kept a day from its claim, so a retry with the key still
//!   looks the record up at HubSpot before creating;
//! - health score history older than `HEALTH_HISTORY_DETAIL_DAYS` but the last change of each client per UTC day
//!   (see [`history`]).
//!
//! Every statement deletes at most [`BATCH`] rows and commits by itself, so a pass never holds a table's locks for
//! long, and one cut short anywhere (a lost lease, a stop) loses nothing the next pass does not finish.

mod history;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use entities::{idempotency_key, oauth_state, oauth_ticket, webhook_event, webhook_queue};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Condition, Expr, ExprTrait, Query},
};

use crate::{leases::Leases, webhooks::log::state};

/// Rows one statement deletes at most.
pub const BATCH: u64 = 1_000;

/// How long each kind of row is kept (`WEBHOOK_RETENTION_DAYS`, `HEALTH_HISTORY_DETAIL_DAYS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub webhook_days: u32,
    pub history_detail_days: u32,
}

/// Rows one pass deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub webhook_events: u64,
    pub oauth_states: u64,
    pub oauth_tickets: u64,
    pub idempotency_keys: u64,
    pub health_score_history: u64,
}

impl Deleted {
    pub fn total(&self) -> u64 {
        self.webhook_events + self.oauth_states + self.oauth_tickets + self.idempotency_keys + self.health_score_history
    }
}

/// The retention work of one replica: the policy, and how far the history is already compacted.
pub struct Retention {
    db: DatabaseConnection,
    policy: Policy,
    history: history::Compacted,
}

impl Retention {
    pub fn new(db: DatabaseConnection, policy: Policy) -> Self {
        Self { db, policy, history: history::Compacted::default() }
    }

    /// One pass as of `now`: every kind of row, in batches.
    pub async fn pass(&mut self, now: DateTime<Utc>) -> Result<Deleted, DbErr> {
        let db = &self.db;
        let webhook_cutoff = now - TimeDelta::days(self.policy.webhook_days.into());
        Ok(Deleted {
            webhook_events: settled_events(db, webhook_cutoff).await?,
            oauth_states: expired_oauth_states(db, now).await?,
            oauth_tickets: expired_oauth_tickets(db, now).await?,
            idempotency_keys: expired_idempotency_keys(db, now).await?,
            health_score_history: self
                .history
                .compact(db, history::cutoff(now, self.policy.history_detail_days))
                .await?,
        })
    }

    /// A pass now and every `every` after, for as long as it runs; `passes` counts the finished ones.
    pub async fn keep_retaining(mut self, every: Duration, passes: Arc<AtomicU64>) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match self.pass(Utc::now()).await {
                Ok(deleted) => {
                    passes.fetch_add(1, Ordering::Relaxed);
                    if deleted.total() > 0 {
                        tracing::info!(?deleted, "retention pass deleted rows past their time");
                    }
                }
                Err(err) => tracing::error!(error = %err, "retention pass failed; tried again at the next one"),
            }
        }
    }
}

/// Runs the passes every `every` whenever this replica holds the `retention` lease; never returns.
pub async fn run(db: DatabaseConnection, policy: Policy, leases: Leases, every: Duration, passes: Arc<AtomicU64>) {
    leases.run(LEASE, || Retention::new(db.clone(), policy).keep_retaining(every, passes.clone())).await;
}

/// The lease's name in the `leases` table.
pub const LEASE: &str = "retention";

/// Deletes applied and ignored events received (and applied) before `cutoff`; never one still on the work list.
async fn settled_events(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    let settled = Condition::any()
        .add(
            Condition::all().add(webhook_event::Column::State.eq(state::APPLIED)).add(
                Condition::any()
                    .add(webhook_event::Column::AppliedAt.is_null())
                    .add(webhook_event::Column::AppliedAt.lt(cutoff)),
            ),
        )
        .add(webhook_event::Column::State.eq(state::IGNORED));
    let queued = Query::select().column(webhook_queue::Column::Id).from(webhook_queue::Entity).to_owned();
    let mut due = Condition::all()
        .add(settled)
        .add(webhook_event::Column::ReceivedAt.lt(cutoff))
        .add(webhook_event::Column::Id.not_in_subquery(queued));
    // Ids follow receipt: the scan in id order stops at the first event inside the window instead of reading
    // the whole window's events (the log has no index on time) every pass.
    let first_kept: Option<i64> = webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::Id)
        .filter(webhook_event::Column::ReceivedAt.gte(cutoff))
        .order_by_asc(webhook_event::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if let Some(id) = first_kept {
        due = due.add(webhook_event::Column::Id.lt(id));
    }
    let batch = Query::select()
        .column(webhook_event::Column::Id)
        .from(webhook_event::Entity)
        .cond_where(due)
        .order_by(webhook_event::Column::Id, sea_orm::Order::Asc)
        .limit(BATCH)
        .to_owned();
    in_batches(|| {
        webhook_event::Entity::delete_many().filter(webhook_event::Column::Id.in_subquery(batch.clone())).exec(db)
    })
    .await
}

async fn expired_oauth_states(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let batch = Query::select()
        .column(oauth_state::Column::State)
        .from(oauth_state::Entity)
        .and_where(oauth_state::Column::ExpiresAt.lt(now))
        .limit(BATCH)
        .to_owned();
    in_batches(|| {
        oauth_state::Entity::delete_many().filter(oauth_state::Column::State.in_subquery(batch.clone())).exec(db)
    })
    .await
}

async fn expired_oauth_tickets(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let batch = Query::select()
        .column(oauth_ticket::Column::TicketHash)
        .from(oauth_ticket::Entity)
        .and_where(oauth_ticket::Column::ExpiresAt.lt(now))
        .limit(BATCH)
        .to_owned();
    in_batches(|| {
        oauth_ticket::Entity::delete_many().filter(oauth_ticket::Column::TicketHash.in_subquery(batch.clone())).exec(db)
    })
    .await
}

/// Only keys whose `expires_at` has passed: a pending or live key is the idempotency module's. A lapsed claim with no
/// record stays a day from its claim: its create may have reached HubSpot, and the key's retry looks for it first.
async fn expired_idempotency_keys(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    use idempotency_key::Column as C;
    let settled = || Condition::any().add(C::HubspotId.is_not_null()).add(C::CreatedAt.lt(now - TimeDelta::days(1)));
    let batch = Query::select()
        .columns([C::PortalId, C::ObjectType, C::Key])
        .from(idempotency_key::Entity)
        .and_where(C::ExpiresAt.lt(now))
        .cond_where(settled())
        .limit(BATCH)
        .to_owned();
    let key = Expr::tuple([Expr::col(C::PortalId), Expr::col(C::ObjectType), Expr::col(C::Key)]);
    in_batches(|| {
        idempotency_key::Entity::delete_many()
            .filter(key.clone().in_subquery(batch.clone()))
            // Checked again on the row itself: a key renewed since the subquery read it stays.
            .filter(C::ExpiresAt.lt(now))
            .filter(settled())
            .exec(db)
    })
    .await
}

/// Runs `delete` (one batch) until a batch deletes fewer than [`BATCH`] rows; the rows deleted.
async fn in_batches<F>(mut delete: impl FnMut() -> F) -> Result<u64, DbErr>
where
    F: Future<Output = Result<sea_orm::DeleteResult, DbErr>>,
{
    let mut total = 0;
    loop {
        let rows = delete().await?.rows_affected;
        total += rows;
        if rows < BATCH {
            return Ok(total);
        }
    }
}
