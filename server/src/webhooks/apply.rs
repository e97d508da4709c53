//! The applier: takes pending events from the log and applies them to the mirror. A property change, a deletion or
//! a GDPR erasure is applied in place (the newest `occurredAt` wins); a creation, restore, merge or association
//! change reads the record from HubSpot (batched per type), so the mirror takes HubSpot's state whatever order
//! events came in. An event that fails is retried with backoff, then set aside as dead with its reason.
//!
//! The events still to apply are on a work list, `webhook_queue`. A pass claims events by taking their entries off
//! the list in its transaction (on Postgres skipping the entries another pass holds, `FOR UPDATE SKIP LOCKED`, so
//! several replicas share the log; SQLite has one writer at a time), applies them and marks them applied in the log
//! in that same transaction: the mirror holds an event's effect exactly when the log says it is applied, and a pass
//! that dies leaves its events on the list for the next. Events that wait on a read from HubSpot go back on the list
//! with a lease instead, and are marked once read.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use entities::{
    webhook_event::{self, Column as C, Model as Event},
    webhook_queue::{self, Column as Q},
};
use hubspot::ObjectType;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, Statement,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Order, Query},
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{WebhookStats, log::state};
use crate::{
    db::WriteTransaction,
    hubspot::HubSpot,
    mirror::{self, events},
    sync::{self, reference::OnMiss},
};

#[derive(Clone, Debug)]
pub struct ApplierSettings {
    /// Events claimed at a time.
    pub batch: u64,
    /// How long events waiting on a read from HubSpot stay with their pass before another applier may take them
    /// (the pass died).
    pub lease: Duration,
    /// Attempts before an event is dead.
    pub max_attempts: i32,
    /// The first retry's delay; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The pause when the log has nothing due.
    pub idle: Duration,
}

impl Default for ApplierSettings {
    fn default() -> Self {
        Self {
            batch: 500,
            lease: Duration::from_secs(60),
            max_attempts: 8,
            min_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(600),
            idle: Duration::from_millis(200),
        }
    }
}

#[derive(Clone)]
pub struct Applier {
    pub db: DatabaseConnection,
    /// Reads records for creations, restores, merges and association changes; without it those events wait and
    /// then die with a reason saying so.
    pub hubspot: Option<HubSpot>,
    pub stats: WebhookStats,
    pub settings: ApplierSettings,
    /// Rescores the clients applied events touch; `None` leaves scoring to the full pass.
    pub health: Option<crate::health::Health>,
    /// Re-reads reference data an applied change names and the mirror does not hold (a new property, owner or stage).
    pub reference: Arc<OnMiss>,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub applied: u64,
    pub retried: u64,
    pub dead: u64,
}

impl Pass {
    pub fn handled(&self) -> u64 {
        self.applied + self.retried + self.dead
    }
}

