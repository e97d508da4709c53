//! Retention: a pass deletes applied and ignored webhook events past `WEBHOOK_RETENTION_DAYS` in batches and keeps
//! pending and dead ones however old; purges expired OAuth states, tickets and idempotency keys and keeps live ones;
//! compacts health score history older than the detail window to each client's last change of a UTC day. On
//! Postgres the passes run on the replica holding the `retention` lease only, and move to another when it stops.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use entities::{health_score_history, idempotency_key, lease, oauth_state, oauth_ticket, webhook_event, webhook_queue};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, NotSet, PaginatorTrait, QueryOrder, QuerySelect};
use serde_json::json;
use server::{
    leases::Leases,
    retention::{self, BATCH, Deleted, Policy, Retention},
};
use tests::{Backend, TestDb, on_both, wait_for};

const POLICY: Policy = Policy { webhook_days: 30, history_detail_days: 90 };

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 9, 15, 30, 0).unwrap()
}

fn days_ago(days: i64) -> DateTime<Utc> {
    now() - TimeDelta::days(days)
}

fn event(
    key: String,
    state: &str,
    received: DateTime<Utc>,
    applied: Option<DateTime<Utc>>,
) -> webhook_event::ActiveModel {
    webhook_event::ActiveModel {
        id: NotSet,
        batch_id: Set("batch".to_owned()),
        portal_id: Set(1),
        event_id: Set(1),
        subscription_type: Set("contact.propertyChange".to_owned()),
        object_id: Set(7),
        occurred_at: Set(received.timestamp_millis()),
        dedupe_key: Set(key),
        payload: Set(json!({ "propertyName": "email", "propertyValue": "ada@example.com" })),
        state: Set(state.to_owned()),
        attempts: Set(1),
        last_error: Set(None),
        received_at: Set(received),
        next_attempt_at: Set(received),
        applied_at: Set(applied),
    }
}

/// Inserts one event; its id.
async fn insert_event(db: &DatabaseConnection, model: webhook_event::ActiveModel) -> i64 {
    webhook_event::Entity::insert(model).exec(db).await.unwrap().last_insert_id
}

async fn event_ids(db: &DatabaseConnection) -> Vec<i64> {
    webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::Id)
        .order_by_asc(webhook_event::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .unwrap()
}

on_both!(settled_webhook_events_past_retention_are_deleted_and_work_still_to_do_is_kept, |backend| async move {
    let db = TestDb::migrated(backend).await;
    let db = &db.db;
    // More old applied events than a batch, so the pass takes several statements.
    let old = 2 * BATCH + 7;
    for chunk in (0..old).collect::<Vec<_>>().chunks(500) {
        let rows = chunk.iter().map(|i| event(format!("old-{i}"), "applied", days_ago(40), Some(days_ago(40))));
        webhook_event::Entity::insert_many(rows).exec(db).await.unwrap();
    }
    let ignored = insert_event(db, event("ignored".into(), "ignored", days_ago(31), None)).await;
    let recent = insert_event(db, event("recent".into(), "applied", days_ago(29), Some(days_ago(29)))).await;
    // Received long ago, applied within the window (a replay): kept until its application is as old.
    let replayed = insert_event(db, event("replayed".into(), "applied", days_ago(60), Some(days_ago(2)))).await;
    let pending = insert_event(db, event("pending".into(), "pending", days_ago(90), None)).await;
    let queue = webhook_queue::ActiveModel { id: Set(pending), next_attempt_at: Set(days_ago(90)) };
    webhook_queue::Entity::insert(queue).exec_without_returning(db).await.unwrap();
    let dead = insert_event(db, event("dead".into(), "dead", days_ago(90), None)).await;
    let recent_ignored = insert_event(db, event("recent-ignored".into(), "ignored", days_ago(3), None)).await;

    let deleted = Retention::new(db.clone(), POLICY).pass(now()).await.unwrap();
    assert_eq!(deleted.webhook_events, old + 1, "every old applied event and the old ignored one");
    assert!(!event_ids(db).await.contains(&ignored));
    assert_eq!(event_ids(db).await, [recent, replayed, pending, dead, recent_ignored]);
    assert_eq!(webhook_queue::Entity::find().count(db).await.unwrap(), 1, "the pending event is still queued");

    // Nothing more to do: a second pass deletes nothing.
    let again = Retention::new(db.clone(), POLICY).pass(now()).await.unwrap();
    assert_eq!(again, Deleted::default());
});

