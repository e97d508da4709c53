//! Batch mutations write up to 100 records in one HubSpot batch call. Each input answers in its place: the record
//! written, or why not (its failed check, which never reaches HubSpot, or HubSpot's refusal of that input in a
//! 207), and the rest are written, in HubSpot and in the mirror, before the mutation answers.

use reqwest::Client;
use serde_json::{Value, json};
use tests::{gateway::Gateway, on_both, sim::limits::Chaos};

const PORTAL: i64 = 100_001;

const CREATE_CONTACTS: &str = "mutation($inputs: [ContactCreate!]!) { createContacts(inputs: $inputs) {
    index record { id hubspotId email companies(first: 5) { nodes { id } } }
    error { code message argument category } } }";

/// The HubSpot id of a written record, and what HubSpot holds of it.
async fn held(world: &Gateway, plural: &str, item: &Value, properties: &str) -> Option<Value> {
    world.at_hubspot(plural, item["record"]["hubspotId"].as_str().unwrap(), properties).await
}

on_both!(batch_creates_write_what_passes_and_report_each_failure_in_place, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let (company, _) = world.first("companies").await;
    let (existing, _) = world.first("contacts").await;
    let taken = world.data("query($id: ID!) { contact(id: $id) { email } }", json!({ "id": existing })).await
        ["contact"]["email"]
        .clone();
    let before = world.requests();
    let inputs = json!([
        { "input": { "email": "ada@example.com", "firstName": "Ada" }, "associateWith": [company] },
        { "input": { "email": "not-an-email" } },
        { "input": { "email": taken } },
        { "input": { "email": "grace@example.com", "lastName": "Hopper" } },
    ]);
    let items = world.data(CREATE_CONTACTS, json!({ "inputs": inputs })).await["createContacts"].clone();
    assert_eq!(world.requests(), before + 1, "one batch call to HubSpot");
    let items = items.as_array().unwrap();
    assert_eq!(items.iter().map(|i| i["index"].as_i64().unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3]);

    assert_eq!(items[0]["error"], Value::Null, "{items:?}");
    assert_eq!(items[0]["record"]["email"], "ada@example.com");
    assert_eq!(items[0]["record"]["companies"]["nodes"][0]["id"], company, "the link is in the mirror at once");
    assert_eq!(held(&world, "contacts", &items[0], "firstname").await.unwrap()["properties"]["firstname"], "Ada");

    assert_eq!(items[1]["record"], Value::Null);
    assert_eq!(items[1]["error"]["code"], "BAD_USER_INPUT");
    assert_eq!(items[1]["error"]["argument"], "inputs[1].input.email");

    assert_eq!(items[2]["record"], Value::Null);
    assert_eq!(items[2]["error"]["code"], "UPSTREAM_REJECTED", "{items:?}");
    assert_eq!(items[2]["error"]["category"], "CONFLICT");
    assert!(items[2]["error"]["message"].as_str().unwrap().contains("already exists"), "{items:?}");

    assert_eq!(items[3]["record"]["email"], "grace@example.com");
    let id = &items[3]["record"]["id"];
    let read =
        world.data("query($id: ID!) { contact(id: $id) { lastName _meta { source } } }", json!({ "id": id })).await;
    assert_eq!(read["contact"], json!({ "lastName": "Hopper", "_meta": { "source": "MIRROR" } }));
    let found = world.data("{ contacts(where: { email: { eq: \"not-an-email\" } }) { totalCount } }", json!({})).await;
    assert_eq!(found["contacts"]["totalCount"], 0, "the failed input was not written");
});

