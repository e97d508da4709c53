//! Stopping cleanly: the gateway (the `server` binary) is sent SIGTERM, as an orchestrator stops a replica. It
//! refuses new connections at once, answers every request it had begun, tells every socket it is going away (close
//! frame 1001) so its client reconnects elsewhere with its cursor, leaves nothing it acknowledged unapplied, and
//! exits 0 within `SHUTDOWN_GRACE_SECS`; past the grace it exits non-zero.

use std::{net::SocketAddr, time::Instant};

use entities::{webhook_event, webhook_queue};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{
    Backend, TestDb,
    convergence::differences,
    on_both,
    process::ServerProcess,
    sim::{Running, webhooks::WebhookSettings},
    subscriber::Subscriber,
    wait_for,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const PORTAL: i64 = 100_001;
const SECRET: &str = "stop-secret";
/// `SHUTDOWN_GRACE_SECS`' default, which the gateways here run with.
const GRACE: u64 = 20;
const QUERY: &str = "{ contacts(first: 3, orderBy: [{field: EMAIL}]) { totalCount nodes { email } } }";

/// The gateway on `port`, with webhooks from `sim` on, once it has backfilled the portal.
async fn started(db: &TestDb, sim: &Running, port: u16, env: &[(&str, String)]) -> ServerProcess {
    let mut vars = vec![
        ("HUBSPOT_CLIENT_SECRET", SECRET.to_owned()),
        ("SYNC_RECONCILE_SECS", "86400".to_owned()),
        ("WEBHOOK_LEASE_SECS", "2".to_owned()),
    ];
    vars.extend(env.iter().cloned());
    let gateway = ServerProcess::start(db, sim, port, &vars);
    wait_for("the backfill", 120, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;
    wait_for("the gateway listening", 30, async || TcpStream::connect(("127.0.0.1", port)).await.is_ok()).await;
    gateway
}

async fn simulator(port: u16) -> Running {
    let webhooks = WebhookSettings::new(format!("http://127.0.0.1:{port}/webhooks/hubspot"), SECRET);
    Running::delivering(PORTAL, webhooks).await
}

/// A GraphQL request the gateway has begun: its headers and half its body are sent, the rest is held back.
struct Held {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl Held {
    async fn send(addr: SocketAddr, query: &str) -> Self {
        let body = json!({ "query": query }).to_string().into_bytes();
        let (first, rest) = body.split_at(body.len() / 2);
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let mut stream = TcpStream::connect(addr).await.expect("connected");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first).await.unwrap();
        Self { stream, rest: rest.to_vec() }
    }

    /// Sends the rest of the body; the answer's status and JSON body, read to the connection's end.
    async fn finish(mut self) -> (String, Value) {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = Vec::new();
        self.stream.read_to_end(&mut answer).await.expect("a whole answer");
        let answer = String::from_utf8(answer).expect("text");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        let status = head.lines().next().unwrap_or_default().to_owned();
        let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON body ({e}): {answer}"));
        (status, body)
    }
}

/// `gateway_http_requests_in_flight` from `/metrics` (counting the request that asks).
async fn in_flight(addr: SocketAddr) -> u64 {
    let Ok(response) = reqwest::get(format!("http://{addr}/metrics")).await else { return 0 };
    let text = response.text().await.unwrap_or_default();
    let line = text.lines().find_map(|l| l.strip_prefix("gateway_http_requests_in_flight "));
    line.and_then(|n| n.parse().ok()).unwrap_or_default()
}

on_both!(sigterm_answers_every_request_in_flight_refuses_new_ones_and_exits_0, |backend: Backend| async move {
    let port = tests::free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let sim = simulator(port).await;
    let db = TestDb::migrated(backend).await;
    let mut gateway = started(&db, &sim, port, &[]).await;

    let held = futures::future::join_all((0..8).map(|_| Held::send(addr, QUERY))).await;
    // Each is in its handler, waiting for the rest of its body: eight, and the metrics request itself.
    wait_for("8 requests in flight", 30, async || in_flight(addr).await == 9).await;
    gateway.terminate();
    let stopped_at = Instant::now();
    wait_for("new connections refused", 10, async || TcpStream::connect(addr).await.is_err()).await;
    assert!(gateway.exited().is_none(), "it waits for the requests it began");

    for (status, body) in futures::future::join_all(held.into_iter().map(Held::finish)).await {
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["contacts"]["nodes"].as_array().map(Vec::len), Some(3), "{body}");
    }
    let status = gateway.exit_within(GRACE).await;
    assert_eq!(status.code(), Some(0), "a clean stop");
    assert!(stopped_at.elapsed().as_secs() < GRACE, "within the grace");
});

on_both!(sigterm_closes_every_socket_with_going_away, |backend: Backend| async move {
    let port = tests::free_port();
    let sim = simulator(port).await;
    let db = TestDb::migrated(backend).await;
    let mut gateway = started(&db, &sim, port, &[]).await;

    let url = format!("ws://127.0.0.1:{port}/graphql");
    let init = json!({ "X-HubSpot-Portal-Id": PORTAL.to_string() });
    let subscription = "subscription { healthScoreChanged { cursor subjectId } }";
    let mut modern = Subscriber::connect(&url, "graphql-transport-ws", init.clone()).await.unwrap();
    let mut legacy = Subscriber::connect(&url, "graphql-ws", init).await.unwrap();
    modern.subscribe(subscription, json!({})).await;
    legacy.subscribe(subscription, json!({})).await;
    wait_for("2 sockets open", 30, async || {
        let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
        metrics.contains("gateway_websockets_open 2\n")
    })
    .await;

    gateway.terminate();
    assert_eq!(modern.close_code().await, Some(1001), "graphql-transport-ws: going away");
    assert_eq!(legacy.close_code().await, Some(1001), "graphql-ws: going away");
    assert_eq!(gateway.exit_within(GRACE).await.code(), Some(0), "a clean stop");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_past_its_grace_exits_non_zero() {
    let port = tests::free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let sim = simulator(port).await;
    let db = TestDb::migrated(Backend::Sqlite).await;
    let mut gateway = started(&db, &sim, port, &[("SHUTDOWN_GRACE_SECS", "1".to_owned())]).await;

    // Never finished: the stop cannot end within its grace.
    let _held = Held::send(addr, QUERY).await;
    wait_for("a request in flight", 30, async || in_flight(addr).await == 2).await;
    gateway.terminate();
    let status = gateway.exit_within(GRACE).await;
    assert_eq!(status.code(), Some(1), "the grace ran out: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_acknowledged_before_a_stop_are_all_applied_after_the_restart() {
    const CHANGES: u64 = 3_000;
    let port = tests::free_port();
    let webhooks = WebhookSettings {
        retry_base: std::time::Duration::from_millis(100),
        duplicate_rate: 0.05,
        shuffle: true,
        ..WebhookSettings::new(format!("http://127.0.0.1:{port}/webhooks/hubspot"), SECRET)
    };
    let sim = Running::delivering(PORTAL, webhooks).await;
    let db = TestDb::migrated(Backend::Postgres).await;
    let mut gateway = started(&db, &sim, port, &[]).await;

    sim.mutate(CHANGES, 1_000.0, 5).await;
    wait_for("deliveries", 30, async || sim.sim.sender.snapshot().acknowledged > 500).await;
    gateway.terminate();
    assert_eq!(gateway.exit_within(GRACE).await.code(), Some(0), "a clean stop");
    // Every event the stop left unapplied is still on the work list, for the next start.
    let pending =
        webhook_event::Entity::find().filter(webhook_event::Column::State.eq("pending")).count(&db.db).await.unwrap();
    assert_eq!(webhook_queue::Entity::find().count(&db.db).await.unwrap(), pending);
    let acknowledged_before = sim.sim.sender.snapshot().acknowledged;
    let _gateway = started(&db, &sim, port, &[]).await;

    wait_for("the burst", 60, async || sim.sim.changes_made.load(std::sync::atomic::Ordering::Relaxed) == CHANGES)
        .await;
    let settled = async || {
        let pending = webhook_event::Entity::find()
            .filter(webhook_event::Column::State.eq("pending"))
            .count(&db.db)
            .await
            .unwrap();
        sim.sim.unsent() == 0 && sim.sim.sender.snapshot().outstanding() == 0 && pending == 0
    };
    wait_for("every delivery acknowledged and applied", 180, settled).await;
    let sent = sim.sim.sender.snapshot();
    assert!(sent.acknowledged >= acknowledged_before, "{sent:?}");
    assert_eq!(sent.dropped, 0, "{sent:?}");
    let diff = differences(&db.db, &sim.sim, PORTAL).await;
    assert!(diff.is_empty(), "{} differences, first: {:#?}", diff.len(), &diff[..diff.len().min(20)]);
    let dead =
        webhook_event::Entity::find().filter(webhook_event::Column::State.eq("dead")).count(&db.db).await.unwrap();
    assert_eq!(dead, 0);
}