on_both!(expired_oauth_states_tickets_and_idempotency_keys_are_purged_and_live_ones_kept, |backend| async move {
    let db = TestDb::migrated(backend).await;
    let db = &db.db;
    for (name, expires) in [("expired", now() - TimeDelta::minutes(1)), ("live", now() + TimeDelta::minutes(9))] {
        let state = oauth_state::ActiveModel {
            state: Set(name.to_owned()),
            expires_at: Set(expires),
            created_at: Set(now() - TimeDelta::minutes(10)),
            browser_hash: Set(None),
            created_by: Set(None),
        };
        oauth_state::Entity::insert(state).exec_without_returning(db).await.unwrap();
        let ticket = oauth_ticket::ActiveModel {
            ticket_hash: Set(name.to_owned()),
            created_by: Set("key:1".to_owned()),
            expires_at: Set(expires),
            created_at: Set(now() - TimeDelta::minutes(10)),
        };
        oauth_ticket::Entity::insert(ticket).exec_without_returning(db).await.unwrap();
    }
    let key = |portal: i64, key: &str, hubspot_id: Option<i64>, expires: DateTime<Utc>| idempotency_key::ActiveModel {
        portal_id: Set(portal),
        object_type: Set("contact".to_owned()),
        key: Set(key.to_owned()),
        hubspot_id: Set(hubspot_id),
        created_at: Set(expires - TimeDelta::hours(24)),
        expires_at: Set(expires),
    };
    let keys = [
        key(1, "expired", Some(11), now() - TimeDelta::seconds(1)),
        key(2, "expired", None, now() - TimeDelta::hours(30)),
        key(1, "live", Some(12), now() + TimeDelta::hours(1)),
        key(2, "live-pending", None, now() + TimeDelta::seconds(30)),
    ];
    idempotency_key::Entity::insert_many(keys).exec_without_returning(db).await.unwrap();
    // A claim that lapsed minutes ago without a record: its create's outcome is unknown, so the key stays for its retry.
    let lapsed = idempotency_key::ActiveModel {
        created_at: Set(now() - TimeDelta::minutes(20)),
        ..key(2, "lapsed-claim", None, now() - TimeDelta::minutes(5))
    };
    idempotency_key::Entity::insert(lapsed).exec_without_returning(db).await.unwrap();

    let deleted = Retention::new(db.clone(), POLICY).pass(now()).await.unwrap();
    assert_eq!((deleted.oauth_states, deleted.oauth_tickets, deleted.idempotency_keys), (1, 1, 2));
    let states: Vec<String> = oauth_state::Entity::find().all(db).await.unwrap().into_iter().map(|s| s.state).collect();
    assert_eq!(states, ["live"]);
    let tickets: Vec<String> =
        oauth_ticket::Entity::find().all(db).await.unwrap().into_iter().map(|t| t.ticket_hash).collect();
    assert_eq!(tickets, ["live"]);
    let mut kept: Vec<(i64, String)> =
        idempotency_key::Entity::find().all(db).await.unwrap().into_iter().map(|k| (k.portal_id, k.key)).collect();
    kept.sort();
    assert_eq!(kept, [(1, "live".to_owned()), (2, "lapsed-claim".to_owned()), (2, "live-pending".to_owned())]);
});

fn change(portal: i64, subject: i64, overall: i32, at: DateTime<Utc>) -> health_score_history::ActiveModel {
    health_score_history::ActiveModel {
        id: NotSet,
        portal_id: Set(portal),
        subject_type: Set("company".to_owned()),
        subject_id: Set(subject),
        overall: Set(overall),
        crm: Set(overall),
        payment: Set(overall),
        engagement: Set(overall),
        support: Set(overall),
        churn_risk: Set(100 - overall),
        previous_overall: Set(None),
        cause: Set(json!({ "kind": "test" })),
        computed_at: Set(at),
    }
}

/// A UTC time `days` before `now()`'s day, at `hour:minute`.
fn at(days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    let day = now().date_naive() - TimeDelta::days(days);
    day.and_hms_opt(hour, minute, 0).unwrap().and_utc()
}

