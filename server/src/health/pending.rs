//! Records whose clients wait to be rescored after applied webhooks. The appliers mark them and go on to their next
//! pass; a rescoring loop beside them takes everything marked at once. A busy portal changes its few hot records
//! pass after pass: marked again while they wait, they are rescored once for all those passes (BENCHMARKS.md).
//!
//! While the appliers work off a backlog the loop waits, up to [`MOST_DEFERRED`], for them to catch up: a client
//! rescored mid-backlog is rescored again once its records' later events are applied, and that rescoring took a
//! third of the appliers' time on a burst (BENCHMARKS.md).
//!
//! The set holds one entry per record changed since the loop last took it, so it is bounded by the records the
//! appliers change in one rescoring round; a process that dies loses what it held, which the next full pass scores.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hubspot::ObjectType;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Event ids a rescoring's cause names at most (a round may follow thousands of events).
const NAMED_EVENTS: usize = 10;

/// How long marked records wait for the appliers to catch up at most: how far behind the mirror a score may fall
/// while a backlog lasts.
pub const MOST_DEFERRED: Duration = Duration::from_secs(5);

/// What one portal's marked records wait for: the records and the events that changed them.
#[derive(Debug, Default)]
pub struct Marked {
    pub records: BTreeSet<(ObjectType, i64)>,
    events: usize,
    event_ids: Vec<i64>,
}

impl Marked {
    /// The cause the rescoring reports: the events counted, a few of them named.
    pub fn cause(&self) -> Value {
        json!({ "kind": "webhook", "events": self.events, "eventIds": self.event_ids })
    }
}

/// The records marked, per portal, shared by the appliers of one process.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    marked: Arc<Mutex<BTreeMap<i64, Marked>>>,
    /// Records marked whose rescoring round has not ended, for `/metrics`.
    held: Arc<AtomicU64>,
    wake: Arc<Notify>,
    /// Held through a rescoring round: rounds take turns, so records marked meanwhile wait for the next round
    /// whole instead of starting a round of their own.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Whether the last pass of this process's appliers left events due behind it.
    behind: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Pending {
    /// Marks `records` of `portal`, changed by the events `event_ids`, and wakes a rescoring loop.
    pub fn mark(&self, portal: i64, records: impl IntoIterator<Item = (ObjectType, i64)>, event_ids: &[i64]) {
        let mut marked = self.marked.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = marked.entry(portal).or_default();
        let before = entry.records.len();
        entry.records.extend(records);
        self.held.fetch_add((entry.records.len() - before) as u64, Ordering::Relaxed);
        entry.events += event_ids.len();
        let room = NAMED_EVENTS.saturating_sub(entry.event_ids.len());
        entry.event_ids.extend(event_ids.iter().take(room));
        drop(marked);
        self.wake.notify_one();
    }

    /// Waits for the rounds before to end; the round lasts while the guard is held.
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Everything marked, leaving the set empty; [`Self::done`] says when the round that took it ended.
    pub fn take(&self) -> BTreeMap<i64, Marked> {
        let mut marked = self.marked.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *marked)
    }

    /// The round that took `marked` ended.
    pub fn done(&self, marked: &Marked) {
        self.held.fetch_sub(marked.records.len() as u64, Ordering::Relaxed);
    }

    /// Records marked whose rescoring round has not ended.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// The counter `held` reads, for `/metrics`.
    pub fn gauge(&self) -> Arc<AtomicU64> {
        self.held.clone()
    }

    /// Waits until something is marked (at once when something was marked since the last wait).
    pub async fn marked(&self) {
        self.wake.notified().await;
    }

    /// An applier's pass ended; `behind`: it took a full batch, so more events were due.
    pub fn pass_ended(&self, behind: bool) {
        self.behind.send_if_modified(|was| std::mem::replace(was, behind) != behind);
    }

    /// Whether the last pass left events due behind it.
    pub fn behind(&self) -> bool {
        *self.behind.borrow()
    }

    /// Waits until the appliers have caught up (at once when they are), or `most` at the longest.
    pub async fn caught_up(&self, most: Duration) {
        let mut behind = self.behind.subscribe();
        let _ = tokio::time::timeout(most, behind.wait_for(|behind| !behind)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_marked_twice_wait_once_and_the_cause_counts_every_event() {
        let pending = Pending::default();
        pending.mark(1, [(ObjectType::Company, 7), (ObjectType::Contact, 8)], &[100, 101]);
        pending.mark(1, [(ObjectType::Company, 7)], &(102..120).collect::<Vec<_>>());
        pending.mark(2, [(ObjectType::Deal, 9)], &[200]);
        assert_eq!(pending.held(), 3, "the company marked twice is held once");
        let taken = pending.take();
        assert!(pending.take().is_empty(), "taking empties the set");
        assert_eq!(pending.held(), 3, "held until the round ends");
        pending.mark(2, [(ObjectType::Deal, 9)], &[201]);
        assert_eq!(pending.held(), 4, "marked again during the round: it waits for the next");
        taken.values().for_each(|marked| pending.done(marked));
        assert_eq!(pending.held(), 1);
        let first = &taken[&1];
        assert_eq!(first.records.len(), 2);
        let cause = first.cause();
        assert_eq!(cause["events"], 20, "every event counts");
        assert_eq!(cause["eventIds"].as_array().unwrap().len(), NAMED_EVENTS, "a few are named");
        assert_eq!(cause["eventIds"][0], 100);
        assert_eq!(taken[&2].cause()["events"], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn rescoring_waits_while_the_appliers_are_behind_within_a_bound() {
        let pending = Pending::default();
        let start = tokio::time::Instant::now();
        pending.caught_up(MOST_DEFERRED).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "no pass behind: no wait");
        pending.pass_ended(true);
        pending.caught_up(MOST_DEFERRED).await;
        assert_eq!(start.elapsed(), MOST_DEFERRED, "behind and never caught up: the bound");
        let waiting = {
            let pending = pending.clone();
            tokio::spawn(async move {
                pending.caught_up(Duration::from_secs(3_600)).await;
                tokio::time::Instant::now()
            })
        };
        // On the paused clock: passes end a second apart.
        tokio::time::sleep(Duration::from_secs(1)).await;
        pending.pass_ended(true);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "another full pass keeps it waiting");
        pending.pass_ended(false);
        let ended = waiting.await.unwrap();
        assert_eq!(ended - start, MOST_DEFERRED + Duration::from_secs(2), "it ends when a pass catches up");
    }
}