on_both!(batch_updates_change_each_record_once_and_name_what_failed, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let deals = world.data("{ deals(first: 3) { nodes { id hubspotId } } }", json!({})).await["deals"]["nodes"].clone();
    let (a, b, c) = (&deals[0], &deals[1], &deals[2]);
    // Archived at HubSpot since the mirror last heard: HubSpot refuses this input alone.
    let url = format!("{}/crm/v3/objects/deals/{}", world.sim.base_url(), c["hubspotId"].as_str().unwrap());
    Client::new().delete(url).bearer_auth(world.sim.token()).send().await.unwrap();
    let before = world.writes();
    let inputs = json!([
        { "id": a["id"], "input": { "amount": 4321.5, "stage": "closedwon" } },
        { "id": b["id"], "input": { "stage": "nosuchstage" } },
        { "id": c["id"], "input": { "name": "Gone" } },
        { "id": a["id"], "input": { "name": "Twice" } },
        { "id": "999999999", "input": { "name": "Unknown" } },
    ]);
    let update = "mutation($inputs: [DealUpdate!]!) { updateDeals(inputs: $inputs) {
        index record { id amount stage { id } } error { code argument category } } }";
    let items = world.data(update, json!({ "inputs": inputs })).await["updateDeals"].clone();
    // The unknown stage had the pipelines re-read (reads); the updates went in one call.
    assert_eq!(world.writes(), before + 1, "one batch call to HubSpot");
    assert_eq!(items[0]["record"], json!({ "id": a["id"], "amount": 4321.5, "stage": { "id": "closedwon" } }));
    assert_eq!(items[1]["error"]["argument"], "inputs[1].input.stage", "{items}");
    assert_eq!(items[2]["error"]["code"], "UPSTREAM_REJECTED", "{items}");
    assert_eq!(items[2]["error"]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(items[3]["error"]["argument"], "inputs[3].id", "a record named twice: {items}");
    assert_eq!(items[4]["error"]["argument"], "inputs[4].id", "{items}");
    let at_hubspot = world.at_hubspot("deals", a["hubspotId"].as_str().unwrap(), "amount,dealstage").await.unwrap();
    assert_eq!(at_hubspot["properties"]["amount"], "4321.5");
    assert_eq!(at_hubspot["properties"]["dealstage"], "closedwon");
    let read = world.data("query($id: ID!) { deal(id: $id) { amount } }", json!({ "id": b["id"] })).await;
    assert_ne!(read["deal"]["amount"], 4321.5);

    // Companies through the same path: a create, then an update of what was created.
    let created = world
        .data(
            "mutation { createCompanies(inputs: [{ input: { name: \"Initech\" } }, { input: { name: \"Initrode\" } }]) {
                record { id name } error { message } } }",
            json!({}),
        )
        .await["createCompanies"]
        .clone();
    assert_eq!(created[1]["record"]["name"], "Initrode", "{created}");
    let renamed = world
        .data(
            "mutation($id: ID!) { updateCompanies(inputs: [{ id: $id, input: { domain: \"initech.example\" } }]) {
                record { name domain } } }",
            json!({ "id": created[0]["record"]["id"] }),
        )
        .await;
    assert_eq!(renamed["updateCompanies"][0]["record"], json!({ "name": "Initech", "domain": "initech.example" }));
});

on_both!(batch_archives_and_the_limits_of_a_batch, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let tickets =
        world.data("{ tickets(first: 2) { nodes { id hubspotId } } }", json!({})).await["tickets"]["nodes"].clone();
    let (t0, t1) = (&tickets[0], &tickets[1]);
    let archive = "mutation($ids: [ID!]!) { archiveTickets(ids: $ids) { index record error { code argument } } }";
    let items = world.data(archive, json!({ "ids": [t0["id"], "nope", t1["id"]] })).await["archiveTickets"].clone();
    assert_eq!(items[0]["record"], t0["id"]);
    assert_eq!(items[1]["error"], json!({ "code": "BAD_USER_INPUT", "argument": "ids[1]" }));
    assert_eq!(items[2]["record"], t1["id"]);
    for ticket in [t0, t1] {
        assert!(world.at_hubspot("tickets", ticket["hubspotId"].as_str().unwrap(), "").await.is_none());
        let read =
            world.data("query($id: ID!) { ticket(id: $id) { archivedAt } }", json!({ "id": ticket["id"] })).await;
        assert!(read["ticket"]["archivedAt"].is_string(), "{read}");
    }

    // More than HubSpot's 100, or none: refused whole, HubSpot never asked.
    let before = world.requests();
    let many: Vec<Value> = (0..101).map(|n| json!({ "input": { "email": format!("c{n}@example.com") } })).collect();
    for inputs in [json!(many), json!([])] {
        let error = world.error(CREATE_CONTACTS, json!({ "inputs": inputs })).await;
        assert_eq!(error["extensions"]["argument"], "inputs", "{error}");
    }
    assert_eq!(world.requests(), before);

    // HubSpot out: the mutation fails as a whole and nothing reaches the mirror.
    world.sim.sim.set_chaos(Chaos { outage_ms: 60_000, ..Chaos::default() });
    let inputs = json!([{ "input": { "email": "outage@example.com" } }]);
    let error = world.error(CREATE_CONTACTS, json!({ "inputs": inputs })).await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{error}");
    world.sim.sim.set_chaos(Chaos::default());
    let found =
        world.data("{ contacts(where: { email: { eq: \"outage@example.com\" } }) { totalCount } }", json!({})).await;
    assert_eq!(found["contacts"]["totalCount"], 0);
});