impl std::ops::AddAssign for Pass {
    fn add_assign(&mut self, other: Pass) {
        self.applied += other.applied;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}

/// How the reason of a failure on our side starts (the database, a stored token that does not decrypt, a portal
/// without a credential): retried like any failure, but never reported as HubSpot's.
pub const LOCAL: &str = "local: ";

/// How the reason of a failure HubSpot answered (or did not answer) starts.
pub const UPSTREAM: &str = "HubSpot: ";

/// The reason stored for a failed read, saying whose failure it was.
fn failure(err: &sync::SyncError) -> String {
    match err {
        // HubSpot answered, or could not be reached; anything else (an answer of the wrong shape included) is ours.
        sync::SyncError::HubSpot(e) if e.status.is_some() || e.retryable() => format!("{UPSTREAM}{e}"),
        sync::SyncError::HubSpot(e) => format!("{LOCAL}{}: {}", e.category, e.message),
        sync::SyncError::Db(_) => format!("{LOCAL}{err}"),
    }
}

/// A pass takes at most this many batches of the claimed records' later events besides its batch.
const SAME_RECORDS: u64 = 4;

/// Events applied in one transaction on SQLite ([`Applier::per_transaction`]).
const SQLITE_PER_TRANSACTION: u64 = 100;

/// What one transaction of a pass applied: its events, the records they wait to read from HubSpot, and their
/// outcomes so far.
struct Applied {
    events: Vec<Event>,
    refetch: Refetch,
    outcomes: BTreeMap<i64, Result<(), String>>,
    pass: Pass,
    /// Fewer were due than the transaction could take.
    dry: bool,
}

/// Records events changed that scores read, and the ids of those events.
type Touched = (Vec<(ObjectType, i64)>, Vec<i64>);

/// Records to read from HubSpot, per portal and type, each with the events waiting on the read.
type Refetch = BTreeMap<(i64, ObjectType), BTreeSet<(i64, i64)>>;

/// A record's id and its property changes, each with the id of the event that carried it.
type RecordChanges = (i64, Vec<(i64, events::Change)>);

fn object_type(event: &Event) -> Option<ObjectType> {
    ObjectType::from_singular(event.subscription_type.split('.').next()?)
}

fn kind(event: &Event) -> &str {
    event.subscription_type.split_once('.').map_or("", |(_, kind)| kind)
}

fn id_field(payload: &Value, key: &str) -> Option<i64> {
    payload.get(key).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
}

/// The records an event changed that health scores read: none for a property change the scores do not read; both
/// ends of an association change; the survivor of a merge besides the merged record.
fn scored_records(event: &Event) -> Vec<(ObjectType, i64)> {
    let Some(object_type) = object_type(event) else { return Vec::new() };
    let payload = &event.payload;
    let mut records = vec![(object_type, event.object_id)];
    match kind(event) {
        "propertyChange" => {
            let name = payload.get("propertyName").and_then(Value::as_str).unwrap_or_default();
            if !crate::health::inputs::reads_property(object_type, name) {
                records.clear();
            }
        }
        "associationChange" => {
            // `CONTACT_TO_COMPANY`: the other end is a company.
            let to_type =
                payload.get("associationType").and_then(Value::as_str).and_then(|t| t.rsplit_once("_TO_")).and_then(
                    |(_, to)| ObjectType::BUILT_IN.into_iter().find(|t| t.singular().eq_ignore_ascii_case(to)),
                );
            if let (Some(to_type), Some(to_id)) = (to_type, id_field(payload, "toObjectId")) {
                records.push((to_type, to_id));
            }
        }
        "merge" => {
            if let Some(survivor) = id_field(payload, "newObjectId").or_else(|| id_field(payload, "primaryObjectId")) {
                records.push((object_type, survivor));
            }
        }
        _ => {}
    }
    records
}

/// Takes the events whose ids `ids` selects off the work list, and returns them. On Postgres one statement deletes
/// and reads them. `= ANY(ARRAY(…))` runs each selection once and probes by key whatever the tables' statistics say
/// (as `IN (…)`, planned with the list taken for empty, a claim once re-ran its selection for every row of a grown
/// list, for minutes).
async fn take(txn: &DatabaseTransaction, ids: Statement) -> Result<Vec<Event>, DbErr> {
    let Statement { sql, values, db_backend } = ids;
    if db_backend == DbBackend::Postgres {
        let sql = format!(
            "WITH taken AS (DELETE FROM webhook_queue WHERE id = ANY(ARRAY({sql})) RETURNING id) \
             SELECT * FROM webhook_events WHERE id = ANY(ARRAY(SELECT id FROM taken))"
        );
        let stmt = Statement { sql, values, db_backend };
        return Event::find_by_statement(stmt).all(txn).await;
    }
    // SQLite has one writer at a time: nothing to skip.
    let sql = format!("DELETE FROM webhook_queue WHERE id IN ({sql}) RETURNING id");
    let rows = txn.query_all_raw(Statement { sql, values, db_backend }).await?;
    let taken = rows.iter().map(|row| row.try_get::<i64>("", "id")).collect::<Result<Vec<_>, _>>()?;
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    webhook_event::Entity::find().filter(C::Id.is_in(taken)).all(txn).await
}

impl Applier {
    /// Applies everything due, pass after pass, until the log has nothing due, then rescores the clients the
    /// passes changed.
    pub async fn drain(&self) -> Result<Pass, DbErr> {
        let mut total = Pass::default();
        loop {
            let pass = self.pass().await?;
            if pass.handled() == 0 {
                if let Some(health) = &self.health {
                    health.rescore_pending().await;
                }
                return Ok(total);
            }
            total += pass;
        }
    }

    /// Runs for ever: a pass, or a pause when nothing is due, cut short by a delivery this process stores (another
    /// replica's deliveries wait for the poll).
    pub async fn run(self) {
        self.run_until(CancellationToken::new()).await;
    }

