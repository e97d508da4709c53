//! Reads the mirror cannot answer fall back to HubSpot (the simulator) through the read cache, and every object
//! says where its answer came from: a record created at HubSpot a moment ago is readable by id at once, many readers
//! of it make one call, an unknown id is remembered briefly, `fresh` asks HubSpot, and lists never do.

use reqwest::Client;
use serde_json::{Value, json};
use tests::{gateway::Gateway, on_both};

const PORTAL: i64 = 100_001;

const CONTACT: &str = "query($id: ID!, $fresh: Boolean) { contact(id: $id, fresh: $fresh) {
    email jobTitle _meta { source syncedAt hubspotUpdatedAt } } }";

/// A contact made straight at HubSpot, as another app would; its HubSpot id.
async fn created_at_hubspot(gateway: &Gateway, email: &str) -> String {
    let url = format!("{}/crm/v3/objects/contacts", gateway.sim.base_url());
    let body = json!({ "properties": { "email": email, "jobtitle": "Analyst" } });
    let answer: Value = Client::new()
        .post(url)
        .bearer_auth(gateway.sim.token())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id"].as_str().unwrap().to_owned()
}

on_both!(a_record_created_at_hubspot_is_readable_by_id_at_once, |backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let id = created_at_hubspot(&gateway, "fresh@example.com").await;
    let before = gateway.requests();
    let first = gateway.data(CONTACT, json!({ "id": id })).await;
    assert_eq!(first["contact"]["email"], "fresh@example.com");
    assert_eq!(first["contact"]["_meta"]["source"], "HUBSPOT");
    assert_eq!(gateway.requests(), before + 1);
    let again = gateway.data(CONTACT, json!({ "id": id })).await;
    assert_eq!(again["contact"]["_meta"]["source"], "MIRROR", "the fallback wrote it to the mirror");
    assert_eq!(again["contact"]["_meta"]["hubspotUpdatedAt"], first["contact"]["_meta"]["hubspotUpdatedAt"]);
    assert_eq!(gateway.requests(), before + 1);

    // Lists never ask HubSpot.
    let other = created_at_hubspot(&gateway, "listed@example.com").await;
    let before = gateway.requests();
    let list =
        gateway.data("{ contacts(where: { email: { eq: \"listed@example.com\" } }) { totalCount } }", json!({})).await;
    assert_eq!(list["contacts"]["totalCount"], 0);
    assert_eq!(gateway.requests(), before);

    // A hundred concurrent readers of a record the mirror lacks: one call to HubSpot.
    let reads = (0..100).map(|_| gateway.run(CONTACT, json!({ "id": other })));
    let answers = futures::future::join_all(reads).await;
    for answer in &answers {
        assert_eq!(answer["data"]["contact"]["email"], "listed@example.com", "{answer}");
    }
    assert_eq!(gateway.requests(), before + 1, "one upstream call for a hundred readers");
});

on_both!(an_unknown_id_answers_null_and_is_remembered_briefly, |backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let before = gateway.requests();
    for _ in 0..3 {
        let answer = gateway.data(CONTACT, json!({ "id": "987654321" })).await;
        assert_eq!(answer["contact"], Value::Null);
    }
    assert_eq!(gateway.requests(), before + 1, "HubSpot was asked once");
});

on_both!(fresh_reads_hubspot_through_the_cache_and_writes_drop_the_entry, |backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let (global, id) = gateway.first("contacts").await;
    let mirrored = gateway.data(CONTACT, json!({ "id": global })).await;
    assert_eq!(mirrored["contact"]["_meta"]["source"], "MIRROR");
    assert!(mirrored["contact"]["_meta"]["syncedAt"].is_string());

    // Changed at HubSpot; no webhook has come yet.
    let url = format!("{}/crm/v3/objects/contacts/{id}", gateway.sim.base_url());
    let body = json!({ "properties": { "jobtitle": "Chief Fresh Officer" } });
    Client::new().patch(url).bearer_auth(gateway.sim.token()).json(&body).send().await.unwrap();
    let stale = gateway.data(CONTACT, json!({ "id": global })).await;
    assert_ne!(stale["contact"]["jobTitle"], "Chief Fresh Officer");
    let fresh = gateway.data(CONTACT, json!({ "id": global, "fresh": true })).await;
    assert_eq!(fresh["contact"]["jobTitle"], "Chief Fresh Officer");
    assert_eq!(fresh["contact"]["_meta"]["source"], "HUBSPOT");
    let cached = gateway.data(CONTACT, json!({ "id": global, "fresh": true })).await;
    assert_eq!(cached["contact"]["_meta"]["source"], "CACHE", "within the TTL HubSpot's answer is reused");
    let now_mirrored = gateway.data(CONTACT, json!({ "id": global })).await;
    assert_eq!(now_mirrored["contact"]["jobTitle"], "Chief Fresh Officer", "the fresh read updated the mirror");

    // A write through the gateway drops the cached answer: the next fresh read asks HubSpot again.
    let update = "mutation($id: ID!) { updateContact(id: $id, input: { jobTitle: \"Retired\" }) { jobTitle } }";
    gateway.data(update, json!({ "id": global })).await;
    let after = gateway.data(CONTACT, json!({ "id": global, "fresh": true })).await;
    assert_eq!(after["contact"]["jobTitle"], "Retired");
    assert_eq!(after["contact"]["_meta"]["source"], "HUBSPOT");
});
