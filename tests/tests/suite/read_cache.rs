//! The read cache in front of HubSpot: in process without Redis, shared by replicas through Redis, one upstream
//! call for concurrent misses, and the in-process cache taking over while Redis is down.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use server::{
    hubspot::{Call, ClientSettings, HubSpot, PrivateApp},
    metrics::Metrics,
    shared_redis::SharedRedis,
};
use tests::{
    redis_server::{PrivateRedis, isolated, redis_url},
    sim::{Running, SimConfig},
    small_spec,
};

const PORTAL: i64 = 100_001;

async fn simulator() -> Running {
    Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.expect("simulator")
}

fn client(sim: &Running, redis: Option<SharedRedis>, ttl: Duration) -> HubSpot {
    let settings = ClientSettings {
        base_url: sim.base_url(),
        min_backoff: Duration::from_millis(10),
        cache_ttl: ttl,
        redis,
        ..ClientSettings::default()
    };
    HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())))
}

const OWNERS: &str = "/crm/v3/owners?limit=3";

#[tokio::test]
async fn concurrent_misses_make_one_call_and_later_reads_hit_in_process() {
    let sim = simulator().await;
    let hubspot = client(&sim, None, Duration::from_secs(300));
    let reads = (0..20).map(|_| hubspot.read(PORTAL, Call::get(OWNERS)));
    let answers = futures::future::join_all(reads).await;
    assert!(answers.iter().all(|a| a.as_ref().unwrap().value["results"].as_array().unwrap().len() == 3));
    assert!(answers.iter().all(|a| !a.as_ref().unwrap().hit), "all twenty waited on the one call");
    assert_eq!(sim.sim.stats().requests, 1, "twenty concurrent misses, one upstream call");
    assert!(hubspot.read(PORTAL, Call::get(OWNERS)).await.unwrap().hit);
    assert_eq!(sim.sim.stats().requests, 1, "the next read is a hit");
    assert_eq!(hubspot.cache_stats().snapshot(), [1, 20, 1, 0], "hits, misses, upstream calls, Redis errors");
    let metrics = Metrics { read_cache: hubspot.cache_stats().clone(), ..Metrics::default() }.render();
    for line in ["gateway_read_cache_hits_total 1", "gateway_read_cache_misses_total 20"] {
        assert!(metrics.contains(line), "{metrics}");
    }
}

#[tokio::test]
async fn searches_are_keyed_by_their_body_and_errors_are_not_cached() {
    let sim = simulator().await;
    let hubspot = client(&sim, None, Duration::from_secs(300));
    let search = |value: &str| {
        let filter = json!({ "propertyName": "lifecyclestage", "operator": "EQ", "value": value });
        Call::post("/crm/v3/objects/contacts/search", json!({ "filterGroups": [{ "filters": [filter] }], "limit": 1 }))
    };
    let leads = hubspot.read(PORTAL, search("lead")).await.unwrap().value;
    let customers = hubspot.read(PORTAL, search("customer")).await.unwrap().value;
    assert_ne!(leads["total"], customers["total"], "two filters, two answers");
    assert_eq!(hubspot.read(PORTAL, search("lead")).await.unwrap().value, leads);
    assert_eq!(sim.sim.stats().requests, 2);
    for _ in 0..2 {
        let missing = hubspot.read(PORTAL, Call::get("/crm/v3/objects/contacts/1")).await.unwrap_err();
        assert_eq!(missing.category, "OBJECT_NOT_FOUND");
    }
    assert_eq!(sim.sim.stats().requests, 4, "a 404 is asked again");
}

#[tokio::test]
async fn replicas_share_reads_through_redis_until_the_ttl_passes() {
    let sim = simulator().await;
    let redis = isolated(&redis_url());
    let replica_a = client(&sim, Some(redis.clone()), Duration::from_secs(1));
    let replica_b = client(&sim, Some(redis), Duration::from_secs(1));
    let first = replica_a.read(PORTAL, Call::get(OWNERS)).await.unwrap().value;
    assert_eq!(replica_b.read(PORTAL, Call::get(OWNERS)).await.unwrap().value, first);
    assert_eq!(sim.sim.stats().requests, 1, "the second replica read the first one's answer from Redis");
    assert_eq!(replica_b.cache_stats().snapshot(), [1, 0, 0, 0]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    replica_b.read(PORTAL, Call::get(OWNERS)).await.unwrap();
    assert_eq!(sim.sim.stats().requests, 2, "expired after its TTL");
}

#[tokio::test]
async fn the_in_process_cache_takes_over_while_redis_is_down() {
    let sim = simulator().await;
    let mut server = PrivateRedis::start().await;
    let redis = isolated(&server.url());
    let hubspot = client(&sim, Some(redis.clone()), Duration::from_secs(300));
    hubspot.read(PORTAL, Call::get(OWNERS)).await.unwrap();

    server.stop();
    let path = "/crm/v3/owners?limit=4";
    for _ in 0..3 {
        let owners = hubspot.read(PORTAL, Call::get(path)).await.expect("reads go on without Redis");
        assert_eq!(owners.value["results"].as_array().unwrap().len(), 4);
    }
    assert_eq!(sim.sim.stats().requests, 2, "one upstream call, then in-process hits");
    let [hits, _, _, redis_errors] = hubspot.cache_stats().snapshot();
    assert_eq!(hits, 2);
    assert!(redis_errors >= 3, "each read tried Redis first: {redis_errors}");

    // Back up (and empty): once reconnected, and past the moment callers skip a Redis just found unreachable, reads
    // go through Redis again (a read counts no Redis error), so another replica sees them.
    server.resume().await;
    let path = "/crm/v3/owners?limit=5";
    tests::wait_for("reads through Redis again", 10, async || {
        let errors = hubspot.cache_stats().snapshot()[3];
        hubspot.read(PORTAL, Call::get(path)).await.unwrap();
        hubspot.cache_stats().snapshot()[3] == errors
    })
    .await;
    let other = client(&sim, Some(redis), Duration::from_secs(300));
    let before = sim.sim.stats().requests;
    other.read(PORTAL, Call::get(path)).await.unwrap();
    assert_eq!(sim.sim.stats().requests, before, "a read stored by one replica is a hit for another");
    assert_eq!(other.cache_stats().snapshot(), [1, 0, 0, 0]);
}