    /// Runs until `stop` is cancelled, then returns once the pass under way has ended and the clients the passes
    /// changed are rescored. A pass is never cut: it commits what it applied, and what it leased for a read from
    /// HubSpot goes back on the work list for the next start (or another replica) once the lease ends.
    pub async fn run_until(self, stop: CancellationToken) {
        let passes_ended = CancellationToken::new();
        let passes = async {
            self.passes_until(&stop).await;
            passes_ended.cancel();
        };
        tokio::join!(passes, self.rescore_until(&passes_ended));
    }

    /// Rescores the clients of the records passes mark, whenever some are marked, until `stop` is cancelled; then
    /// once more for what the last passes marked.
    async fn rescore_until(&self, stop: &CancellationToken) {
        let Some(health) = &self.health else { return };
        while !stop.is_cancelled() {
            tokio::select! {
                () = async {
                    health.pending.marked().await;
                    health.pending.caught_up(crate::health::pending::MOST_DEFERRED).await;
                } => health.rescore_pending().await,
                () = stop.cancelled() => {}
            }
        }
        health.rescore_pending().await;
    }

    async fn passes_until(&self, stop: &CancellationToken) {
        while !stop.is_cancelled() {
            match self.pass().await {
                Ok(pass) if pass.handled() > 0 => {}
                Ok(_) => {
                    tokio::select! {
                        _ = tokio::time::timeout(self.settings.idle, self.stats.arrivals.notified()) => {}
                        () = stop.cancelled() => {}
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "webhook applier: the event log is unreachable");
                    tokio::select! {
                        () = tokio::time::sleep(self.settings.min_backoff) => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        }
    }

    /// Claims a batch of due events and applies it: what needs no read from HubSpot in transactions of
    /// [`Self::per_transaction`] events, then one read from HubSpot for the whole batch's records.
    pub async fn pass(&self) -> Result<Pass, DbErr> {
        let mut claimed: Vec<Event> = Vec::new();
        let mut refetch = Refetch::new();
        let mut outcomes: BTreeMap<i64, Result<(), String>> = BTreeMap::new();
        let mut pass = Pass::default();
        let per_transaction = self.per_transaction();
        let mut behind = false;
        for _ in 0..self.settings.batch.div_ceil(per_transaction) {
            let Some(applied) = self.apply_some(per_transaction).await? else { break };
            let dry = applied.dry;
            behind = !dry;
            claimed.extend(applied.events);
            for (key, waiting) in applied.refetch {
                refetch.entry(key).or_default().extend(waiting);
            }
            outcomes.extend(applied.outcomes);
            pass += applied.pass;
            if dry {
                break;
            }
        }
        if let Some(health) = &self.health {
            health.pending.pass_ended(behind);
        }
        if claimed.is_empty() {
            return Ok(Pass::default());
        }
        let mut read: BTreeMap<i64, Result<(), String>> = BTreeMap::new();
        for ((portal, object_type), ids) in refetch {
            let result = match &self.hubspot {
                None => Err(format!("{LOCAL}no HubSpot client is configured to read the record")),
                Some(hubspot) => {
                    let ids: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
                    sync::refresh(&self.db, hubspot, portal, object_type, &ids).await.map(drop).map_err(|e| failure(&e))
                }
            };
            for (_, event_id) in ids {
                read.insert(event_id, result.clone());
            }
        }
        if !read.is_empty() {
            pass += self.record_apart(&claimed, &read).await?;
            outcomes.extend(read);
        }
        self.look_up_unknowns(&claimed, &outcomes).await?;
        if let Some(health) = &self.health {
            // Rescored beside the next passes (`rescore_until`), once they have caught up: a hot record is marked
            // by pass after pass while its clients wait, and rescored once for them.
            let mut touched: BTreeMap<i64, Touched> = BTreeMap::new();
            for event in claimed.iter().filter(|e| outcomes.get(&e.id).is_some_and(Result::is_ok)) {
                let records = scored_records(event);
                if !records.is_empty() {
                    let (all, events) = touched.entry(event.portal_id).or_default();
                    all.extend(records);
                    events.push(event.event_id);
                }
            }
            for (portal, (records, events)) in touched {
                health.pending.mark(portal, records, &events);
            }
        }
        Ok(pass)
    }

    /// Applied property changes that name a property, owner or stage the mirror does not know: that kind is re-read
    /// in the background (HubSpot sends no webhooks for reference data).
    async fn look_up_unknowns(
        &self,
        claimed: &[Event],
        outcomes: &BTreeMap<i64, Result<(), String>>,
    ) -> Result<(), DbErr> {
        let Some(hubspot) = &self.hubspot else { return Ok(()) };
        let mut changes: BTreeMap<(i64, ObjectType), Vec<sync::reference::Change>> = BTreeMap::new();
        let applied = claimed.iter().filter(|e| outcomes.get(&e.id).is_some_and(Result::is_ok));
        for event in applied.filter(|e| kind(e) == "propertyChange") {
            let (Some(object_type), Some(name)) = (object_type(event), event.payload["propertyName"].as_str()) else {
                continue;
            };
            let value = event.payload["propertyValue"].as_str().map(str::to_owned);
            changes.entry((event.portal_id, object_type)).or_default().push((name.to_owned(), value));
        }
        for ((portal, object_type), changes) in changes {
            for kind in sync::reference::unknown_in(&self.db, portal, object_type, &changes).await? {
                self.reference.refresh_in_background(&self.db, hubspot, portal, kind);
            }
        }
        Ok(())
    }

    /// Events a pass claims and applies in one transaction. SQLite has one writer, and a webhook delivery waits for
    /// the transaction before it: in transactions of 100 instead of 500 the deliveries' ack p99 fell from 361 ms to
    /// 194-200, and the pass still reads HubSpot once for its whole batch (BENCHMARKS.md). Postgres locks rows, not
    /// the database.
    fn per_transaction(&self) -> u64 {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => Ord::min(self.settings.batch, SQLITE_PER_TRANSACTION),
            _ => self.settings.batch,
        }
    }

    /// Claims up to `limit` due events and applies them in one transaction; `None` when none was due.
    async fn apply_some(&self, limit: u64) -> Result<Option<Applied>, DbErr> {
        let txn = self.begin().await?;
        let (mut events, dry) = self.claim(&txn, limit).await?;
        if events.is_empty() {
            txn.commit().await?;
            return Ok(None);
        }
        // Per property the newest change wins whatever the order, so records can go in key order: replicas then
        // lock rows in one order and never deadlock.
        events.sort_by(|a, b| {
            let key = |e: &Event| (e.portal_id, object_type(e), e.object_id, e.occurred_at, e.id);
            key(a).cmp(&key(b))
        });
        let mut outcomes: BTreeMap<i64, Result<(), String>> = BTreeMap::new();
        let (refetch, pass) = match self.apply_claimed(txn, &events, &mut outcomes).await {
            Ok(applied) => applied,
            Err(err) => {
                // The transaction applied none of them: each is retried, after a backoff, so that an event that
                // breaks the transaction every time ends dead instead of blocking the log.
                tracing::warn!(error = %err, "webhook applier: a pass failed, its events will be retried");
                outcomes = events.iter().map(|e| (e.id, Err(format!("{LOCAL}writing the mirror: {err}")))).collect();
                (Refetch::new(), self.record_apart(&events, &outcomes).await?)
            }
        };
        Ok(Some(Applied { events, refetch, outcomes, pass, dry }))
    }

    /// In the claim's transaction: applies what needs no read from HubSpot and marks it, leases the events that
    /// wait on a read, and commits. Returns the records to read, with the events waiting on each.
    async fn apply_claimed(
        &self,
        txn: WriteTransaction,
        claimed: &[Event],
        outcomes: &mut BTreeMap<i64, Result<(), String>>,
    ) -> Result<(Refetch, Pass), DbErr> {
        let refetch = self.apply_in_place(&txn, claimed, outcomes).await?;
        let waiting: Vec<i64> = refetch.values().flatten().map(|(_, event_id)| *event_id).collect();
        if !waiting.is_empty() {
            let lease = Utc::now() + self.settings.lease;
            let rows =
                waiting.into_iter().map(|id| webhook_queue::ActiveModel { id: Set(id), next_attempt_at: Set(lease) });
            webhook_queue::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        }
        let pass = self.record(&txn, claimed, outcomes, false).await?;
        txn.commit().await?;
        Ok((refetch, pass))
    }

    /// A write transaction whose commit does not wait for the disk: a crash can lose only the last passes, whose
    /// events the log then holds as pending again (they were marked in the transaction that applied them), and
    /// applying them again changes nothing newer.
    async fn begin(&self) -> Result<WriteTransaction, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
        }
        Ok(txn)
    }

