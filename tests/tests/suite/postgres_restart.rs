//! Postgres restarted under load (a private cluster: the machine's is shared): the gateway (the `server` binary)
//! takes a stream of signed webhook deliveries and GraphQL queries while the cluster is stopped and started again.
//! Requests fail cleanly while it is down (GraphQL 503 `SERVICE_UNAVAILABLE`, deliveries 503, which HubSpot retries),
//! every delivery answered 200 is in the event log and applied (none acknowledged unstored), and once the cluster
//! is back both succeed again with no restart of the gateway: its pools recover by themselves.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU8, Ordering},
    },
    time::Duration,
};

use entities::webhook_event;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{
    postgres_server::PrivatePostgres,
    process::ServerProcess,
    remote::{Remote, property_change},
    sim::{Running, SimConfig},
    small_spec, wait_for,
};

const PORTAL: i64 = 100_001;
const SECRET: &str = "postgres-restart-secret";
const QUERY: &str = "{ contacts(first: 3) { totalCount nodes { email } } }";
/// Loops of each kind sending at once.
const SENDERS: usize = 2;

/// Where the run is: a request counts as made in the outage when the phase was `DOWN` both when it was sent and
/// when it was answered (`DOWN` is marked once the cluster has stopped and left before it starts again).
const BEFORE: u8 = 0;
const DOWN: u8 = 1;
const AFTER: u8 = 2;

/// One answer: the phase when sent, the phase when answered, the status (`None`: no answer), the body; and for a
/// delivery, its event id.
#[derive(Clone, Debug)]
struct Answer {
    sent: u8,
    answered: u8,
    status: Option<StatusCode>,
    body: Value,
    event_id: Option<i64>,
}

#[derive(Default)]
struct Log {
    deliveries: Mutex<Vec<Answer>>,
    queries: Mutex<Vec<Answer>>,
}

impl Log {
    fn count(answers: &Mutex<Vec<Answer>>, phase: u8, status: StatusCode) -> usize {
        let answers = answers.lock().unwrap();
        answers.iter().filter(|a| a.sent == phase && a.answered == phase && a.status == Some(status)).count()
    }
}

