//! The event log: every verified event, written before its delivery is acknowledged, so an acknowledged event is
//! never lost. A duplicate of a stored event (HubSpot retries, redeliveries) is not stored again.

use chrono::Utc;
use entities::{
    webhook_event::{self, Column as C},
    webhook_queue,
};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, NotSet, sea_query::OnConflict};

use super::event::Event;

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
}

/// Writes the whole delivery in one transaction: all of it is stored, or none (and HubSpot will retry). The events
/// the applier knows also go on its work list.
pub async fn append(db: &DatabaseConnection, batch_id: &str, events: Vec<Event>) -> Result<Appended, DbErr> {
    let total = events.len() as u64;
    if events.is_empty() {
        return Ok(Appended::default());
    }
    let now = Utc::now();
    let row = |event: Event| webhook_event::ActiveModel {
        id: NotSet,
        batch_id: Set(batch_id.to_owned()),
        dedupe_key: Set(event.dedupe_key()),
        state: Set(if event.is_known() { state::PENDING } else { state::IGNORED }.to_owned()),
        portal_id: Set(event.portal_id),
        event_id: Set(event.event_id),
        subscription_type: Set(event.subscription_type),
        object_id: Set(event.object_id),
        occurred_at: Set(event.occurred_at),
        payload: Set(event.payload),
        attempts: Set(0),
        last_error: Set(None),
        received_at: Set(now),
        next_attempt_at: Set(now),
        applied_at: Set(None),
    };
    let (known, unknown): (Vec<Event>, Vec<Event>) = events.into_iter().partition(Event::is_known);
    let unknown_count = unknown.len() as u64;
    let new = || OnConflict::column(C::DedupeKey).do_nothing().to_owned();
    let txn = crate::db::begin_write(db).await?;
    let queued: Vec<i64> = webhook_event::Entity::insert_many(known.into_iter().map(row))
        .on_conflict(new())
        .exec_with_returning_keys(&txn)
        .await
        .or_else(none_new)?;
    let ignored = webhook_event::Entity::insert_many(unknown.into_iter().map(row))
        .on_conflict(new())
        .exec_without_returning(&txn)
        .await
        .or_else(none_new)?;
    let stored = queued.len() as u64 + ignored;
    webhook_queue::Entity::insert_many(
        queued.into_iter().map(|id| webhook_queue::ActiveModel { id: Set(id), next_attempt_at: Set(now) }),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(Appended { stored, duplicates: total - stored, unknown: unknown_count })
}

/// When every event of an insert was stored already (all duplicates), nothing inserted is not an error.
fn none_new<T: Default>(err: DbErr) -> Result<T, DbErr> {
    if matches!(err, DbErr::RecordNotInserted) { Ok(T::default()) } else { Err(err) }
}