    /// Takes up to `limit` due events off the work list, oldest first, with the later due events of the same
    /// records, and says whether fewer than `limit` were due. Postgres skips the events another applier holds.
    /// Taken in the caller's transaction: unless it commits, they are on the list again.
    ///
    /// Postgres plans the claim's statements for the log as it is now. The log grows and drains by orders of
    /// magnitude within minutes, and a generic plan cached while it was small (a sequential scan filtering by a list
    /// of 500 ids) stayed in use at every size: nothing invalidates it while autovacuum is off. The statements that
    /// follow keep Postgres's plan cache: planning each of them, the property index's trigger included, was a tenth
    /// of Postgres's time while it worked off a backlog.
    async fn claim(&self, txn: &DatabaseTransaction, limit: u64) -> Result<(Vec<Event>, bool), DbErr> {
        let backend = txn.get_database_backend();
        if backend != DbBackend::Postgres {
            return self.claim_planned(txn, limit).await;
        }
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan").await?;
        let claimed = self.claim_planned(txn, limit).await?;
        txn.execute_unprepared("SET LOCAL plan_cache_mode TO DEFAULT").await?;
        Ok(claimed)
    }

    async fn claim_planned(&self, txn: &DatabaseTransaction, limit: u64) -> Result<(Vec<Event>, bool), DbErr> {
        let now = Utc::now();
        let backend = txn.get_database_backend();
        let due = Query::select()
            .column(Q::Id)
            .from(webhook_queue::Entity)
            .and_where(Expr::col(Q::NextAttemptAt).lte(now))
            .order_by(Q::Id, Order::Asc)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let mut claimed = take(txn, backend.build(&due)).await?;
        // Every due event up to the last claimed that no other applier holds is claimed, so the records' other due
        // events come after it. They come along: the pass writes each record once for all of them, so the deeper a
        // backlog, the fewer writes per event it takes to drain.
        let dry = (claimed.len() as u64) < limit;
        let Some(last) = claimed.iter().map(|e| e.id).max() else { return Ok((Vec::new(), true)) };
        let mut records: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        for event in &claimed {
            records.entry(event.portal_id).or_default().insert(event.object_id);
        }
        for (portal, objects) in records {
            claimed.extend(take(txn, Self::later_events(backend, portal, objects, last, limit, now)).await?);
        }
        Ok((claimed, dry))
    }

