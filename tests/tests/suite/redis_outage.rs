//! Redis stopped mid-run and started again, empty, as a crash and restart leave it (a private `redis-server`: the
//! machine's is shared). The gateway (the `server` binary, `REDIS_URL` at it) goes on through the outage: queries,
//! one of them a read from HubSpot through the read cache, mutations, signed webhook deliveries acknowledged and
//! applied, an open subscription hearing a change a delivery made, and callers' rates counted in process. Once Redis
//! is back the gateway uses it again by itself: the read cache and the rate cells reappear in it, and changes reach
//! subscribers through it.

use std::sync::atomic::{AtomicI64, Ordering};

use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::auth::{Grant, keys};
use tests::{
    Backend, TestDb, on_both,
    process::ServerProcess,
    redis_server::PrivateRedis,
    remote::{Remote, property_change},
    sim::{Running, SimConfig},
    small_spec,
    subscriber::Subscriber,
    wait_for,
};

const PORTAL: i64 = 100_001;
const SECRET: &str = "redis-outage-secret";
/// Callers' rate: the busy caller spends it all during the outage; the other stays well under it.
const PER_MINUTE: usize = 300;

const CHANGES: &str = "subscription($company: ID) { healthScoreChanged(companyId: $company) { cursor cause } }";
const STAGE: &str = "query($id: ID!) { company(id: $id) { lifecycleStage } }";
const FRESH: &str = "query($id: ID!) { contact(id: $id, fresh: true) { email _meta { source } } }";
const CREATE_DEAL: &str =
    "mutation($name: String!) { createDeal(input: { name: $name, stage: \"qualifiedtobuy\" }) { id name } }";

/// Keys the gateway holds in `redis` matching `pattern`, asked with a fresh connection of the test's own.
async fn keys_like(redis: &PrivateRedis, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.expect("Redis answers");
    conn.keys(pattern).await.unwrap()
}

struct Run {
    gateway: Remote,
    key: String,
    event_id: AtomicI64,
}

impl Run {
    /// Sets `company`'s lifecycle stage by a signed delivery, which must be acknowledged, and waits until the mirror
    /// holds it.
    async fn stage_by_webhook(&self, company: i64, stage: &str) {
        let event_id = self.event_id.fetch_add(1, Ordering::SeqCst);
        let events = json!([property_change(PORTAL, event_id, "company", company, "lifecyclestage", stage)]);
        let (status, answer) = self.gateway.deliver(SECRET, &events).await.expect("an answer");
        assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 1, "duplicates": 0 })), "stage {stage}");
        wait_for(&format!("the delivery of stage {stage} applied"), 20, async || {
            let data = self.gateway.data(Some(&self.key), STAGE, json!({ "id": company.to_string() })).await;
            data["company"]["lifecycleStage"] == stage
        })
        .await;
    }

    async fn data(&self, query: &str, variables: Value) -> Value {
        self.gateway.data(Some(&self.key), query, variables).await
    }
}

/// The next change `subscriber` hears, which must be the one a webhook delivery made.
async fn heard_from_a_webhook(subscriber: &mut Subscriber) {
    let change = subscriber.change().await;
    assert_eq!(change["cause"]["kind"], "webhook", "{change}");
}

