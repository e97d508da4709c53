//! What an operator sees: `/livez` and `/readyz` (a body naming each failing check), `/metrics` from the Prometheus
//! exporter (latency per GraphQL operation, errors by code, HubSpot calls), a request id on every answer, and an
//! access line per request in JSON logs (`LOG_FORMAT=json`).

use std::{sync::Arc, time::Duration};

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use entities::{sync_state, webhook_queue};
use sea_orm::{
    ActiveValue::Set, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait,
};
use serde_json::{Value, json};
use server::{
    http::AppState,
    hubspot::{Call, ClientSettings, HubSpot, PrivateApp},
    metrics::Metrics,
    readiness::{Readiness, Thresholds},
    webhooks::{event::parse_batch, log},
};
use tests::{
    Backend, Mirror, TestDb, on_both,
    process::ServerProcess,
    redis_server::{isolated, redis_url},
    sim::{Running, SimConfig, limits::Chaos},
    small_spec, wait_for,
};
use tower::ServiceExt;

use super::webhooks::events;

/// The portal of `webhooks::events`.
const EVENTS_PORTAL: i64 = 62515;

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let response = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    (status, String::from_utf8(to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap())
}

async fn ready(app: &axum::Router) -> (StatusCode, Value) {
    let (status, body) = get(app, "/readyz").await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("/readyz answers JSON: {body}")))
}

fn graphql(body: Value) -> Request<Body> {
    Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A pool whose every connection attempt is refused: nothing listens on port 1.
async fn unreachable_database() -> DatabaseConnection {
    let mut options = ConnectOptions::new("postgres://gateway@127.0.0.1:1/gone");
    options.connect_lazy(true).acquire_timeout(Duration::from_millis(500)).sqlx_logging(false);
    Database::connect(options).await.expect("a lazy pool opens without connecting")
}

on_both!(a_healthy_gateway_is_live_and_ready_and_a_stopping_one_is_not, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap();
    let stopping = state.stopping.clone();
    let app = server::http::app(state);

    let (status, live) = get(&app, "/livez").await;
    assert_eq!((status, serde_json::from_str::<Value>(&live).unwrap()), (StatusCode::OK, json!({ "status": "live" })));
    assert_eq!(get(&app, "/healthz").await, (StatusCode::OK, "ok".to_owned()), "the older probe still answers");

    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["failing"], json!([]));
    for check in ["stopping", "database", "migrations", "webhooks", "sync", "redis"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check} in {body}");
    }
    assert_eq!(body["checks"]["migrations"]["pending"], 0);
    assert_eq!(body["checks"]["redis"]["configured"], false);

    // A stopping replica tells its balancer to send traffic elsewhere, and stays live.
    stopping.stop();
    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["stopping"]), "{body}");
    assert_eq!(get(&app, "/livez").await.0, StatusCode::OK);
});

on_both!(readyz_names_an_unreachable_database_and_stays_live, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap();
    let app = server::http::app(AppState { db: unreachable_database().await, ..state });

    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["failing"], json!(["database"]), "{body}");
    assert_eq!(body["checks"]["database"]["error"], "the database does not answer");
    assert!(!body.to_string().contains("127.0.0.1"), "the database's own text stays in the log: {body}");
    assert_eq!(get(&app, "/livez").await.0, StatusCode::OK, "a database outage is no reason to restart");
});

on_both!(readyz_names_pending_migrations, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let app = server::http::app(AppState::new(db.db.clone(), Metrics::default()).await.unwrap());
    // As if the newest migration had not run yet.
    let newest = <migrations::Migrator as migrations::MigratorTrait>::migrations().pop().unwrap().name().to_owned();
    let forget = format!("DELETE FROM seaql_migrations WHERE version = '{newest}'");
    db.db.execute_unprepared(&forget).await.unwrap();

    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["migrations"]), "{body}");
    assert_eq!(body["checks"]["migrations"]["pending"], 1);
    assert_eq!(body["checks"]["migrations"]["names"], json!([newest]));
});

