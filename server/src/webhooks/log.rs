//! The event log: every verified event, written before its delivery is acknowledged, so an acknowledged event is
//! never lost. A duplicate of a stored event (HubSpot retries, redeliveries) is not stored again.

use chrono::Utc;
use entities::{
    webhook_event::{self, Column as C},
    webhook_queue,
};
use sea_orm::{
    ActiveValue::Set, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, NotSet, sea_query::OnConflict,
};

use super::{
    event::Event,
    screen::{Inert, Screen},
};

/// Event states in the log.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const APPLIED: &str = "applied";
    pub const DEAD: &str = "dead";
    /// A type the applier does not know: kept, never applied.
    pub const IGNORED: &str = "ignored";
}

/// What one delivery added to the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    pub stored: u64,
    pub duplicates: u64,
    pub unknown: u64,
    /// Newly stored inert events, per [`Inert::ALL`].
    pub inert: [u64; Inert::ALL.len()],
}

/// Rows per insert: far under both backends' limit on a statement's parameters (SQLite 32,766, Postgres 65,535) at
/// the log's 14 columns, so a delivery of any accepted size is stored in several statements of one transaction.
const CHUNK: usize = 1_000;

/// Writes the whole delivery in one transaction: all of it is stored, or none (and HubSpot will retry). The events
/// the applier knows also go on its work list.
pub async fn append(db: &DatabaseConnection, batch_id: &str, events: Vec<Event>) -> Result<Appended, DbErr> {
    append_screened(db, batch_id, events, None).await
}

/// [`append`], with each event checked against `screen` (the skew window, in seconds) first: an event that can never
/// be applied is stored inert with its reason instead of queued.
pub async fn append_screened(
    db: &DatabaseConnection,
    batch_id: &str,
    events: Vec<Event>,
    max_skew_secs: Option<u64>,
) -> Result<Appended, DbErr> {
    let total = events.len() as u64;
    if events.is_empty() {
        return Ok(Appended::default());
    }
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let screen = match max_skew_secs {
        Some(skew) => Some(Screen::load(&txn, &events, now.timestamp_millis(), skew).await?),
        None => None,
    };
    let row = |event: Event, state: &str, reason: Option<String>| webhook_event::ActiveModel {
        id: NotSet,
        batch_id: Set(batch_id.to_owned()),
        dedupe_key: Set(event.dedupe_key()),
        state: Set(state.to_owned()),
        portal_id: Set(event.portal_id),
        event_id: Set(event.event_id),
        subscription_type: Set(event.subscription_type),
        object_id: Set(event.object_id),
        occurred_at: Set(event.occurred_at),
        payload: Set(event.payload),
        attempts: Set(0),
        last_error: Set(reason),
        received_at: Set(now),
        next_attempt_at: Set(now),
        applied_at: Set(None),
    };
    let mut queued = Vec::new();
    let mut unknown = Vec::new();
    let mut inert: [Vec<webhook_event::ActiveModel>; Inert::ALL.len()] = Default::default();
    for event in events {
        match screen.as_ref().and_then(|s| s.verdict(&event)) {
            Some((why, reason)) => inert[why as usize].push(row(event, why.state(), Some(reason))),
            None if event.is_known() => queued.push(row(event, state::PENDING, None)),
            None => unknown.push(row(event, state::IGNORED, None)),
        }
    }
    let unknown_count = unknown.len() as u64;
    let mut ids: Vec<i64> = Vec::new();
    for chunk in chunks(queued) {
        let new: Vec<i64> = webhook_event::Entity::insert_many(chunk)
            .on_conflict(new())
            .exec_with_returning_keys(&txn)
            .await
            .or_else(none_new)?;
        ids.extend(new);
    }
    let mut stored = ids.len() as u64 + insert_all(&txn, unknown).await?;
    let mut appended = Appended { unknown: unknown_count, ..Appended::default() };
    for (i, rows) in inert.into_iter().enumerate() {
        appended.inert[i] = insert_all(&txn, rows).await?;
        stored += appended.inert[i];
    }
    for chunk in chunks(ids.into_iter().map(|id| webhook_queue::ActiveModel { id: Set(id), next_attempt_at: Set(now) }))
    {
        webhook_queue::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(Appended { stored, duplicates: total - stored, ..appended })
}

fn new() -> OnConflict {
    OnConflict::column(C::DedupeKey).do_nothing().to_owned()
}

fn chunks<T>(rows: impl IntoIterator<Item = T>) -> Vec<Vec<T>> {
    let mut rows = rows.into_iter().peekable();
    let mut out = Vec::new();
    while rows.peek().is_some() {
        out.push(rows.by_ref().take(CHUNK).collect());
    }
    out
}

/// Inserts `rows` that go on no work list, skipping duplicates; how many were new.
async fn insert_all(txn: &DatabaseTransaction, rows: Vec<webhook_event::ActiveModel>) -> Result<u64, DbErr> {
    let mut stored = 0;
    for chunk in chunks(rows) {
        stored += webhook_event::Entity::insert_many(chunk)
            .on_conflict(new())
            .exec_without_returning(txn)
            .await
            .or_else(none_new)?;
    }
    Ok(stored)
}

/// When every event of an insert was stored already (all duplicates), nothing inserted is not an error.
fn none_new<T: Default>(err: DbErr) -> Result<T, DbErr> {
    if matches!(err, DbErr::RecordNotInserted) { Ok(T::default()) } else { Err(err) }
}
