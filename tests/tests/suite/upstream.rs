//! The upstream client against the simulator: retries what is worth retrying (and only that), carries HubSpot's
//! errors, keeps within the rate budget, and times out.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use server::{
    hubspot::{Call, ClientSettings, HubSpot, PrivateApp},
    shared_redis::SharedRedis,
};
use tests::{
    redis_server::{PrivateRedis, isolated, redis_url},
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

/// Two replicas, 10 calls each at once, against HubSpot's 10 a second.
async fn two_replicas_at_once(redis: Option<SharedRedis>) -> (u64, Duration) {
    let sim =
        simulator(SimConfig { rate_limit: 10, rate_window: Duration::from_secs(1), ..SimConfig::default() }).await;
    let settings =
        ClientSettings { rate_limit: 10, rate_window: Duration::from_secs(1), redis, ..ClientSettings::default() };
    let replicas = [client(&sim, settings.clone()), client(&sim, settings)];
    let started = tokio::time::Instant::now();
    let calls = replicas.iter().flat_map(|r| (0..10).map(|_| r.send(PORTAL, Call::get("/crm/v3/owners?limit=1"))));
    for result in futures::future::join_all(calls).await {
        result.expect("every call answers");
    }
    (sim.sim.stats().rate_limited, started.elapsed())
}

#[tokio::test]
async fn replicas_share_one_budget_through_redis() {
    let (rate_limited, elapsed) = two_replicas_at_once(Some(isolated(&redis_url()))).await;
    assert_eq!(rate_limited, 0, "the replicas paced each other");
    assert!(elapsed >= Duration::from_millis(900), "half the calls waited for the next window: {elapsed:?}");
    // The control: each replica on its own budget spends the whole of it at once, and HubSpot refuses the excess.
    let (rate_limited, _) = two_replicas_at_once(None).await;
    assert!(rate_limited > 0, "without Redis the replicas overshoot");
}

#[tokio::test]
async fn the_budget_falls_back_to_this_process_while_redis_is_down() {
    let mut server = PrivateRedis::start().await;
    let redis = isolated(&server.url());
    server.stop();
    let sim = simulator(SimConfig { rate_limit: 5, rate_window: Duration::from_secs(1), ..SimConfig::default() }).await;
    let hubspot = client(
        &sim,
        ClientSettings {
            rate_limit: 5,
            rate_window: Duration::from_secs(1),
            redis: Some(redis),
            ..ClientSettings::default()
        },
    );
    let calls = (0..10).map(|_| hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=1")));
    for result in futures::future::join_all(calls).await {
        result.expect("every call answers without Redis");
    }
    assert_eq!(sim.sim.stats().rate_limited, 0, "paced by the in-process window");
}