on_both!(history_past_the_detail_window_keeps_each_clients_last_change_of_a_utc_day, |backend| async move {
    let db = TestDb::migrated(backend).await;
    let db = &db.db;
    // (portal, company, overall, when), written in time order as scoring writes them.
    let rows = [
        (1, 10, 50, at(120, 9, 0)),   // superseded by 12:00 and 23:59 the same day
        (1, 11, 70, at(120, 10, 0)),  // another company's only change that day: kept
        (2, 10, 40, at(120, 11, 0)),  // another portal's company 10: kept
        (1, 10, 51, at(120, 12, 0)),  // superseded
        (1, 10, 52, at(120, 23, 59)), // the day's last: kept
        (1, 10, 53, at(119, 0, 1)),   // superseded by 02:00
        (1, 10, 54, at(119, 2, 0)),   // kept
        (1, 10, 60, at(91, 8, 0)),    // the last day before the cutoff, alone: kept
        (1, 10, 61, at(90, 8, 0)),    // within the detail window: every change kept
        (1, 10, 62, at(90, 9, 0)),
        (1, 10, 63, at(1, 9, 0)),
        (1, 10, 64, at(1, 10, 0)),
    ];
    for (portal, subject, overall, when) in rows {
        health_score_history::Entity::insert(change(portal, subject, overall, when)).exec(db).await.unwrap();
    }
    let mut retention = Retention::new(db.clone(), POLICY);
    let deleted = retention.pass(now()).await.unwrap();
    assert_eq!(deleted.health_score_history, 3);
    let kept: Vec<(i64, i32)> = health_score_history::Entity::find()
        .order_by_asc(health_score_history::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.portal_id, h.overall))
        .collect();
    assert_eq!(kept, [(1, 70), (2, 40), (1, 52), (1, 54), (1, 60), (1, 61), (1, 62), (1, 63), (1, 64)]);

    // A day later two more changes of the 90th day have aged out: its last (62) stays.
    let deleted = retention.pass(now() + TimeDelta::days(1)).await.unwrap();
    assert_eq!(deleted.health_score_history, 1);
    let overall: Vec<i32> = health_score_history::Entity::find()
        .order_by_asc(health_score_history::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.overall)
        .collect();
    assert_eq!(overall, [70, 40, 52, 54, 60, 62, 63, 64]);
});

/// The holder of the `retention` lease, if any.
async fn retention_holder(db: &DatabaseConnection) -> Option<String> {
    lease::Entity::find_by_id(retention::LEASE).one(db).await.unwrap().map(|l| l.holder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_only_the_lease_holder_runs_retention_and_another_replica_takes_over_when_it_stops() {
    let test_db = TestDb::migrated(Backend::Postgres).await;
    let db = &test_db.db;
    let term = Duration::from_secs(3);
    let every = Duration::from_millis(50);
    let (first, second) = (Leases::for_database(db, term), Leases::for_database(db, term));
    let (first_passes, second_passes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let long_ago = Utc::now() - TimeDelta::days(40);
    let old = |key: &str| event(key.to_owned(), "applied", long_ago, Some(long_ago));

    let running = tokio::spawn(retention::run(db.clone(), POLICY, first.clone(), every, first_passes.clone()));
    wait_for("the first replica's passes", 10, async || first_passes.load(Ordering::SeqCst) > 0).await;
    assert_eq!(retention_holder(db).await.as_deref(), Some(first.holder()));
    let waiting = tokio::spawn(retention::run(db.clone(), POLICY, second.clone(), every, second_passes.clone()));
    let expired = insert_event(db, old("first")).await;
    wait_for("the holder deleting the old event", 10, async || !event_ids(db).await.contains(&expired)).await;
    let seen = first_passes.load(Ordering::SeqCst);
    wait_for("three more passes of the holder", 10, async || first_passes.load(Ordering::SeqCst) >= seen + 3).await;
    assert_eq!(second_passes.load(Ordering::SeqCst), 0, "the other replica ran no pass while the lease was held");

    // The holder stops cleanly (its work ends and it gives its leases up): the other takes over.
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    first.release_all().await;
    let expired = insert_event(db, old("second")).await;
    wait_for("the other replica's passes", 10, async || second_passes.load(Ordering::SeqCst) > 0).await;
    wait_for("the old event deleted by the new holder", 10, async || !event_ids(db).await.contains(&expired)).await;
    assert_eq!(retention_holder(db).await.as_deref(), Some(second.holder()));
    waiting.abort();
}
