//! Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the gateway process exports a span per request (with its id,
//! operation and status), per DataLoader batch, per SQL statement and per HubSpot call, in one trace per request,
//! to an OTLP/HTTP collector; its HubSpot calls carry the request's id and a W3C `traceparent`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::any_value::Value as Attribute,
    trace::v1::Span,
};
use prost::Message;
use serde_json::{Value, json};
use tests::{
    Backend, TestDb, on_both,
    process::ServerProcess,
    sim::{Running, SimConfig},
    small_spec, wait_for,
};

const PORTAL: i64 = 100_026;
/// One query that reads a contact from HubSpot, and what the mirror holds about it through DataLoaders.
const TRACED: &str = "query Traced($id: ID!) {
    contact(id: $id, fresh: true) { email healthScore { __typename } owner { id } }
}";

/// A collector of OTLP/HTTP protobuf exports, keeping every span it receives (with its service's name).
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, Span)>>>);

impl Collector {
    async fn start(&self) -> String {
        let app = Router::new().route("/v1/traces", post(receive)).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.0.lock().unwrap().clone()
    }
}

async fn receive(State(collector): State<Collector>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let mut spans = collector.0.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource.resource.iter().flat_map(|r| &r.attributes).find(|a| a.key == "service.name");
        let service = service.and_then(|a| text(a.value.as_ref()?.value.as_ref()?)).unwrap_or_default();
        for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push((service.clone(), span));
        }
    }
    ExportTraceServiceResponse::default().encode_to_vec()
}

