//! The example Grafana dashboard (`deploy/grafana/dashboards/gateway.json`) queries only series a running gateway
//! exports: a renamed metric breaks this test, not an operator's dashboard.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tests::{
    Backend, TestDb,
    process::ServerProcess,
    remote::{Remote, property_change},
    sim::{Running, SimConfig, limits::Chaos},
    small_spec, wait_for,
};

const PORTAL: i64 = 100_011;
const SECRET: &str = "dashboard-secret";

/// Every `gateway_…` series name in the dashboard's queries.
fn dashboard_series() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/dashboards/gateway.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("gateway_") {
                let name: String = rest[at..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                rest = &rest[at + name.len()..];
                names.insert(name);
            }
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_the_dashboard_queries_is_exported() {
    let wanted = dashboard_series();
    assert!(wanted.len() >= 15, "the dashboard's queries name its series: {wanted:?}");

    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    // The backfill's first call is throttled, so the 429 series exists.
    sim.sim.set_chaos(Chaos { throttle_next: 1, ..Chaos::default() });
    let db = TestDb::migrated(Backend::Sqlite).await;
    let port = tests::free_port();
    let _gateway = ServerProcess::start(&db, &sim, port, &[("HUBSPOT_CLIENT_SECRET", SECRET.to_owned())]);
    wait_for("the backfill", 120, async || server::sync::is_complete(&db.db, PORTAL).await.unwrap_or(false)).await;
    let gateway = Remote::new(port);
    wait_for("the gateway answering", 30, async || gateway.graphql(None, "{ __typename }", json!({})).await.is_ok())
        .await;

    // A named query, a failing one, and a webhook applied.
    let listed = gateway.data(None, "query Listed { contacts(first: 1) { nodes { hubspotId } } }", json!({})).await;
    let contact: i64 = listed["contacts"]["nodes"][0]["hubspotId"].as_str().unwrap().parse().unwrap();
    let (_, failed) =
        gateway.graphql(None, "query Broken { contacts(first: -1) { totalCount } }", json!({})).await.unwrap();
    assert!(failed["errors"].is_array(), "{failed}");
    let events = json!([property_change(PORTAL, 1, "contact", contact, "firstname", "Dashboard")]);
    let (status, _) = gateway.deliver(SECRET, &events).await.unwrap();
    assert!(status.is_success());
    let query = format!("{{ contact(id: \"{contact}\") {{ firstName }} }}");
    wait_for("the webhook applied", 30, async || {
        gateway.data(None, &query, json!({})).await["contact"]["firstName"] == "Dashboard"
    })
    .await;

    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    let exported: BTreeSet<&str> =
        text.lines().filter(|line| !line.starts_with('#')).filter_map(|line| line.split(['{', ' ']).next()).collect();
    let missing: Vec<&String> = wanted.iter().filter(|name| !exported.contains(name.as_str())).collect();
    assert!(missing.is_empty(), "the dashboard queries {missing:?}, which /metrics does not export:\n{text}");
}
