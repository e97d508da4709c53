//! Creates never duplicate at HubSpot: a create whose answer is lost (HubSpot did the work, the answer never came)
//! is looked for before it is sent again, and idempotency keys live in the database, so a Redis restart or outage
//! neither duplicates a keyed create nor fails it.

use serde_json::{Value, json};
use server::hubspot::Call;
use tests::{Backend, gateway::Gateway, on_both, redis_server::PrivateRedis, sim::limits::Chaos};

const PORTAL: i64 = 100_001;

const CREATE_DEAL: &str = "mutation($name: String!, $key: String) {
    createDeal(input: { name: $name, stage: \"qualifiedtobuy\" }, idempotencyKey: $key) { id hubspotId name } }";

/// How many live records of `plural` HubSpot holds with `property` = `value` (asked through the gateway's client,
/// which waits out search's rate limit).
pub async fn held_at_hubspot(gateway: &Gateway, plural: &str, property: &str, value: &str) -> u64 {
    let body =
        json!({ "filterGroups": [{ "filters": [{ "propertyName": property, "operator": "EQ", "value": value }] }] });
    let call = Call::post(format!("/crm/v3/objects/{plural}/search"), body);
    let answer: Value = gateway.upstream.hubspot.send(gateway.portal, call).await.expect("HubSpot answers");
    answer["total"].as_u64().unwrap()
}

on_both!(a_create_whose_answer_is_lost_makes_exactly_one_record, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;

    // With a key: HubSpot makes the deal and its answer is lost; the gateway finds the deal instead of sending
    // the create again, and answers it.
    gateway.sim.sim.set_chaos(Chaos { lose_next: 1, ..Chaos::default() });
    let created = gateway.data(CREATE_DEAL, json!({ "name": "Lost answer", "key": "lost-1" })).await;
    let deal = &created["createDeal"];
    assert_eq!(deal["name"], "Lost answer", "{created}");
    assert_eq!(held_at_hubspot(&gateway, "deals", "dealname", "Lost answer").await, 1);
    let again = gateway.data(CREATE_DEAL, json!({ "name": "Lost answer", "key": "lost-1" })).await;
    assert_eq!(again["createDeal"]["id"], deal["id"], "the key answers the record found");
    assert_eq!(held_at_hubspot(&gateway, "deals", "dealname", "Lost answer").await, 1);

    // Without a key, the same within the request.
    gateway.sim.sim.set_chaos(Chaos { lose_next: 1, ..Chaos::default() });
    let contact = gateway
        .data(
            "mutation { createContact(input: { email: \"lost@example.com\", firstName: \"Lou\" }) { hubspotId email } }",
            json!({}),
        )
        .await;
    assert_eq!(contact["createContact"]["email"], "lost@example.com");
    assert_eq!(held_at_hubspot(&gateway, "contacts", "email", "lost@example.com").await, 1);

    // The answer is lost and HubSpot then fails the look-up too: the create answers UPSTREAM_UNAVAILABLE, and the
    // retry with the key finds the deal the first one made.
    gateway.sim.sim.set_chaos(Chaos { pass_next: 1, fail_next: 1_000, lose_next: 1, ..Chaos::default() });
    let error = gateway.error(CREATE_DEAL, json!({ "name": "Lost twice", "key": "lost-2" })).await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{error}");
    gateway.sim.sim.set_chaos(Chaos::default());
    assert_eq!(held_at_hubspot(&gateway, "deals", "dealname", "Lost twice").await, 1, "the first create was made");
    let retried = gateway.data(CREATE_DEAL, json!({ "name": "Lost twice", "key": "lost-2" })).await;
    assert_eq!(retried["createDeal"]["name"], "Lost twice", "{retried}");
    assert_eq!(held_at_hubspot(&gateway, "deals", "dealname", "Lost twice").await, 1, "and no second");
    let read =
        gateway.data("query($id: ID!) { deal(id: $id) { name } }", json!({ "id": retried["createDeal"]["id"] })).await;
    assert_eq!(read["deal"]["name"], "Lost twice", "the mirror holds the record found");
});

on_both!(keyed_creates_survive_a_redis_outage_and_restart, |backend: Backend| async move {
    let mut redis = PrivateRedis::start().await;
    let shared = tests::redis_server::isolated(&redis.url());
    let gateway = Gateway::start_with(backend, PORTAL, Some(shared)).await;
    let first = gateway.data(CREATE_DEAL, json!({ "name": "Keyed", "key": "order-1" })).await;
    let id = first["createDeal"]["id"].clone();

    redis.stop();
    let retried = gateway.data(CREATE_DEAL, json!({ "name": "Keyed", "key": "order-1" })).await;
    assert_eq!(retried["createDeal"]["id"], id, "Redis down: the key still answers its record");
    let other = gateway.data(CREATE_DEAL, json!({ "name": "Keyed while down", "key": "order-2" })).await;
    assert!(other["createDeal"]["id"].is_string(), "Redis down: a new keyed create works");

    // Back, empty, as after a restart.
    redis.resume().await;
    let after = gateway.data(CREATE_DEAL, json!({ "name": "Keyed", "key": "order-1" })).await;
    assert_eq!(after["createDeal"]["id"], id, "a restarted Redis forgot nothing the key needs");
    let other_after = gateway.data(CREATE_DEAL, json!({ "name": "Keyed while down", "key": "order-2" })).await;
    assert_eq!(other_after["createDeal"]["id"], other["createDeal"]["id"]);
    assert_eq!(held_at_hubspot(&gateway, "deals", "dealname", "Keyed").await, 1);
    assert_eq!(held_at_hubspot(&gateway, "deals", "dealname", "Keyed while down").await, 1);
});
