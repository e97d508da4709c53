//! Two replicas (the `server` binary) behind one Postgres and Redis; a subscriber on one of them hears a stream of
//! score changes that webhook deliveries to the other cause, the first is killed with SIGKILL mid-stream, and the
//! subscriber reconnects to the survivor with the last cursor it received: it misses no change.

use std::collections::BTreeSet;

use entities::{health_score_history, webhook_event};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tests::{
    Backend, TestDb,
    process::ServerProcess,
    redis_server::PrivateRedis,
    remote::{Remote, property_change},
    sim::{Running, SimConfig},
    small_spec,
    subscriber::Subscriber,
    wait_for,
};

const PORTAL: i64 = 100_001;
const SECRET: &str = "failover-secret";
const CHANGES: &str = "subscription($company: ID, $after: ID) {
    healthScoreChanged(companyId: $company, after: $after) { cursor } }";
/// Deliveries in the burst, each moving the company between two stages.
const BURST: i64 = 30;

fn cursor(change: &serde_json::Value) -> i64 {
    change["cursor"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_reconnects_to_the_survivor_with_its_cursor_misses_nothing() {
    let redis = PrivateRedis::start().await;
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(Backend::Postgres).await;
    let env = [
        ("REDIS_URL", redis.url()),
        ("HUBSPOT_CLIENT_SECRET", SECRET.to_owned()),
        ("SYNC_RECONCILE_SECS", "86400".to_owned()),
        ("WEBHOOK_LEASE_SECS", "2".to_owned()),
    ];
    let ports = [tests::free_port(), tests::free_port()];
    let mut replicas = ports.map(|port| ServerProcess::start(&db, &sim, port, &env));
    wait_for("the backfill", 120, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;
    let (a, b) = (Remote::new(ports[0]), Remote::new(ports[1]));
    for gateway in [&a, &b] {
        wait_for("both replicas answering", 30, async || {
            gateway.graphql(None, "{ __typename }", json!({})).await.is_ok()
        })
        .await;
    }
    let listed = b.data(None, "{ companies(first: 1) { nodes { hubspotId lifecycleStage } } }", json!({})).await;
    let company: i64 = listed["companies"]["nodes"][0]["hubspotId"].as_str().unwrap().parse().unwrap();
    let current = listed["companies"]["nodes"][0]["lifecycleStage"].as_str().unwrap_or_default().to_owned();
    let stages: Vec<&str> = ["lead", "customer", "evangelist"].into_iter().filter(|s| *s != current).collect();
    let deliver = async |event_id: i64| {
        let stage = stages[event_id as usize % 2];
        let events = json!([property_change(PORTAL, event_id, "company", company, "lifecyclestage", stage)]);
        let (status, answer) = b.deliver(SECRET, &events).await.expect("an answer");
        assert_eq!(status, StatusCode::OK, "{answer}");
    };

    // Subscribed on A; the first change (made on B) gives the cursor the rest follow.
    let url = |port: u16| format!("ws://127.0.0.1:{port}/graphql");
    let mut on_a = Subscriber::connect(&url(ports[0]), "graphql-transport-ws", json!({})).await.unwrap();
    on_a.subscribe(CHANGES, json!({ "company": company.to_string() })).await;
    deliver(0).await;
    let first = cursor(&on_a.change().await);
    let mut received = BTreeSet::from([first]);

    // The burst: A hears some of it, is killed, and the rest goes on.
    for event_id in 1..=BURST / 2 {
        deliver(event_id).await;
    }
    received.insert(cursor(&on_a.change().await));
    replicas[0].kill();
    drop(on_a);
    let last = *received.last().unwrap();
    let settled = async || {
        let applied = async || {
            let pending =
                webhook_event::Entity::find().filter(webhook_event::Column::State.ne("applied")).count(&db.db).await;
            pending.is_ok_and(|n| n == 0)
        };
        wait_for("every delivery applied", 60, applied).await;
        // The survivor rescores what its appliers marked in a loop beside them: the history is whole once it is idle.
        wait_for("the survivor's rescoring caught up", 60, async || {
            b.metrics().await.is_ok_and(|text| text.contains("gateway_health_pending_records 0\n"))
        })
        .await;
    };
    settled().await;
    let history = async || {
        health_score_history::Entity::find()
            .filter(health_score_history::Column::PortalId.eq(PORTAL))
            .filter(health_score_history::Column::SubjectType.eq("company"))
            .filter(health_score_history::Column::SubjectId.eq(company))
            .count(&db.db)
            .await
            .unwrap_or(0)
    };
    // Each delivered once the one before is rescored: the survivor rescores what piled up while it was busy in one
    // round, and two moves back and forth in one round leave the score as it was.
    for event_id in BURST / 2 + 1..=BURST {
        let before = history().await;
        deliver(event_id).await;
        wait_for("the delivery rescored", 60, async || history().await > before).await;
    }
    settled().await;
    let made: BTreeSet<i64> = health_score_history::Entity::find()
        .filter(health_score_history::Column::PortalId.eq(PORTAL))
        .filter(health_score_history::Column::SubjectType.eq("company"))
        .filter(health_score_history::Column::SubjectId.eq(company))
        .filter(health_score_history::Column::Id.gte(first))
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    assert!(made.len() > 3, "the burst made changes: {made:?}");

    // On B with the last cursor A gave: every change after it, none missing.
    let mut on_b = Subscriber::connect(&url(ports[1]), "graphql-transport-ws", json!({})).await.unwrap();
    on_b.subscribe(CHANGES, json!({ "company": company.to_string(), "after": last.to_string() })).await;
    while !made.is_subset(&received) {
        let change = on_b.next_change().await.unwrap_or_else(|| panic!("missing {:?}", made.difference(&received)));
        assert!(cursor(&change) > last, "only changes after the cursor: {change}");
        received.insert(cursor(&change));
    }
    assert!(replicas[1].exited().is_none(), "the survivor is up");
}