on_both!(readyz_fails_while_the_webhook_backlog_is_over_its_threshold, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    server::mirror::ensure_portal(&db.db, EVENTS_PORTAL, "Backlog").await.unwrap();
    let readiness = |max_webhook_backlog| Readiness {
        thresholds: Thresholds { max_webhook_backlog, ..Thresholds::DEFAULT },
        ..Readiness::default()
    };
    let metrics = Metrics::default();
    let state = AppState::new(db.db.clone(), metrics.clone()).await.unwrap();
    // No applier runs here, so what is appended stays on the work list.
    log::append(&db.db, "backlog", parse_batch(&events(5)).unwrap()).await.unwrap();
    let waiting = webhook_queue::Entity::find().count(&db.db).await.unwrap();
    assert!(waiting >= 2, "{waiting} events wait");

    let over = server::http::app(state.clone().with_readiness(readiness(waiting - 1)));
    let (status, body) = ready(&over).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["webhooks"]), "{body}");
    assert_eq!(body["checks"]["webhooks"]["backlog"], json!(waiting));
    assert_eq!(body["checks"]["webhooks"]["maxBacklog"], json!(waiting - 1));
    let error = body["checks"]["webhooks"]["error"].as_str().unwrap();
    assert!(error.contains("READY_MAX_WEBHOOK_BACKLOG"), "{error}");

    let at = server::http::app(state.with_readiness(readiness(waiting)));
    assert_eq!(ready(&at).await.0, StatusCode::OK, "a backlog at the threshold is still ready");
    let (_, text) = get(&at, "/metrics").await;
    assert!(text.contains(&format!("gateway_webhook_backlog_events {waiting}\n")), "{text}");
    assert!(text.contains("gateway_webhook_backlog_oldest_seconds "), "{text}");
});

on_both!(metrics_time_each_named_operation_and_count_errors_by_code, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    let app = server::http::app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap());
    let (_, before) = get(&app, "/metrics").await;
    assert!(!before.contains("operation=\"ListContacts\""), "{before}");

    let named = json!({ "query": "query ListContacts { contacts(first: 1) { totalCount } }" });
    let response = app.clone().oneshot(graphql(named)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // More root fields than an operation may hold: refused with LIMIT_EXCEEDED.
    let fields: Vec<String> = (0..101).map(|i| format!("a{i}: crmSummary {{ contacts }}")).collect();
    let refused = json!({ "query": format!("query TooWide {{ {} }}", fields.join(" ")) });
    let response = app.clone().oneshot(graphql(refused)).await.unwrap();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("LIMIT_EXCEEDED"), "{}", String::from_utf8_lossy(&body));

    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("# TYPE gateway_graphql_request_duration_seconds histogram"), "{text}");
    assert!(text.contains("gateway_graphql_request_duration_seconds_count{operation=\"ListContacts\"} 1\n"), "{text}");
    assert!(text.contains("gateway_graphql_request_duration_seconds_bucket{operation=\"ListContacts\",le="), "{text}");
    assert!(text.contains("gateway_graphql_request_duration_seconds_count{operation=\"TooWide\"} 1\n"), "{text}");
    assert!(text.contains("gateway_graphql_errors_total{code=\"LIMIT_EXCEEDED\"} 1\n"), "{text}");
    assert!(text.contains("gateway_graphql_requests_total 2\n"), "the older counters stay: {text}");
    assert!(text.contains("gateway_db_pool_connections{state=\"idle\"}"), "{text}");
    assert!(text.contains("gateway_subscriptions_open 0\n"), "{text}");

    // Another gateway in this process counts its own.
    let other = server::http::app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap());
    let (_, theirs) = get(&other, "/metrics").await;
    assert!(!theirs.contains("ListContacts"), "{theirs}");
});

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_given_one_is_echoed() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let app = server::http::app(AppState::new(db.db.clone(), Metrics::default()).await.unwrap());

    let made = app.clone().oneshot(Request::get("/livez").body(Body::empty()).unwrap()).await.unwrap();
    let id = made.headers().get("x-request-id").expect("an id is made").to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let again = app.clone().oneshot(Request::get("/livez").body(Body::empty()).unwrap()).await.unwrap();
    assert_ne!(again.headers()["x-request-id"], id.as_str(), "each request its own");

    let given = Request::get("/nowhere").header("x-request-id", "caller-id-7").body(Body::empty()).unwrap();
    let echoed = app.clone().oneshot(given).await.unwrap();
    assert_eq!(echoed.status(), StatusCode::NOT_FOUND);
    assert_eq!(echoed.headers()["x-request-id"], "caller-id-7", "a caller's id is kept, on any path");
}

