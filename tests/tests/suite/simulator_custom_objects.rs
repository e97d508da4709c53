//! The simulator serves custom objects as HubSpot does: the schemas API, records under the type's `objectTypeId`,
//! `fullyQualifiedName` or `p_{name}`, associations with the schema's type ids per direction, and `object.*` webhook
//! events. The generated portal has one custom type, `machines`, linked with companies.

use std::collections::BTreeMap;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tests::{
    generator::{generate, machine_type},
    hubspot::ObjectType,
    sim::{Running, SimConfig, store::PortalState},
    small_spec,
};

const PORTAL: i64 = 100_001;

struct Api {
    sim: Running,
    http: Client,
}

impl Api {
    async fn start() -> Self {
        let config = SimConfig { portals: vec![small_spec(PORTAL)], rate_limit: 100_000, ..SimConfig::default() };
        Self { sim: Running::start(config).await.expect("simulator starts"), http: Client::new() }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request =
            self.http.request(method, format!("{}{path}", self.sim.base_url())).bearer_auth(self.sim.token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("simulator answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

/// HubSpot's error body, with the category expected.
fn assert_error((status, body): &(StatusCode, Value), expected: StatusCode, category: &str) {
    assert_eq!(*status, expected, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["category"], category, "{body}");
    assert!(body["message"].is_string() && body["correlationId"].is_string(), "{body}");
}

fn widgets() -> Value {
    json!({
        "name": "widgets",
        "labels": { "singular": "Widget", "plural": "Widgets" },
        "primaryDisplayProperty": "widget_name",
        "requiredProperties": ["widget_name"],
        "searchableProperties": ["widget_name"],
        "properties": [
            { "name": "widget_name", "label": "Widget name", "type": "string", "fieldType": "text" },
            { "name": "size", "label": "Size", "type": "enumeration", "fieldType": "select",
              "options": [{ "label": "Small", "value": "s" }, { "label": "Large", "value": "l" }] },
        ],
        "associatedObjects": ["COMPANY", "CONTACT"],
    })
}

#[tokio::test]
async fn the_generated_machines_schema_is_served_by_any_of_its_names() {
    let api = Api::start().await;
    let machines = machine_type(PORTAL).type_id();
    let (status, list) = api.get("/crm/v3/schemas").await;
    assert_eq!(status, StatusCode::OK);
    let listed = &list["results"][0];
    assert_eq!(listed["objectTypeId"], machines);
    assert_eq!(listed["fullyQualifiedName"], format!("p{PORTAL}_machines"));
    assert_eq!(listed["labels"], json!({ "singular": "Machine", "plural": "Machines" }));
    assert_eq!(listed["requiredProperties"], json!(["machine_name"]));
    let names: Vec<&str> =
        listed["properties"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for name in ["machine_name", "serial_number", "model", "installed_on", "running_hours", "hs_createdate"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    for name in [machines.to_owned(), format!("p{PORTAL}_machines"), "p_machines".to_owned()] {
        let (status, one) = api.get(&format!("/crm/v3/schemas/{name}")).await;
        assert_eq!((status, &one["objectTypeId"]), (StatusCode::OK, &json!(machines)), "{name}");
    }
    assert_error(&api.get("/crm/v3/schemas/2-999").await, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
    // The properties API serves the type's definitions like a built-in type's.
    let (status, properties) = api.get("/crm/v3/properties/p_machines").await;
    assert_eq!(status, StatusCode::OK);
    assert!(properties["results"].as_array().unwrap().iter().any(|p| p["name"] == "serial_number"));
    let property = json!({ "name": "firmware", "label": "Firmware", "type": "string", "fieldType": "text",
                           "groupName": "machines_information" });
    assert_eq!(api.post(&format!("/crm/v3/properties/{machines}"), property).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn schemas_are_created_checked_changed_and_archived_as_hubspot_does() {
    let api = Api::start().await;
    let (status, made) = api.post("/crm/v3/schemas", widgets()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let widget_type = made["objectTypeId"].as_str().unwrap().to_owned();
    assert!(widget_type.starts_with("2-") && widget_type != machine_type(PORTAL).type_id());
    assert_eq!(made["fullyQualifiedName"], format!("p{PORTAL}_widgets"));
    let associations = made["associations"].as_array().unwrap();
    assert_eq!(associations.len(), 4, "one per direction per associated type: {associations:?}");
    let ids: std::collections::BTreeSet<&str> = associations.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "distinct type ids");
    assert!(associations.iter().any(|a| a["fromObjectTypeId"] == "0-2" && a["toObjectTypeId"] == widget_type));

    assert_error(&api.post("/crm/v3/schemas", widgets()).await, StatusCode::CONFLICT, "OBJECT_ALREADY_EXISTS");
    let mut unlabelled = widgets();
    unlabelled["name"] = json!("gadgets");
    unlabelled.as_object_mut().unwrap().remove("labels");
    assert_error(&api.post("/crm/v3/schemas", unlabelled).await, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let mut undefined = widgets();
    undefined["name"] = json!("gadgets");
    undefined["requiredProperties"] = json!(["colour"]);
    let refused = api.post("/crm/v3/schemas", undefined).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(refused.1["message"].as_str().unwrap().contains("colour"));
    let mut unknown_object = widgets();
    unknown_object["name"] = json!("gadgets");
    unknown_object["associatedObjects"] = json!(["SPACESHIP"]);
    assert_error(&api.post("/crm/v3/schemas", unknown_object).await, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    let patch =
        json!({ "labels": { "singular": "Gizmo", "plural": "Gizmos" }, "requiredProperties": ["widget_name", "size"] });
    let (status, changed) = api.call(Method::PATCH, "/crm/v3/schemas/p_widgets", Some(patch)).await;
    assert_eq!((status, &changed["labels"]["singular"]), (StatusCode::OK, &json!("Gizmo")), "{changed}");
    assert_eq!(
        api.get(&format!("/crm/v3/schemas/{widget_type}")).await.1["requiredProperties"],
        json!(["widget_name", "size"])
    );
    let bad_patch = json!({ "primaryDisplayProperty": "nothing_here" });
    let refused = api.call(Method::PATCH, "/crm/v3/schemas/p_widgets", Some(bad_patch)).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    let record = json!({ "properties": { "widget_name": "W1", "size": "s" } });
    let (status, created) = api.post(&format!("/crm/v3/objects/{widget_type}"), record).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/crm/v3/schemas/{widget_type}");
    assert_error(&api.call(Method::DELETE, &path, None).await, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let record_path = format!("/crm/v3/objects/p_widgets/{}", created["id"].as_str().unwrap());
    assert_eq!(api.call(Method::DELETE, &record_path, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.call(Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    assert_error(&api.get(&path).await, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
    assert_error(
        &api.get(&format!("/crm/v3/objects/{widget_type}")).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );
    let (_, archived) = api.get("/crm/v3/schemas?archived=true").await;
    assert_eq!(archived["results"][0]["objectTypeId"], widget_type);

    let definition = json!({ "fromObjectTypeId": machine_type(PORTAL).type_id(), "toObjectTypeId": "DEAL" });
    let (status, added) = api.post("/crm/v3/schemas/p_machines/associations", definition).await;
    assert_eq!((status, &added["toObjectTypeId"]), (StatusCode::CREATED, &json!("0-3")), "{added}");
    let (_, machines) = api.get("/crm/v3/schemas/p_machines").await;
    assert_eq!(machines["associations"].as_array().unwrap().len(), 6, "{machines}");
}

#[tokio::test]
async fn custom_records_are_listed_read_written_and_searched_by_any_type_name() {
    let api = Api::start().await;
    let portal = generate(&small_spec(PORTAL));
    let machines = machine_type(PORTAL);
    let generated = portal.objects(machines);
    let (status, page) = api.get("/crm/v3/objects/p_machines?limit=100&properties=serial_number").await;
    assert_eq!(status, StatusCode::OK);
    let mut seen = page["results"].as_array().unwrap().len();
    let mut after = page["paging"]["next"]["after"].as_str().map(str::to_owned);
    while let Some(cursor) = after {
        let (_, next) = api.get(&format!("/crm/v3/objects/{}?limit=100&after={cursor}", machines.type_id())).await;
        seen += next["results"].as_array().unwrap().len();
        after = next["paging"]["next"]["after"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, generated.len());
    let first = &page["results"][0];
    assert_eq!(first["properties"]["serial_number"], json!(generated[0].properties["serial_number"]));
    assert!(first["properties"]["hs_object_id"].is_string());

    let by_name = format!("/crm/v3/objects/p{PORTAL}_machines/{}?properties=machine_name,model", generated[0].id);
    let (status, one) = api.get(&by_name).await;
    assert_eq!((status, &one["properties"]["model"]), (StatusCode::OK, &json!(generated[0].properties["model"])));

    let new = json!({ "properties": { "machine_name": "Press 9", "serial_number": "SN-ZETA9", "model": "mx500",
                                      "running_hours": "12" } });
    let (status, created) = api.post(&format!("/crm/v3/objects/{}", machines.type_id()), new).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let last = generated.iter().map(|m| m.id).max().unwrap();
    assert_eq!(id, (last + 1).to_string(), "custom records take ids from their own sequence");
    for name in ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"] {
        assert!(created["properties"][name].is_string(), "{name}: {created}");
    }

    let missing = api.post("/crm/v3/objects/p_machines", json!({ "properties": { "serial_number": "SN-10" } })).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(missing.1["message"].as_str().unwrap().contains("machine_name"), "{}", missing.1);
    let bad_option = json!({ "properties": { "machine_name": "X", "model": "zx81" } });
    let refused = api.post("/crm/v3/objects/p_machines", bad_option).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert_eq!(refused.1["errors"][0]["code"], "INVALID_OPTION");
    assert_error(&api.get("/crm/v3/objects/2-999").await, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert_error(&api.get("/crm/v3/objects/p_spaceships").await, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    let patch = json!({ "properties": { "running_hours": "13" } });
    let (status, patched) = api.call(Method::PATCH, &format!("/crm/v3/objects/p_machines/{id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["properties"]["running_hours"], "13");
    assert!(patched["updatedAt"].as_str() > created["updatedAt"].as_str());

    let search = json!({ "query": "press", "filterGroups": [{ "filters": [
        { "propertyName": "model", "operator": "EQ", "value": "mx500" }] }], "properties": ["machine_name"] });
    let (status, found) = api.post("/crm/v3/objects/p_machines/search", search).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["results"][0]["id"], id);
    let by_serial = json!({ "query": "zeta9", "limit": 5 });
    let (_, found) = api.post("/crm/v3/objects/p_machines/search", by_serial).await;
    assert!(
        found["results"].as_array().unwrap().iter().any(|r| r["id"] == id),
        "serial numbers are searchable: {found}"
    );

    let batch = json!({ "inputs": [{ "id": id }, { "id": generated[1].id.to_string() }], "properties": ["model"] });
    let (status, read) = api.post("/crm/v3/objects/p_machines/batch/read", batch).await;
    assert_eq!((status, read["results"].as_array().unwrap().len()), (StatusCode::OK, 2), "{read}");
    let creates =
        json!({ "inputs": [{ "properties": { "machine_name": "B1" } }, { "properties": { "model": "mx100" } }] });
    let (status, made) = api.post("/crm/v3/objects/p_machines/batch/create", creates).await;
    assert_eq!((status, &made["numErrors"]), (StatusCode::MULTI_STATUS, &json!(1)), "{made}");

    assert_eq!(
        api.call(Method::DELETE, &format!("/crm/v3/objects/p_machines/{id}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, gone) = api.get(&format!("/crm/v3/objects/p_machines/{id}?archived=true")).await;
    assert_eq!((status, &gone["archived"]), (StatusCode::OK, &json!(true)));
}

#[tokio::test]
async fn custom_records_associate_with_the_schemas_type_ids_in_both_directions() {
    let api = Api::start().await;
    let portal = generate(&small_spec(PORTAL));
    let machines = machine_type(PORTAL);
    let schema = &portal.schemas[0];
    let (to_company, from_company) =
        (schema.association_to(ObjectType::Company).unwrap(), schema.association_from(ObjectType::Company).unwrap());
    let generated = portal.associations.iter().find(|a| a.from_type == machines).expect("machines have companies");

    let (status, read) =
        api.get(&format!("/crm/v4/objects/p_machines/{}/associations/companies", generated.from_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["results"][0]["toObjectId"], generated.to_id);
    assert_eq!(
        read["results"][0]["associationTypes"][0],
        json!({ "category": "USER_DEFINED", "typeId": to_company, "label": null })
    );

    let (_, made) = api.post("/crm/v3/objects/p_machines", json!({ "properties": { "machine_name": "Lathe" } })).await;
    let id = made["id"].as_str().unwrap().to_owned();
    let company = portal.companies[3].id;
    let put = format!("/crm/v4/objects/{}/{id}/associations/default/companies/{company}", machines.type_id());
    let (status, answer) = api.call(Method::PUT, &put, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"][0]["associationSpec"]["associationTypeId"], to_company);
    let (_, back) = api.get(&format!("/crm/v4/objects/companies/{company}/associations/p_machines")).await;
    let entry = back["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["toObjectId"].as_i64() == id.parse().ok())
        .expect("inverse");
    assert_eq!(entry["associationTypes"][0]["typeId"], from_company);

    // Labelled by type id from the company's side; a type id the schema does not define is refused.
    let other = portal.companies[4].id;
    let labelled = format!("/crm/v4/objects/companies/{other}/associations/{}/{id}", machines.type_id());
    let spec = json!([{ "associationCategory": "USER_DEFINED", "associationTypeId": from_company }]);
    assert_eq!(api.call(Method::PUT, &labelled, Some(spec)).await.0, StatusCode::CREATED, "201, as for built-in types");
    let wrong = json!([{ "associationCategory": "USER_DEFINED", "associationTypeId": 279 }]);
    assert_error(&api.call(Method::PUT, &labelled, Some(wrong)).await, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let deal = portal.deals[0].id;
    let undefined = format!("/crm/v4/objects/p_machines/{id}/associations/default/deals/{deal}");
    assert_error(&api.call(Method::PUT, &undefined, None).await, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    let (status, batch) =
        api.post("/crm/v4/associations/p_machines/companies/batch/read", json!({ "inputs": [{ "id": id }] })).await;
    assert_eq!(status, StatusCode::OK);
    let targets: Vec<i64> =
        batch["results"][0]["to"].as_array().unwrap().iter().map(|t| t["toObjectId"].as_i64().unwrap()).collect();
    assert_eq!(targets, {
        let mut both = vec![company, other];
        both.sort();
        both
    });

    assert_eq!(
        api.call(Method::DELETE, &format!("/crm/v4/objects/p_machines/{id}/associations/companies/{company}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let archive = json!({ "inputs": [{ "from": { "id": id }, "to": [{ "id": other.to_string() }] }] });
    assert_eq!(
        api.post("/crm/v4/associations/p_machines/companies/batch/archive", archive).await.0,
        StatusCode::NO_CONTENT
    );
    let create = json!({ "inputs": [{ "from": { "id": id }, "to": { "id": company.to_string() },
                                       "types": [{ "associationCategory": "USER_DEFINED", "associationTypeId": to_company }] }] });
    assert_eq!(api.post("/crm/v4/associations/p_machines/companies/batch/create", create).await.0, StatusCode::CREATED);
    let (_, after) = api.get(&format!("/crm/v4/objects/p_machines/{id}/associations/companies")).await;
    assert_eq!(after["results"].as_array().unwrap().len(), 1, "{after}");
}

#[test]
fn custom_record_changes_put_hubspots_object_events_in_the_outbox() {
    let machines = machine_type(PORTAL);
    let mut state = PortalState::new(generate(&small_spec(PORTAL)));
    state.sends_webhooks = true;
    let now = chrono::Utc::now();
    let set = |name: &str, value: &str| BTreeMap::from([(name.to_owned(), Some(value.to_owned()))]);
    let id = state.create(machines, set("machine_name", "Mill"), now).unwrap().object.id;
    state.update(machines, id, set("running_hours", "7"), now).unwrap();
    let company = state.records(ObjectType::Company).keys().next().copied().unwrap();
    let to_company = state.custom_default_type(machines, ObjectType::Company).unwrap();
    state.associate(machines, id, ObjectType::Company, company, &[to_company]).unwrap();
    state.archive(machines, id, now).unwrap();
    state.restore(machines, id, now).unwrap();

    let own: Vec<&Value> = state.outbox.iter().filter(|e| e["objectId"] == id).collect();
    let kinds: Vec<&str> = own.iter().map(|e| e["subscriptionType"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["object.creation", "object.propertyChange", "object.associationChange", "object.deletion", "object.restore"]
    );
    assert!(own.iter().all(|e| e["objectTypeId"] == machines.type_id() && e["portalId"] == PORTAL));
    assert!(own.iter().all(|e| e["occurredAt"].is_i64()));
    assert_eq!((&own[1]["propertyName"], &own[1]["propertyValue"]), (&json!("running_hours"), &json!("7")));
    assert_eq!(own[2]["toObjectId"], company);
    assert_eq!(own[2]["associationType"], "MACHINES_TO_COMPANY");
    let company_side = state.outbox.iter().find(|e| e["objectId"] == company).expect("the company's side");
    assert_eq!(company_side["subscriptionType"], "company.associationChange");
    assert_eq!(
        (&company_side["toObjectId"], &company_side["toObjectTypeId"]),
        (&json!(id), &json!(machines.type_id()))
    );
}
