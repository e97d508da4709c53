//! The upstream client against the simulator: retries what is worth retrying (and only that), carries HubSpot's
//! errors, keeps within the rate budget, and times out.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use server::hubspot::{Call, ClientSettings, HubSpot, PrivateApp};
use tests::{
    sim::{Running, SimConfig, limits::Chaos},
    small_spec,
};

const PORTAL: i64 = 100_001;

async fn simulator(config: SimConfig) -> Running {
    Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..config }).await.expect("simulator starts")
}

fn client(sim: &Running, settings: ClientSettings) -> HubSpot {
    let settings = ClientSettings {
        base_url: sim.base_url(),
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
        ..settings
    };
    HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())))
}

#[tokio::test]
async fn retries_server_errors_and_rate_limits_then_succeeds() {
    let sim = simulator(SimConfig::default()).await;
    let hubspot = client(&sim, ClientSettings::default());
    sim.sim.set_chaos(Chaos { fail_next: 2, throttle_next: 1, ..Chaos::default() });
    let owners = hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=2")).await.expect("succeeds after retries");
    assert_eq!(owners["results"].as_array().unwrap().len(), 2);
    let stats = sim.sim.stats();
    assert_eq!(stats.requests, 4, "two 503s, one 429, then the answer");
    assert_eq!(stats.rate_limited, 1);
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_last_error() {
    let sim = simulator(SimConfig::default()).await;
    let hubspot = client(&sim, ClientSettings { max_retries: 2, ..ClientSettings::default() });
    sim.sim.set_chaos(Chaos { fail_next: 10, ..Chaos::default() });
    let err = hubspot.send(PORTAL, Call::get("/crm/v3/owners")).await.unwrap_err();
    assert_eq!(err.status, Some(503));
    assert_eq!(sim.sim.stats().requests, 3, "the first attempt and two retries");
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_hubspots_details() {
    let sim = simulator(SimConfig::default()).await;
    let hubspot = client(&sim, ClientSettings::default());
    let missing = hubspot.send(PORTAL, Call::get("/crm/v3/objects/contacts/1")).await.unwrap_err();
    assert_eq!(missing.status, Some(404));
    assert_eq!(missing.category, "OBJECT_NOT_FOUND");
    assert!(missing.correlation_id.as_deref().is_some_and(|c| c.len() == 36));
    let invalid = hubspot
        .send(PORTAL, Call::post("/crm/v3/objects/contacts", json!({ "properties": { "no_such_property": "x" } })))
        .await
        .unwrap_err();
    assert_eq!(invalid.status, Some(400));
    assert_eq!(invalid.category, "VALIDATION_ERROR");
    assert!(invalid.message.contains("no_such_property"), "{}", invalid.message);
    assert_eq!(sim.sim.stats().requests, 2, "no retries");
}

#[tokio::test]
async fn keeps_within_the_budget_hubspot_reports() {
    // HubSpot allows 5 calls a second; the client was configured for 100 per 10 s and learns better from the
    // headers of its first answer.
    let sim = simulator(SimConfig { rate_limit: 5, rate_window: Duration::from_secs(1), ..SimConfig::default() }).await;
    let hubspot = client(&sim, ClientSettings::default());
    hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=1")).await.unwrap();
    let started = tokio::time::Instant::now();
    let calls = (0..14).map(|_| hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=1")));
    for result in futures::future::join_all(calls).await {
        result.expect("every call answers");
    }
    assert_eq!(sim.sim.stats().rate_limited, 0, "the limit paced the calls, not a 429");
    // 15 calls at 5 a second: the last five cannot start before two windows have passed.
    assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
}

#[tokio::test]
async fn times_out_slow_answers_and_retries_them() {
    let sim = simulator(SimConfig::default()).await;
    let hubspot = client(
        &sim,
        ClientSettings { timeout: Duration::from_millis(200), max_retries: 1, ..ClientSettings::default() },
    );
    sim.sim.set_chaos(Chaos { latency_ms: 2_000, ..Chaos::default() });
    let err = hubspot.send(PORTAL, Call::get("/crm/v3/owners")).await.unwrap_err();
    assert_eq!((err.status, err.category.as_str()), (None, "TIMEOUT"));
    assert_eq!(sim.sim.stats().requests, 2);
}