fn text(value: &Attribute) -> Option<String> {
    match value {
        Attribute::StringValue(s) => Some(s.clone()),
        Attribute::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

/// The span's attribute `key`, as text.
fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
}

/// Whether `span` is `root` or below it, following parents among `spans`.
fn descends_from(span: &Span, root: &Span, spans: &HashMap<Vec<u8>, &Span>) -> bool {
    let mut at = span;
    for _ in 0..spans.len() + 1 {
        if at.span_id == root.span_id {
            return true;
        }
        match spans.get(&at.parent_span_id) {
            Some(parent) => at = parent,
            None => return false,
        }
    }
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

on_both!(
    a_request_is_one_trace_down_to_its_hubspot_calls_loader_batches_and_statements,
    |backend: Backend| async move {
        let collector = Collector::default();
        let endpoint = collector.start().await;
        let sim = Running::start(SimConfig {
            portals: vec![small_spec(PORTAL)],
            rate_limit: 100_000,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let db = TestDb::migrated(backend).await;
        let port = free_port();
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_SERVICE_NAME", "gateway-under-test".to_owned()),
            // Exports every 100 ms rather than every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ];
        let (gateway, logs) = ServerProcess::start_logged(&db, &sim, port, &env);
        wait_for("the backfill", 120, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let graphql = async |request_id: &str, query: &str, variables: Value| -> Value {
            let answer = client
                .post(format!("{base}/graphql"))
                .header("x-request-id", request_id)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), reqwest::StatusCode::OK);
            answer.json().await.unwrap()
        };
        wait_for("the gateway answers", 30, async || reqwest::get(format!("{base}/livez")).await.is_ok()).await;
        let listed = graphql("traces-list", "{ contacts(first: 1) { nodes { hubspotId } } }", json!({})).await;
        let contact =
            listed["data"]["contacts"]["nodes"][0]["hubspotId"].as_str().unwrap_or_else(|| panic!("{listed}"));

        let answer = graphql("traced-request-1", TRACED, json!({ "id": contact })).await;
        assert!(answer["errors"].is_null(), "{answer}");
        assert!(answer["data"]["contact"]["email"].is_string(), "{answer}");

        // HubSpot heard the request's id, and the trace it belongs to.
        let calls = sim.sim.stats().requests_named;
        let call = calls.iter().find(|c| c.request_id == "traced-request-1").unwrap_or_else(|| panic!("{calls:?}"));
        let traceparent =
            call.traceparent.clone().unwrap_or_else(|| panic!("no traceparent on the call: {:?}", logs.lines()));

        let request = async || {
            let spans = collector.spans();
            spans
                .into_iter()
                .find(|(_, s)| s.name == "request" && attribute(s, "request_id").as_deref() == Some("traced-request-1"))
        };
        wait_for("the request's span exported", 30, async || request().await.is_some()).await;
        let (service, root) = request().await.unwrap();
        assert_eq!(service, "gateway-under-test");
        assert_eq!(attribute(&root, "status").as_deref(), Some("200"), "{root:?}");
        assert_eq!(attribute(&root, "operation").as_deref(), Some("Traced"), "{root:?}");
        assert_eq!(
            traceparent.split('-').nth(1),
            Some(hex::encode(&root.trace_id).as_str()),
            "the call's traceparent names the request's trace"
        );

        // Its children end before it (a batch's task just after it hands its rows over): wait for each kind.
        let below = |name: &str| -> Vec<Span> {
            let spans: Vec<Span> =
                collector.spans().into_iter().map(|(_, s)| s).filter(|s| s.trace_id == root.trace_id).collect();
            let by_id: HashMap<Vec<u8>, &Span> = spans.iter().map(|s| (s.span_id.clone(), s)).collect();
            let found =
                spans.iter().filter(|s| s.name == name && s.span_id != root.span_id && descends_from(s, &root, &by_id));
            found.cloned().collect()
        };
        let in_a_batch = |statements: &[Span], batches: &[Span]| {
            let spans: Vec<Span> = collector.spans().into_iter().map(|(_, s)| s).collect();
            let by_id: HashMap<Vec<u8>, &Span> = spans.iter().map(|s| (s.span_id.clone(), s)).collect();
            statements.iter().any(|s| batches.iter().any(|b| descends_from(s, b, &by_id)))
        };
        wait_for("a HubSpot call, a DataLoader batch and its statement in the trace", 30, async || {
            let (calls, batches, statements) = (below("hubspot call"), below("loader batch"), below("sql"));
            !calls.is_empty() && in_a_batch(&statements, &batches)
        })
        .await;
        let hubspot = below("hubspot call");
        let call_span = &hubspot[0];
        assert_eq!(attribute(call_span, "method").as_deref(), Some(call.method.as_str()), "{call_span:?}");
        assert!(attribute(call_span, "endpoint").is_some_and(|e| e.starts_with("/crm/v3/objects/")), "{call_span:?}");
        assert_eq!(attribute(call_span, "status").as_deref(), Some("200"), "{call_span:?}");
        assert_eq!(
            traceparent.split('-').nth(2),
            Some(hex::encode(&call_span.span_id).as_str()),
            "the call's parent is its span"
        );
        let loaders: Vec<_> = below("loader batch").iter().filter_map(|s| attribute(s, "loader")).collect();
        assert!(loaders.iter().any(|l| l == "HealthScores"), "each batch names its loader: {loaders:?}");
        let statements = below("sql");
        assert!(statements.iter().all(|s| attribute(s, "db.statement").is_some()), "{statements:?}");
        assert!(statements.iter().any(|s| attribute(s, "db.statement").is_some_and(|sql| sql.contains("SELECT"))));
        drop(gateway);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_sends_the_spans_the_exporter_still_holds() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(Backend::Sqlite).await;
    let port = free_port();
    // A batch would wait ten minutes: only the stop's flush sends it.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint), ("OTEL_BSP_SCHEDULE_DELAY", "600000".to_owned())];
    let mut gateway = ServerProcess::start(&db, &sim, port, &env);
    let base = format!("http://127.0.0.1:{port}");
    wait_for("the gateway answers", 60, async || reqwest::get(format!("{base}/livez")).await.is_ok()).await;
    let answer = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .header("x-request-id", "flushed-at-stop")
        .json(&json!({ "query": "query BeforeTheStop { contacts(first: 1) { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let exported = || {
        collector.spans().into_iter().any(|(service, s)| {
            s.name == "request"
                && attribute(&s, "request_id").as_deref() == Some("flushed-at-stop")
                && service == "hubspot-gateway"
        })
    };

    gateway.terminate();
    assert!(gateway.exit_within(30).await.success());
    assert!(exported(), "the request's span was sent before the exit: {:?}", collector.spans());
}
