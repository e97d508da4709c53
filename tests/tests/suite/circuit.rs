//! HubSpot down: once its circuit opens, mutations fail at once with `UPSTREAM_UNAVAILABLE` (no call reaches
//! HubSpot) while queries from the mirror answer; when HubSpot returns the circuit closes and writes go through.

use std::time::Duration;

use serde_json::json;
use server::hubspot::{CircuitSettings, ClientSettings};
use tests::{Backend, gateway::Gateway, on_both, sim::limits::Chaos};

use crate::lost_creates::held_at_hubspot;

const PORTAL: i64 = 100_001;

const UPDATE: &str = "mutation($id: ID!, $city: String!) { updateCompany(id: $id, input: { city: $city }) { city } }";
const CREATE_DEAL: &str = "mutation($key: String) {
    createDeal(input: { name: \"Circuit\", stage: \"qualifiedtobuy\" }, idempotencyKey: $key) { id } }";

on_both!(an_open_circuit_fails_mutations_at_once_until_hubspot_returns, |backend: Backend| async move {
    let circuit = CircuitSettings { failures: 3, open_for: Duration::from_secs(1) };
    let gateway = Gateway::start_custom(backend, PORTAL, ClientSettings { circuit, ..Gateway::settings() }).await;
    let (company, _) = gateway.first("companies").await;

    gateway.sim.sim.set_chaos(Chaos { outage_ms: 600_000, ..Chaos::default() });
    // Three attempts (the call and two retries) fail: the circuit opens.
    let error = gateway.error(UPDATE, json!({ "id": company, "city": "Oslo" })).await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{error}");
    let calls = gateway.requests();
    let error = gateway.error(UPDATE, json!({ "id": company, "city": "Oslo" })).await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{error}");
    assert_eq!(error["extensions"]["category"], "CIRCUIT_OPEN", "{error}");
    assert_eq!(error["extensions"]["status"], 503, "the failure that opened it: {error}");
    let error = gateway.error(CREATE_DEAL, json!({ "key": "while-open" })).await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{error}");
    assert_eq!(gateway.requests(), calls, "no call reached HubSpot while the circuit was open");
    let read = gateway.data("query($id: ID!) { company(id: $id) { id city } }", json!({ "id": company })).await;
    assert_eq!(read["company"]["id"], company, "the mirror answers queries");

    // HubSpot returns: once the circuit lets a call through, it closes.
    gateway.sim.sim.set_chaos(Chaos::default());
    let mut answer = gateway.run(UPDATE, json!({ "id": company, "city": "Bergen" })).await;
    for _ in 0..100 {
        if answer["errors"].is_null() {
            break;
        }
        assert_eq!(answer["errors"][0]["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = gateway.run(UPDATE, json!({ "id": company, "city": "Bergen" })).await;
    }
    assert_eq!(answer["data"]["updateCompany"]["city"], "Bergen", "{answer}");
    let created = gateway.data(CREATE_DEAL, json!({ "key": "while-open" })).await;
    assert!(created["createDeal"]["id"].is_string(), "the key the refused create claimed is free: {created}");
    assert_eq!(held_at_hubspot(&gateway, "deals", "dealname", "Circuit").await, 1);
});