/// Sends deliveries (one property change each, of `contacts` in turn) until `phase` says stop (`u8::MAX`).
async fn deliver(gateway: Remote, contacts: Vec<i64>, ids: Arc<AtomicI64>, phase: Arc<AtomicU8>, log: Arc<Log>) {
    loop {
        let sent = phase.load(Ordering::SeqCst);
        if sent == u8::MAX {
            return;
        }
        let id = ids.fetch_add(1, Ordering::SeqCst);
        let contact = contacts[id as usize % contacts.len()];
        let events = json!([property_change(PORTAL, id, "contact", contact, "firstname", &format!("v{id}"))]);
        let answer = gateway.deliver(SECRET, &events).await;
        let (status, body) = answer.map_or((None, Value::Null), |(s, b)| (Some(s), b));
        let answered = phase.load(Ordering::SeqCst);
        log.deliveries.lock().unwrap().push(Answer { sent, answered, status, body, event_id: Some(id) });
        // Paced, so the applier keeps up on a busy machine.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends queries until `phase` says stop.
async fn query(gateway: Remote, phase: Arc<AtomicU8>, log: Arc<Log>) {
    loop {
        let sent = phase.load(Ordering::SeqCst);
        if sent == u8::MAX {
            return;
        }
        let answer = gateway.graphql(None, QUERY, json!({})).await;
        let (status, body) = answer.map_or((None, Value::Null), |(s, b)| (Some(s), b));
        let answered = phase.load(Ordering::SeqCst);
        log.queries.lock().unwrap().push(Answer { sent, answered, status, body, event_id: None });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_fails_requests_cleanly_and_loses_no_acknowledged_webhook() {
    let mut postgres = PrivatePostgres::start();
    let url = postgres.url("postgres");
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let port = tests::free_port();
    let env = [
        ("HUBSPOT_CLIENT_SECRET", SECRET.to_owned()),
        ("SYNC_RECONCILE_SECS", "86400".to_owned()),
        ("DB_ACQUIRE_TIMEOUT_SECS", "1".to_owned()),
    ];
    let mut process = ServerProcess::start_on(&url, &sim, port, &env);
    let db = server::db::connect(&url).await.unwrap();
    wait_for("the backfill", 120, async || server::sync::is_complete(&db, PORTAL).await.unwrap_or(false)).await;
    let gateway = Remote::new(port);
    wait_for("the gateway answering", 30, async || gateway.graphql(None, QUERY, json!({})).await.is_ok()).await;
    let listed = gateway.data(None, "{ contacts(first: 20) { nodes { hubspotId } } }", json!({})).await;
    let contacts: Vec<i64> = listed["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["hubspotId"].as_str().unwrap().parse().unwrap())
        .collect();

    let (phase, log, ids) = (Arc::new(AtomicU8::new(BEFORE)), Arc::new(Log::default()), Arc::new(AtomicI64::new(1)));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        senders.push(tokio::spawn(deliver(gateway.clone(), contacts.clone(), ids.clone(), phase.clone(), log.clone())));
        senders.push(tokio::spawn(query(gateway.clone(), phase.clone(), log.clone())));
    }
    let enough = |p: u8, n: usize| {
        let log = log.clone();
        async move || {
            Log::count(&log.deliveries, p, StatusCode::OK) >= n && Log::count(&log.queries, p, StatusCode::OK) >= n
        }
    };
    wait_for("deliveries and queries answered before the restart", 30, enough(BEFORE, 10)).await;

    postgres.stop();
    phase.store(DOWN, Ordering::SeqCst);
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    wait_for("deliveries and queries answered 503 while Postgres is down", 60, async || {
        Log::count(&log.deliveries, DOWN, unavailable) >= 2 * SENDERS
            && Log::count(&log.queries, DOWN, unavailable) >= 2 * SENDERS
    })
    .await;

    // Marked first: what is sent while it starts counts as after (either answer is right then).
    phase.store(AFTER, Ordering::SeqCst);
    postgres.resume();
    wait_for("deliveries and queries answered 200 again", 60, enough(AFTER, 10)).await;
    phase.store(u8::MAX, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }
    assert!(process.exited().is_none(), "the gateway rode it out without a restart");

    // Every answer was a clean one: 200, or 503 with a code (queries) and a generic body.
    let deliveries = log.deliveries.lock().unwrap().clone();
    let queries = log.queries.lock().unwrap().clone();
    for answer in &deliveries {
        match answer.status {
            Some(StatusCode::OK) => assert_eq!(answer.body["stored"], 1, "{answer:?}"),
            Some(StatusCode::SERVICE_UNAVAILABLE) => assert!(answer.body["requestId"].is_string(), "{answer:?}"),
            _ => panic!("a delivery answered neither 200 nor 503: {answer:?}"),
        }
        if answer.sent == DOWN && answer.answered == DOWN {
            assert_eq!(answer.status, Some(unavailable), "sent and answered while Postgres was down: {answer:?}");
        }
    }
    for answer in &queries {
        match answer.status {
            Some(StatusCode::OK) => {
                assert!(answer.body.get("errors").is_none(), "{answer:?}");
                assert!(answer.body["data"]["contacts"]["totalCount"].as_i64().unwrap() > 0, "{answer:?}");
            }
            Some(StatusCode::SERVICE_UNAVAILABLE) => {
                assert_eq!(answer.body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{answer:?}")
            }
            _ => panic!("a query answered neither 200 nor 503: {answer:?}"),
        }
        if answer.sent == DOWN && answer.answered == DOWN {
            assert_eq!(answer.status, Some(unavailable), "sent and answered while Postgres was down: {answer:?}");
        }
    }

    // Every acknowledged delivery is in the log and applied.
    let acknowledged: Vec<i64> =
        deliveries.iter().filter(|a| a.status == Some(StatusCode::OK)).filter_map(|a| a.event_id).collect();
    let settled = async || {
        let logged = webhook_event::Entity::find()
            .filter(webhook_event::Column::EventId.is_in(acknowledged.clone()))
            .filter(webhook_event::Column::State.eq("applied"))
            .all(&db)
            .await;
        logged.is_ok_and(|events| events.len() == acknowledged.len())
    };
    wait_for("every acknowledged delivery applied", 60, settled).await;
    let events = webhook_event::Entity::find().all(&db).await.unwrap();
    for id in &acknowledged {
        let logged: Vec<_> = events.iter().filter(|e| e.event_id == *id).collect();
        assert_eq!(logged.len(), 1, "event {id} logged once");
        assert_eq!(logged[0].state, "applied", "event {id}");
    }
}