on_both!(the_gateway_rides_out_a_redis_outage_and_uses_redis_again_after, |backend: Backend| async move {
    let mut redis = PrivateRedis::start().await;
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let (key, _) = keys::create(&db.db, "app", schema::Role::Admin, &Grant::All).await.unwrap();
    let (busy, _) = keys::create(&db.db, "busy", schema::Role::Reader, &Grant::All).await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let port = tests::free_port();
    let env = [
        ("AUTH", "on".to_owned()),
        ("LOCAL_KEY_FILE", folder.path().join("local-admin-key").display().to_string()),
        ("REDIS_URL", redis.url()),
        ("HUBSPOT_CLIENT_SECRET", SECRET.to_owned()),
        ("SYNC_RECONCILE_SECS", "86400".to_owned()),
        ("RATE_LIMIT_PER_MINUTE", PER_MINUTE.to_string()),
    ];
    let _process = ServerProcess::start(&db, &sim, port, &env);
    wait_for("the backfill", 120, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;
    let run = Run { gateway: Remote::new(port), key, event_id: AtomicI64::new(1) };
    wait_for("the gateway answering", 30, async || {
        run.gateway.graphql(None, "{ __typename }", json!({})).await.is_ok()
    })
    .await;

    let listed = run.data("{ companies(first: 1) { nodes { hubspotId lifecycleStage } } contacts(first: 2) { nodes { hubspotId email } } }", json!({})).await;
    let company: i64 = listed["companies"]["nodes"][0]["hubspotId"].as_str().unwrap().parse().unwrap();
    let current = listed["companies"]["nodes"][0]["lifecycleStage"].as_str().unwrap_or_default().to_owned();
    let stages: Vec<&str> =
        ["evangelist", "lead", "customer", "opportunity"].into_iter().filter(|s| *s != current).collect();
    let contacts: Vec<(String, String)> = listed["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["hubspotId"].as_str().unwrap().to_owned(), c["email"].as_str().unwrap().to_owned()))
        .collect();

    // Before: a change reaches the subscriber (so it is listening), and the read cache and rate cells are in Redis.
    let url = format!("ws://127.0.0.1:{port}/graphql");
    let init = json!({ "Authorization": format!("Bearer {}", run.key) });
    let mut subscriber = Subscriber::connect(&url, "graphql-transport-ws", init).await.unwrap();
    subscriber.subscribe(CHANGES, json!({ "company": company.to_string() })).await;
    run.stage_by_webhook(company, stages[0]).await;
    heard_from_a_webhook(&mut subscriber).await;
    let fresh = run.data(FRESH, json!({ "id": contacts[0].0 })).await;
    assert_eq!(fresh["contact"]["email"], contacts[0].1.as_str());
    assert!(!keys_like(&redis, "hsgw:record:*").await.is_empty(), "the read was cached in Redis");
    assert!(!keys_like(&redis, "hsgw:rate:*").await.is_empty(), "rates are counted in Redis");

    redis.stop();
    // Reads: from the mirror, and from HubSpot through the (now in-process) read cache, twice.
    let list = run.data("{ contacts(first: 5) { totalCount nodes { email } } }", json!({})).await;
    assert!(list["contacts"]["totalCount"].as_i64().unwrap() > 0, "{list}");
    for _ in 0..2 {
        let fresh = run.data(FRESH, json!({ "id": contacts[1].0 })).await;
        assert_eq!(fresh["contact"]["email"], contacts[1].1.as_str(), "{fresh}");
    }
    // A write to HubSpot, under the rate budget each replica now keeps itself.
    let created = run.data(CREATE_DEAL, json!({ "name": "Made while Redis was down" })).await;
    assert_eq!(created["createDeal"]["name"], "Made while Redis was down");
    // A delivery is acknowledged and applied, and the change it makes reaches the open subscription.
    run.stage_by_webhook(company, stages[1]).await;
    heard_from_a_webhook(&mut subscriber).await;
    // A caller's rate is counted in process: the busy caller gets its minute's burst (and what the rate adds back
    // while it sends), then 429.
    let mut accepted = 0;
    let limited = loop {
        let (status, body) = run.gateway.graphql(Some(&busy), "{ __typename }", json!({})).await.unwrap();
        match status {
            StatusCode::OK => accepted += 1,
            _ => break body,
        }
        assert!(accepted <= 2 * PER_MINUTE, "no request of {accepted} was limited");
    };
    assert_eq!(limited["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{limited}");
    assert!(accepted >= PER_MINUTE, "limited after {accepted}");

    // Back, empty, as after a restart: the gateway writes to it again with no restart of its own.
    redis.resume().await;
    wait_for("the read cache back in Redis", 30, async || {
        run.data(FRESH, json!({ "id": contacts[0].0 })).await;
        !keys_like(&redis, "hsgw:record:*").await.is_empty()
    })
    .await;
    wait_for("callers' rates back in Redis", 30, async || {
        run.data("{ __typename }", json!({})).await;
        // Not the rate budget's windows at HubSpot (`rate:{portal}:…`): a caller's cell.
        let cells = keys_like(&redis, "hsgw:rate:*").await;
        cells.iter().any(|k| !k.starts_with(&format!("hsgw:rate:{PORTAL}:")))
    })
    .await;
    // Changes go through Redis again and still reach the subscriber.
    run.stage_by_webhook(company, stages[2]).await;
    heard_from_a_webhook(&mut subscriber).await;
});