    /// The statement selecting (on Postgres, locking) the ids of the due events of `objects` in `portal` after event
    /// `last`, up to [`SAME_RECORDS`] times `limit`.
    fn later_events(
        backend: DbBackend,
        portal: i64,
        objects: BTreeSet<i64>,
        last: i64,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Statement {
        let limit = limit * SAME_RECORDS;
        if backend == DbBackend::Postgres {
            // One index probe per record, forced by LATERAL: as `object_id IN (…)`, planned without the log's column
            // statistics (autovacuum off), it walked every pending event of the portal.
            let records: Vec<String> = (0..objects.len()).map(|i| format!("(${}::bigint)", i + 5)).collect();
            let sql = format!(
                "SELECT e.id FROM (VALUES {}) AS r(id), LATERAL (SELECT q.id FROM webhook_events w JOIN webhook_queue q \
                 ON q.id = w.id WHERE w.portal_id = $1 AND w.object_id = r.id AND w.id > $2 AND q.next_attempt_at <= $3 \
                 FOR UPDATE OF q SKIP LOCKED) e LIMIT $4",
                records.join(", ")
            );
            let mut values: Vec<sea_orm::Value> = vec![portal.into(), last.into(), now.into(), (limit as i64).into()];
            values.extend(objects.into_iter().map(sea_orm::Value::from));
            Statement::from_sql_and_values(backend, sql, values)
        } else {
            let queued = Query::select()
                .expr(Expr::val(1))
                .from(webhook_queue::Entity)
                .and_where(Expr::col((webhook_queue::Entity, Q::Id)).equals((webhook_event::Entity, C::Id)))
                .and_where(Expr::col((webhook_queue::Entity, Q::NextAttemptAt)).lte(now))
                .to_owned();
            let due = Query::select()
                .column(C::Id)
                .from(webhook_event::Entity)
                .and_where(Expr::col(C::PortalId).eq(portal))
                .and_where(Expr::col(C::ObjectId).is_in(objects))
                .and_where(Expr::col(C::Id).gt(last))
                .and_where(Expr::exists(queued))
                .limit(limit)
                .to_owned();
            backend.build(&due)
        }
    }

    /// Applies what needs no call to HubSpot, in one transaction, and says which records to read from HubSpot
    /// (with the events waiting on each).
    async fn apply_in_place(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
        outcomes: &mut BTreeMap<i64, Result<(), String>>,
    ) -> Result<Refetch, DbErr> {
        let mut refetch = Refetch::new();
        // Property changes per type, per record, each with its event; events come sorted by record, so a record's
        // changes are adjacent.
        let mut changes: BTreeMap<(i64, ObjectType), Vec<RecordChanges>> = BTreeMap::new();
        let mut created: BTreeMap<(i64, ObjectType), Vec<(i64, i64)>> = BTreeMap::new();
        // Deletions `(id, at)` and merges `(merged, survivor)` per type, written together after the loop.
        let mut deleted: BTreeMap<(i64, ObjectType), Vec<(i64, i64)>> = BTreeMap::new();
        let mut merges: BTreeMap<(i64, ObjectType), Vec<(i64, i64)>> = BTreeMap::new();
        for event in events {
            let (portal, id, payload) = (event.portal_id, event.object_id, &event.payload);
            let Some(object_type) = object_type(event) else {
                outcomes.insert(event.id, Err(format!("unknown object type in {}", event.subscription_type)));
                continue;
            };
            let mut read = |id: i64| refetch.entry((portal, object_type)).or_default().insert((id, event.id));
            match kind(event) {
                "propertyChange" => {
                    let name = payload.get("propertyName").and_then(Value::as_str);
                    let Some(name) = name.filter(|_| payload.get("redacted").is_none()) else {
                        // Redacted by a GDPR erasure, or sent without a name: nothing to apply.
                        outcomes.insert(event.id, Ok(()));
                        continue;
                    };
                    let value = match payload.get("propertyValue") {
                        Some(Value::String(s)) => Some(s.clone()),
                        None | Some(Value::Null) => None,
                        Some(other) => Some(other.to_string()),
                    };
                    let change = events::Change { name: name.to_owned(), value, occurred_ms: event.occurred_at };
                    // Applied with the record's other changes once the record's events are all seen.
                    let records = changes.entry((portal, object_type)).or_default();
                    if records.last().is_none_or(|(last, _)| *last != id) {
                        records.push((id, Vec::new()));
                    }
                    records.last_mut().expect("pushed above").1.push((event.id, change));
                }
                "deletion" => {
                    deleted.entry((portal, object_type)).or_default().push((id, event.occurred_at));
                    outcomes.insert(event.id, Ok(()));
                }
                "privacyDeletion" => {
                    events::erase_contact(txn, portal, id).await?;
                    outcomes.insert(event.id, Ok(()));
                }
                "merge" => {
                    let survivor =
                        id_field(payload, "newObjectId").or_else(|| id_field(payload, "primaryObjectId")).unwrap_or(id);
                    let merged: Vec<i64> = payload
                        .get("mergedObjectIds")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
                        .filter(|m| *m != survivor)
                        .collect();
                    merges.entry((portal, object_type)).or_default().extend(merged.into_iter().map(|m| (m, survivor)));
                    read(survivor);
                }
                "associationChange" => {
                    read(id_field(payload, "fromObjectId").unwrap_or(id));
                }
                "creation" => {
                    created.entry((portal, object_type)).or_default().push((id, event.id));
                }
                // restore, and anything else that names a record: HubSpot's state of it
                _ => {
                    read(id);
                }
            }
        }
        for ((portal, object_type), deleted) in deleted {
            events::tombstone(txn, portal, object_type, &deleted).await?;
        }
        let now = Utc::now();
        for ((portal, object_type), merged) in merges {
            crate::mirror::mark_merged(txn, portal, object_type, &merged, now).await?;
        }
        // A creation the mirror already holds (written by the gateway's own create, a fallback read or the sweep)
        // needs no read: HubSpot's state then is what the mirror got.
        for ((portal, object_type), records) in created {
            let ids: Vec<i64> = records.iter().map(|(id, _)| *id).collect();
            let held = mirror::held(txn, portal, object_type, &ids).await?;
            for (id, event_id) in records {
                if held.contains(&id) {
                    outcomes.insert(event_id, Ok(()));
                } else {
                    refetch.entry((portal, object_type)).or_default().insert((id, event_id));
                }
            }
        }
        // One write per type for all its records.
        for ((portal, object_type), records) in changes {
            let list: Vec<(i64, Vec<events::Change>)> =
                records.iter().map(|(id, changes)| (*id, changes.iter().map(|(_, c)| c.clone()).collect())).collect();
            let missing = events::set_properties(txn, portal, object_type, &list).await?;
            for (id, record_changes) in records {
                for (event_id, _) in record_changes {
                    if missing.contains(&id) {
                        refetch.entry((portal, object_type)).or_default().insert((id, event_id));
                    } else {
                        outcomes.insert(event_id, Ok(()));
                    }
                }
            }
        }
        Ok(refetch)
    }

    /// [`Self::record`] in a transaction of its own, for outcomes known after the pass's transaction ended.
    async fn record_apart(
        &self,
        events: &[Event],
        outcomes: &BTreeMap<i64, Result<(), String>>,
    ) -> Result<Pass, DbErr> {
        let txn = self.begin().await?;
        let pass = self.record(&txn, events, outcomes, true).await?;
        txn.commit().await?;
        Ok(pass)
    }

    /// Marks each event with an outcome applied, due again later, or dead. `listed`: whether the events are on the
    /// work list (the pass's transaction took them off it; a failed pass's rollback and a lease put them back).
    async fn record(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
        outcomes: &BTreeMap<i64, Result<(), String>>,
        listed: bool,
    ) -> Result<Pass, DbErr> {
        let now = Utc::now();
        let mut pass = Pass::default();
        let applied: Vec<i64> = outcomes.iter().filter(|(_, o)| o.is_ok()).map(|(id, _)| *id).collect();
        if !applied.is_empty() {
            webhook_event::Entity::update_many()
                .col_expr(C::State, Expr::val(state::APPLIED))
                .col_expr(C::AppliedAt, Expr::val(now))
                .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
                .col_expr(C::LastError, Expr::val(Option::<String>::None))
                .filter(C::Id.is_in(applied.iter().copied()))
                .exec(txn)
                .await?;
            if listed {
                webhook_queue::Entity::delete_many().filter(Q::Id.is_in(applied.iter().copied())).exec(txn).await?;
            }
            pass.applied = applied.len() as u64;
            for event in events.iter().filter(|e| outcomes.get(&e.id).is_some_and(Result::is_ok)) {
                self.stats.count_applied(now - event.received_at);
            }
        }
        for event in events {
            let Some(Err(reason)) = outcomes.get(&event.id) else { continue };
            let attempts = event.attempts + 1;
            let dead = attempts >= self.settings.max_attempts;
            let backoff = self.settings.min_backoff.saturating_mul(1 << (attempts - 1).clamp(0, 20) as u32);
            let next: DateTime<Utc> = now + backoff.min(self.settings.max_backoff);
            let marked = webhook_event::Entity::update_many()
                .col_expr(C::State, Expr::val(if dead { state::DEAD } else { state::PENDING }))
                .col_expr(C::Attempts, Expr::val(attempts))
                .col_expr(C::LastError, Expr::val(reason.clone()))
                .col_expr(C::NextAttemptAt, Expr::val(next))
                .filter(C::Id.eq(event.id))
                // Unless another applier took the event since (after a failed pass, which held nothing).
                .filter(C::State.eq(state::PENDING))
                .filter(C::Attempts.eq(event.attempts))
                .exec(txn)
                .await?;
            if marked.rows_affected > 0 {
                if dead {
                    webhook_queue::Entity::delete_many().filter(Q::Id.eq(event.id)).exec(txn).await?;
                } else {
                    // On the list again (or still, when `listed`), due at `next`.
                    let row = webhook_queue::ActiveModel { id: Set(event.id), next_attempt_at: Set(next) };
                    webhook_queue::Entity::insert(row)
                        .on_conflict(OnConflict::column(Q::Id).update_column(Q::NextAttemptAt).to_owned())
                        .exec_without_returning(txn)
                        .await?;
                }
            }
            if dead {
                pass.dead += 1;
                self.stats.count_dead();
                let local = reason.starts_with(LOCAL);
                tracing::error!(event = event.id, kind = %event.subscription_type, local, %reason, "webhook event dead");
            } else {
                pass.retried += 1;
                let local = reason.starts_with(LOCAL);
                tracing::warn!(event = event.id, kind = %event.subscription_type, local, %reason, attempts, "webhook event will be retried");
            }
        }
        Ok(pass)
    }
}