/// The JSON access line of the request with `id`, once the gateway has written it.
fn access_line(lines: &[String], id: &str) -> Option<Value> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["target"] == "access" && line["span"]["request_id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_json_access_lines_and_counts_its_hubspot_calls() {
    const PORTAL: i64 = 100_007;
    let sim =
        Running::start(SimConfig { portals: vec![small_spec(PORTAL)], rate_limit: 100_000, ..SimConfig::default() })
            .await
            .unwrap();
    let db = TestDb::migrated(Backend::Sqlite).await;
    let port = tests::free_port();
    let env = [("LOG_FORMAT", "json".to_owned()), ("RUST_LOG", "info".to_owned())];
    let (_gateway, logs) = ServerProcess::start_logged(&db, &sim, port, &env);
    wait_for("the backfill", 120, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;
    let base = format!("http://127.0.0.1:{port}");
    wait_for("the gateway ready", 30, async || {
        reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
    })
    .await;

    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{base}/graphql"))
        .header("x-request-id", "access-line-1")
        .json(&json!({ "query": "query Few { contacts(first: 2) { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    assert_eq!(answer.headers()["x-request-id"], "access-line-1");
    wait_for("the access line", 10, async || access_line(&logs.lines(), "access-line-1").is_some()).await;
    let line = access_line(&logs.lines(), "access-line-1").unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["method"], "POST", "{line}");
    assert_eq!(line["fields"]["path"], "/graphql", "{line}");
    assert_eq!(line["fields"]["status"], 200, "{line}");
    assert_eq!(line["fields"]["operation"], "Few", "{line}");
    assert!(line["fields"]["duration_ms"].as_f64().is_some(), "{line}");
    assert!(logs.lines().iter().all(|l| serde_json::from_str::<Value>(l).is_ok()), "every line is JSON");

    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    // The backfill reads several endpoints (CRM, marketing, owners); their order in the exposition is not fixed.
    let calls: Vec<&str> =
        text.lines().filter(|l| l.starts_with("gateway_hubspot_call_duration_seconds_count{")).collect();
    assert!(
        calls.iter().any(|l| l.contains("endpoint=\"/crm/") && l.contains("status=\"200\"")),
        "no CRM call counted: {text}"
    );
    for call in &calls {
        assert!(!call.contains(&PORTAL.to_string()), "ids stay out of the endpoint label: {call}");
    }
}

#[tokio::test]
async fn readyz_names_an_unreachable_redis() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap();
    let with_redis = |redis| Readiness { redis: Some(redis), ..Readiness::default() };

    let up = server::http::app(state.clone().with_readiness(with_redis(isolated(&redis_url()))));
    let (status, body) = ready(&up).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["redis"], json!({ "ok": true, "configured": true }));

    // Nothing listens on port 1.
    let down = server::http::app(state.with_readiness(with_redis(isolated("redis://127.0.0.1:1"))));
    let (status, body) = ready(&down).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["redis"]), "{body}");
    assert_eq!(body["checks"]["redis"]["ok"], false);
    assert!(!body.to_string().contains("127.0.0.1"), "Redis' own text stays in the log: {body}");
}

