//! A portal's custom objects, whole: their schemas and records are backfilled, filtered and sorted on any property,
//! reached from the records they are linked to, kept by webhooks, and written through the gateway with the schema's
//! checks.

use reqwest::{Client, Method};
use serde_json::{Value, json};
use server::webhooks::{WebhookStats, apply::Applier, event::parse_batch, log};
use tests::{Backend, gateway::Gateway, on_both};

const PORTAL: i64 = 100_002;

/// A call straight to HubSpot (the simulator).
async fn at_hubspot(gateway: &Gateway, method: Method, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", gateway.sim.base_url());
    let mut request = Client::new().request(method, url).bearer_auth(gateway.sim.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The generated portal's custom type, as HubSpot lists it.
async fn machines(gateway: &Gateway) -> Value {
    let schemas = at_hubspot(gateway, Method::GET, "/crm/v3/schemas", None).await;
    let found = schemas["results"].as_array().unwrap().iter().find(|s| s["name"] == "machines").cloned();
    found.expect("the generated portal has a custom object type")
}

/// Every live record of `type_id` at HubSpot, with `properties`.
async fn records_at_hubspot(gateway: &Gateway, type_id: &str, properties: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let path = format!("/crm/v3/objects/{type_id}?limit=100&properties={properties}{after}");
        let page = at_hubspot(gateway, Method::GET, &path, None).await;
        out.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["paging"]["next"]["after"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return out,
        }
    }
}

fn number(record: &Value, name: &str) -> Option<f64> {
    record["properties"][name].as_str().and_then(|v| v.parse().ok())
}

/// Applies one webhook event as HubSpot would send it for a custom object.
async fn deliver(gateway: &Gateway, event: Value) {
    let db = &gateway.db.db;
    log::append(db, "test", parse_batch(&serde_json::to_vec(&json!([event])).unwrap()).unwrap()).await.unwrap();
    let applier = Applier {
        db: db.clone(),
        hubspot: Some(gateway.upstream.hubspot.clone()),
        stats: WebhookStats::default(),
        settings: Default::default(),
        health: None,
        reference: Default::default(),
    };
    assert_eq!(applier.drain().await.unwrap().applied, 1);
}

on_both!(custom_objects_are_backfilled_filtered_sorted_and_linked, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let schema = machines(&gateway).await;
    let type_id = schema["objectTypeId"].as_str().unwrap().to_owned();

    let listed = gateway
        .data(
            "{ customObjectSchemas { objectTypeId name fullyQualifiedName primaryDisplayProperty requiredProperties
               associatedTypes properties { name type hubspotDefined } } }",
            json!({}),
        )
        .await;
    let mirrored = listed["customObjectSchemas"].as_array().unwrap().iter().find(|s| s["name"] == "machines").unwrap();
    assert_eq!(mirrored["objectTypeId"], type_id);
    assert_eq!(mirrored["fullyQualifiedName"], schema["fullyQualifiedName"]);
    assert_eq!(mirrored["primaryDisplayProperty"], schema["primaryDisplayProperty"]);
    assert_eq!(mirrored["requiredProperties"], schema["requiredProperties"]);
    assert!(mirrored["associatedTypes"].as_array().unwrap().contains(&json!("company")), "{mirrored}");
    let names: Vec<&str> =
        mirrored["properties"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for own in schema["properties"].as_array().unwrap() {
        assert!(names.contains(&own["name"].as_str().unwrap()), "{own} is mirrored: {names:?}");
    }

    // Every live record, by any of its names; filtered and sorted on a number property as numbers.
    let display = schema["primaryDisplayProperty"].as_str().unwrap();
    let records = records_at_hubspot(&gateway, &type_id, &format!("{display},running_hours")).await;
    assert!(records.len() > 3, "the generated portal has machines: {}", records.len());
    let list = "query($type: String!, $where: CustomObjectWhere, $order: [CustomObjectOrderBy!]) {
        customObjects(type: $type, where: $where, orderBy: $order, first: 5) {
            totalCount nodes { id hubspotId displayName hours: property(name: \"running_hours\") { value } } } }";
    for name in [&type_id, "machines", schema["fullyQualifiedName"].as_str().unwrap()] {
        let all = gateway.data(list, json!({ "type": name })).await;
        assert_eq!(all["customObjects"]["totalCount"], records.len(), "by {name}");
    }
    let mut hours: Vec<f64> = records.iter().filter_map(|r| number(r, "running_hours")).collect();
    hours.sort_by(f64::total_cmp);
    let threshold = hours[hours.len() / 2];
    let expected = hours.iter().filter(|h| **h >= threshold).count();
    let busy = json!({ "type": "machines", "where": { "properties": [{ "name": "running_hours", "gte": threshold.to_string() }] },
        "order": [{ "property": "running_hours", "direction": "DESC" }] });
    let found = gateway.data(list, busy).await;
    assert_eq!(found["customObjects"]["totalCount"], expected);
    assert_eq!(found["customObjects"]["nodes"][0]["hours"]["value"].as_f64(), hours.last().copied());
    let first = &found["customObjects"]["nodes"][0];
    let at_hubspot_first = records.iter().find(|r| r["id"] == first["hubspotId"]).unwrap();
    assert_eq!(first["displayName"], at_hubspot_first["properties"][display]);

    // Linked both ways, as HubSpot links them.
    let mut checked = 0;
    for id in records.iter().map(|r| r["id"].as_str().unwrap().to_owned()).take(20) {
        let path = format!("/crm/v4/objects/{type_id}/{id}/associations/companies");
        let links = at_hubspot(&gateway, Method::GET, &path, None).await;
        let to = &links["results"][0]["toObjectId"];
        let Some(company) = to.as_i64().or_else(|| to.as_str()?.parse().ok()) else { continue };
        let query = "query($id: ID!, $type: String, $company: ID!) {
            customObject(id: $id, type: $type) { companies { nodes { hubspotId } } }
            company(id: $company) { customObjects(type: \"machines\", first: 100) { nodes { hubspotId } } } }";
        let answer = gateway.data(query, json!({ "id": id, "type": "machines", "company": company.to_string() })).await;
        let companies = answer["customObject"]["companies"]["nodes"].as_array().unwrap();
        assert!(companies.contains(&json!({ "hubspotId": company.to_string() })), "{answer}");
        let machines = answer["company"]["customObjects"]["nodes"].as_array().unwrap();
        assert!(machines.contains(&json!({ "hubspotId": id })), "{answer}");
        checked += 1;
    }
    assert!(checked > 0, "some machine is linked to a company");

    let unknown = gateway.error("{ customObjects(type: \"rockets\") { totalCount } }", json!({})).await;
    let message = unknown["message"].as_str().unwrap();
    assert!(message.contains("`type`") && message.contains("machines"), "{message}");
});

on_both!(custom_objects_are_written_checked_and_kept_by_webhooks, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let schema = machines(&gateway).await;
    let type_id = schema["objectTypeId"].as_str().unwrap().to_owned();
    let (company, company_id) = gateway.first("companies").await;

    // Checked against the schema before HubSpot sees anything.
    let create = "mutation($properties: JSON!, $with: [ID!]) {
        createCustomObject(type: \"machines\", properties: $properties, associateWith: $with) {
            id hubspotId displayName hours: property(name: \"running_hours\") { value } companies { nodes { id } } } }";
    let writes = gateway.writes();
    for (properties, field) in [
        (json!({ "running_hours": "12" }), "properties.machine_name"),
        (json!({ "machine_name": "Press 9", "running_hours": "twelve" }), "properties.running_hours"),
        (json!({ "machine_name": "Press 9", "no_such_property": "x" }), "properties.no_such_property"),
        (json!({ "machine_name": "Press 9", "hs_object_id": "1" }), "properties.hs_object_id"),
    ] {
        let error = gateway.error(create, json!({ "properties": properties, "with": [] })).await;
        assert!(error["message"].as_str().unwrap().contains(&format!("`{field}`")), "{field}: {error}");
    }
    assert_eq!(gateway.writes(), writes, "HubSpot was not called");

    // Created at HubSpot, in the mirror at once, linked to the company by the schema's association type.
    let made = gateway
        .data(create, json!({ "properties": { "machine_name": "Press 9", "running_hours": 12 }, "with": [company] }))
        .await["createCustomObject"]
        .clone();
    assert_eq!(made["displayName"], "Press 9");
    assert_eq!(made["hours"]["value"], 12);
    assert_eq!(made["companies"]["nodes"], json!([{ "id": company }]));
    let id = made["hubspotId"].as_str().unwrap().to_owned();
    let held =
        at_hubspot(&gateway, Method::GET, &format!("/crm/v3/objects/{type_id}/{id}?properties=machine_name"), None)
            .await;
    assert_eq!(held["properties"]["machine_name"], "Press 9");
    let path = format!("/crm/v4/objects/{type_id}/{id}/associations/companies");
    let links = at_hubspot(&gateway, Method::GET, &path, None).await;
    assert_eq!(links["results"][0]["toObjectId"].to_string().trim_matches('"'), company_id);

    // Changed at HubSpot: its webhook (the generic `object.propertyChange`, naming the type by id) reaches the mirror.
    let body = json!({ "properties": { "running_hours": "500" } });
    let changed = at_hubspot(&gateway, Method::PATCH, &format!("/crm/v3/objects/{type_id}/{id}"), Some(body)).await;
    let occurred = chrono::DateTime::parse_from_rfc3339(changed["updatedAt"].as_str().unwrap()).unwrap();
    deliver(
        &gateway,
        json!({ "eventId": 1, "subscriptionId": 1, "portalId": PORTAL, "appId": 1,
        "occurredAt": occurred.timestamp_millis(), "subscriptionType": "object.propertyChange", "objectTypeId": type_id,
        "objectId": id.parse::<i64>().unwrap(), "propertyName": "running_hours", "propertyValue": "500",
        "changeSource": "CRM_UI", "attemptNumber": 0 }),
    )
    .await;
    let read =
        "query($id: ID!) { customObject(id: $id) { displayName hours: property(name: \"running_hours\") { value } } }";
    let global = made["id"].clone();
    assert_eq!(gateway.data(read, json!({ "id": global })).await["customObject"]["hours"]["value"], 500);

    // Created at HubSpot: the creation event's record is read from HubSpot.
    let body = json!({ "properties": { "machine_name": "Lathe 3" } });
    let other = at_hubspot(&gateway, Method::POST, &format!("/crm/v3/objects/{type_id}"), Some(body)).await;
    let other_id: i64 = other["id"].as_str().unwrap().parse().unwrap();
    deliver(
        &gateway,
        json!({ "eventId": 2, "subscriptionId": 1, "portalId": PORTAL, "appId": 1,
        "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": "object.creation",
        "objectTypeId": type_id, "objectId": other_id, "changeSource": "CRM_UI", "attemptNumber": 0 }),
    )
    .await;
    let by_id = "query($id: ID!) { customObject(id: $id, type: \"machines\") { displayName } }";
    let found = gateway.data(by_id, json!({ "id": other_id.to_string() })).await;
    assert_eq!(found["customObject"]["displayName"], "Lathe 3");

    // Updated and archived through the gateway.
    let update = "mutation($id: ID!) { updateCustomObject(id: $id, properties: { running_hours: \"600\" }) {
        hours: property(name: \"running_hours\") { value } } }";
    assert_eq!(gateway.data(update, json!({ "id": global })).await["updateCustomObject"]["hours"]["value"], 600);
    let count = "{ customObjects(type: \"machines\") { totalCount } }";
    let before = gateway.data(count, json!({})).await["customObjects"]["totalCount"].as_u64().unwrap();
    gateway.data("mutation($id: ID!) { archiveCustomObject(id: $id) }", json!({ "id": global })).await;
    assert_eq!(gateway.data(count, json!({})).await["customObjects"]["totalCount"].as_u64().unwrap(), before - 1);
    let gone = Client::new()
        .get(format!("{}/crm/v3/objects/{type_id}/{id}", gateway.sim.base_url()))
        .bearer_auth(gateway.sim.token())
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "archived at HubSpot");
});