on_both!(a_failing_sync_is_reported_and_fails_readiness_only_when_asked, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap();
    let failed = sync_state::ActiveModel {
        portal_id: Set(4242),
        object_type: Set("contact".to_owned()),
        backfill_cursor: Set(None),
        backfill_done: Set(false),
        reconcile_cursor: Set(None),
        objects_synced: Set(0),
        last_error: Set(Some("HubSpot answered 401: token sk-secret expired".to_owned())),
        updated_at: Set(chrono::Utc::now()),
        refreshed_at: Set(None),
        fingerprint: Set(None),
        missing_scopes: Set(None),
    };
    sync_state::Entity::insert(failed).exec(&db.db).await.unwrap();
    let failing = json!([{ "portal": 4242, "kind": "contact" }]);

    let reporting = server::http::app(state.clone());
    let (status, body) = ready(&reporting).await;
    assert_eq!(status, StatusCode::OK, "READY_SYNC_ERRORS=report: {body}");
    assert_eq!(body["checks"]["sync"]["failing"], failing);
    assert!(!body.to_string().contains("sk-secret"), "the error's text is for syncStatus, not this public body");

    let strict =
        Readiness { thresholds: Thresholds { sync_errors_fail: true, ..Thresholds::DEFAULT }, ..Readiness::default() };
    let failing_app = server::http::app(state.with_readiness(strict));
    let (status, body) = ready(&failing_app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["sync"]), "{body}");
    assert_eq!(body["checks"]["sync"]["failing"], failing);
});

#[tokio::test]
async fn hubspot_calls_are_timed_by_endpoint_and_their_429s_counted() {
    const PORTAL: i64 = 100_003;
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let metrics = Metrics::default();
    let settings = ClientSettings {
        base_url: sim.base_url(),
        min_backoff: Duration::from_millis(10),
        ..ClientSettings::default()
    };
    let hubspot = HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned()))).with_sink(metrics.sink.clone());
    sim.sim.set_chaos(Chaos { throttle_next: 1, ..Chaos::default() });

    hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=3")).await.unwrap();
    let text = metrics.render();
    let labels = "method=\"GET\",endpoint=\"/crm/v3/owners\"";
    assert!(text.contains(&format!("gateway_hubspot_rate_limited_total{{{labels}}} 1\n")), "{text}");
    for status in ["429", "200"] {
        let line = format!("gateway_hubspot_call_duration_seconds_count{{{labels},status=\"{status}\"}} 1\n");
        assert!(text.contains(&line), "{line} in {text}");
    }
}

#[tokio::test]
async fn calls_refused_by_an_open_circuit_and_oauth_token_calls_are_counted() {
    const PORTAL: i64 = 100_008;
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let metrics = Metrics::default();
    let settings = ClientSettings {
        base_url: sim.base_url(),
        min_backoff: Duration::from_millis(10),
        max_retries: 0,
        circuit: server::hubspot::CircuitSettings { failures: 1, open_for: Duration::from_secs(600) },
        ..ClientSettings::default()
    };
    let hubspot =
        HubSpot::new(settings.clone(), Arc::new(PrivateApp(sim.token().to_owned()))).with_sink(metrics.sink.clone());
    sim.sim.set_chaos(Chaos { outage_ms: 600_000, ..Chaos::default() });
    // The first call fails at HubSpot and opens the circuit; the next two never leave the gateway.
    for _ in 0..3 {
        hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=3")).await.unwrap_err();
    }
    let text = metrics.render();
    let labels = "method=\"GET\",endpoint=\"/crm/v3/owners\"";
    assert!(text.contains(&format!("gateway_hubspot_circuit_refused_total{{{labels}}} 2\n")), "{text}");
    assert!(
        text.contains(&format!("gateway_hubspot_call_duration_seconds_count{{{labels},status=\"503\"}} 1\n")),
        "{text}"
    );
    sim.sim.set_chaos(Chaos::default());

    // OAuth's token endpoint takes no bearer token; a refused grant is timed like any call, and its code is no label.
    let oauth = HubSpot::anonymous(settings).with_sink(metrics.sink.clone());
    let form = [("grant_type", "authorization_code"), ("code", "not-a-code"), ("client_id", "x")];
    oauth.unauthenticated(reqwest::Method::POST, "/oauth/v1/token", Some(&form)).await.unwrap_err();
    let text = metrics.render();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("gateway_hubspot_call_duration_seconds_count{method=\"POST\",endpoint=\"/oauth/v1/token\"")
        })
        .unwrap_or_else(|| panic!("no token call counted: {text}"));
    assert!(line.contains("status=\"4"), "{line}");
    assert!(!text.contains("not-a-code"), "{text}");
}
