//! A real portal, whole: its own property definitions are mirrored, every read from HubSpot asks for every property
//! (custom ones included) and merges into what the mirror holds, and reference data a credential may not read is
//! reported without stopping the rest of the sync.

use std::collections::HashMap;

use chrono::Utc;
use entities::property_definition;
use hubspot::ObjectType;
use reqwest::Client;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use server::{
    mirror::events::{self, Change},
    sync::{Progress, backfill, reconcile, refresh},
};
use tests::{
    Backend, TestDb, execute,
    gateway::Gateway,
    on_both,
    sim::{Running, SimConfig, scopes::PRIVATE_APP_SCOPES},
    small_spec,
};

const PORTAL: i64 = 100_001;

/// The contact's properties as the mirror answers them.
async fn mirrored(gateway: &Gateway, id: &str, names: &[&str]) -> Value {
    let query = "query($id: ID!, $names: [String!]) { contact(id: $id) { properties(names: $names) } }";
    gateway.data(query, json!({ "id": id, "names": names })).await["contact"]["properties"].clone()
}

on_both!(custom_properties_are_mirrored_and_never_lost, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let db = &gateway.db.db;

    // The portal's definitions: HubSpot's own and the portal's custom ones, with their types and options.
    let definitions: HashMap<String, property_definition::Model> = property_definition::Entity::find()
        .filter(property_definition::Column::PortalId.eq(PORTAL))
        .filter(property_definition::Column::ObjectType.eq("contact"))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.name.clone(), d))
        .collect();
    let tier = &definitions["tier"];
    assert_eq!((tier.property_type.as_str(), tier.hubspot_defined), ("enumeration", false));
    assert!(tier.options.contains("\"Gold\""), "{}", tier.options);
    assert!(definitions["email"].hubspot_defined);

    // The backfill asked for the custom properties: a contact HubSpot holds a tier for has it in the mirror.
    let portal = tests::generator::generate(&small_spec(PORTAL));
    let with_tier =
        portal.contacts.iter().find(|c| !c.archived && c.properties.get("tier").is_some_and(Option::is_some));
    let with_tier = with_tier.expect("the generated portal sets tiers");
    let id = with_tier.id.to_string();
    let held = mirrored(&gateway, &id, &["tier", "renewal_date"]).await;
    assert_eq!(held["tier"], json!(with_tier.properties["tier"]));

    // Set at HubSpot with no webhook: the reconcile sweep brings it, with every other property still there.
    let url = format!("{}/crm/v3/objects/contacts/{id}", gateway.sim.base_url());
    let body = json!({ "properties": { "tier": "gold", "renewal_date": "2027-03-01" } });
    let answer = Client::new().patch(url).bearer_auth(gateway.sim.token()).json(&body).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    reconcile(db, &gateway.upstream.hubspot, PORTAL, None).await.expect("sweep");
    let swept = mirrored(&gateway, &id, &["tier", "renewal_date", "email"]).await;
    assert_eq!(swept, json!({ "tier": "gold", "renewal_date": "2027-03-01", "email": with_tier.properties["email"] }));

    // A webhook's change newer than HubSpot's answer, and a property HubSpot's answer does not name: a re-read keeps
    // both (per property, the newer value wins; what a read did not ask for stays).
    let later = Utc::now().timestamp_millis() + 3_600_000;
    let changes = vec![
        Change { name: "tier".into(), value: Some("silver".into()), occurred_ms: later },
        Change { name: "not_at_hubspot".into(), value: Some("kept".into()), occurred_ms: later },
    ];
    let missing = events::set_properties(db, PORTAL, ObjectType::Contact, &[(with_tier.id, changes)]).await.unwrap();
    assert!(missing.is_empty());
    refresh(db, &gateway.upstream.hubspot, PORTAL, ObjectType::Contact, &[with_tier.id]).await.expect("re-read");
    let kept = mirrored(&gateway, &id, &["tier", "renewal_date", "not_at_hubspot"]).await;
    assert_eq!(kept, json!({ "tier": "silver", "renewal_date": "2027-03-01", "not_at_hubspot": "kept" }));
});

on_both!(a_missing_marketing_scope_is_reported_and_the_rest_syncs, |backend: Backend| async move {
    let mut config = SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() };
    let scopes = PRIVATE_APP_SCOPES.iter().filter(|s| **s != "marketing.campaigns.read").map(|s| s.to_string());
    config.token_scopes = HashMap::from([(config.tokens[0].clone(), scopes.collect())]);
    let sim = Running::start(config).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let settings = server::hubspot::ClientSettings { base_url: sim.base_url(), ..Default::default() };
    let hubspot = server::hubspot::HubSpot::new(
        settings,
        std::sync::Arc::new(server::hubspot::PrivateApp(sim.token().to_owned())),
    );
    let report = backfill(&db.db, &hubspot, PORTAL, false, &Progress::Quiet).await.expect("the records sync");
    assert!(report.objects > 0);

    let scope = schema::Scope::new(db.db.clone(), PORTAL, schema::Role::Reader);
    let query = "{ syncStatus { objectType done lastError missingScopes refreshedAt } }";
    let answer = execute(&schema::build(), scope, query, json!({})).await;
    let rows = answer["data"]["syncStatus"].as_array().unwrap().clone();
    let row = |kind: &str| rows.iter().find(|r| r["objectType"] == kind).cloned().unwrap_or(Value::Null);
    let campaigns = row("campaigns");
    assert_eq!(campaigns["missingScopes"], json!(["marketing.campaigns.read"]), "{rows:?}");
    assert_eq!(campaigns["done"], false);
    assert!(campaigns["lastError"].as_str().unwrap().contains("MISSING_SCOPES"), "{campaigns}");
    for kind in ["contact", "company", "deal", "ticket", "owners", "pipelines", "properties"] {
        assert_eq!(row(kind)["done"], true, "{kind}: {rows:?}");
        assert_eq!(row(kind)["missingScopes"], json!([]), "{kind}");
    }
    assert!(row("owners")["refreshedAt"].is_string());
    let count = entities::campaign::Entity::find().all(&db.db).await.unwrap().len();
    assert_eq!(count, 0, "nothing was read without the scope");
});

/// A call straight to HubSpot (the simulator), as an admin in HubSpot's settings would make it.
async fn at_hubspot(gateway: &Gateway, method: reqwest::Method, path: &str, body: Value) -> Value {
    let url = format!("{}{path}", gateway.sim.base_url());
    let response =
        Client::new().request(method, url).bearer_auth(gateway.sim.token()).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

on_both!(a_property_created_at_hubspot_is_typed_filtered_and_kept, |backend: Backend| async move {
    use server::webhooks::{WebhookStats, apply::Applier, event::parse_batch, log};
    let gateway = Gateway::start(backend, PORTAL).await;
    let db = &gateway.db.db;
    let listed = gateway
        .data("{ properties(objectType: CONTACT) { name type hubspotDefined options { value label } } }", json!({}))
        .await;
    let listed = listed["properties"].as_array().unwrap().clone();
    let tier = listed.iter().find(|p| p["name"] == "tier").expect("custom properties are listed");
    assert_eq!(tier["type"], "enumeration");
    assert_eq!(tier["hubspotDefined"], false);
    assert!(tier["options"].as_array().unwrap().contains(&json!({ "value": "gold", "label": "Gold" })));
    assert!(listed.iter().any(|p| p["name"] == "email" && p["hubspotDefined"] == true));
    assert!(listed.iter().all(|p| p["name"] != "nps_score"), "not defined yet");

    // An admin adds a number property at HubSpot and sets it on a contact; its webhook reaches the gateway.
    let definition = json!({ "name": "nps_score", "label": "NPS", "type": "number", "fieldType": "number",
        "groupName": "contactinformation" });
    let made = Client::new().post(format!("{}/_sim/properties/contacts", gateway.sim.base_url())).json(&definition);
    assert!(made.send().await.unwrap().status().is_success());
    let (global, id) = gateway.first("contacts").await;
    let body = json!({ "properties": { "nps_score": "10" } });
    let changed = at_hubspot(&gateway, reqwest::Method::PATCH, &format!("/crm/v3/objects/contacts/{id}"), body).await;
    let occurred = chrono::DateTime::parse_from_rfc3339(changed["updatedAt"].as_str().unwrap()).unwrap();
    let event = json!([{ "eventId": 1, "subscriptionId": 1, "portalId": PORTAL, "appId": 1,
        "occurredAt": occurred.timestamp_millis(), "subscriptionType": "contact.propertyChange",
        "objectId": id.parse::<i64>().unwrap(), "propertyName": "nps_score", "propertyValue": "10",
        "changeSource": "CRM_UI", "attemptNumber": 0 }]);
    log::append(db, "test", parse_batch(&serde_json::to_vec(&event).unwrap()).unwrap()).await.unwrap();
    let applier = Applier {
        db: db.clone(),
        hubspot: Some(gateway.upstream.hubspot.clone()),
        stats: WebhookStats::default(),
        settings: Default::default(),
        health: None,
        reference: Default::default(),
    };
    assert_eq!(applier.drain().await.unwrap().applied, 1);
    // The event named a property the mirror had no definition of: the definitions are re-read.
    tests::wait_for("the new definition", 10, async || {
        let found = property_definition::Entity::find_by_id((PORTAL, "contact".to_owned(), "nps_score".to_owned()));
        found.one(db).await.unwrap().is_some()
    })
    .await;

    // Typed, filterable, and still there after a sweep.
    let typed = "query($id: ID!) { contact(id: $id) {
        nps: property(name: \"nps_score\") { name type value label }
        tier: property(name: \"tier\") { type value label } } }";
    let answer = gateway.data(typed, json!({ "id": global })).await;
    assert_eq!(answer["contact"]["nps"], json!({ "name": "nps_score", "type": "number", "value": 10, "label": null }));
    assert_eq!(answer["contact"]["tier"]["type"], "enumeration");
    let filtered = "query($where: ContactWhere) { contacts(where: $where, first: 100) { totalCount nodes { id } } }";
    let scored = json!({ "where": { "properties": [{ "name": "nps_score", "gte": "9" }] } });
    let found = gateway.data(filtered, scored.clone()).await;
    assert_eq!(found["contacts"]["nodes"], json!([{ "id": global }]));
    reconcile(db, &gateway.upstream.hubspot, PORTAL, None).await.expect("sweep");
    assert_eq!(gateway.data(filtered, scored).await["contacts"]["totalCount"], 1, "the sweep kept it");

    // Dates compare as dates, enumerations by their options; the count matches the generated portal.
    let portal = tests::generator::generate(&small_spec(PORTAL));
    let expected = portal
        .contacts
        .iter()
        .filter(|c| !c.archived)
        .filter(|c| c.properties.get("renewal_date").cloned().flatten().is_some_and(|d| d.as_str() >= "2026-01-01"))
        .filter(|c| c.properties.get("tier").cloned().flatten().is_some_and(|t| t == "gold" || t == "silver"))
        .count();
    assert!(expected > 0, "the generated portal has such contacts");
    let both = json!({ "where": { "properties": [
        { "name": "renewal_date", "gte": "2026-01-01" }, { "name": "tier", "in": ["gold", "silver"] }] } });
    assert_eq!(gateway.data(filtered, both).await["contacts"]["totalCount"], expected);
    let unset = json!({ "where": { "properties": [{ "name": "tier", "isNull": true }] } });
    let without =
        portal.contacts.iter().filter(|c| !c.archived && c.properties.get("tier").cloned().flatten().is_none());
    assert_eq!(gateway.data(filtered, unset).await["contacts"]["totalCount"], without.count());

    // Bad filters name the field and say why.
    for (filter, argument, says) in [
        (json!({ "name": "no_such_thing", "eq": "x" }), "where.properties[0].name", "no property"),
        (json!({ "name": "nps_score", "gte": "lots" }), "where.properties[0].gte", "not a number"),
        (json!({ "name": "tier", "eq": "platinum" }), "where.properties[0].eq", "not an option"),
        (json!({ "name": "renewal_date", "lt": "soon" }), "where.properties[0].lt", "not a date"),
    ] {
        let error = gateway.error(filtered, json!({ "where": { "properties": [filter] } })).await;
        assert_eq!(error["extensions"]["argument"], argument, "{error}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    let error = gateway.error(typed.replace("tier", "no_such_thing").as_str(), json!({ "id": global })).await;
    assert!(error["message"].as_str().unwrap().contains("no property `no_such_thing`"), "{error}");
});

on_both!(a_stage_and_an_owner_added_after_the_backfill_are_usable_at_once, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let sim = gateway.sim.base_url();
    let http = Client::new();
    let owner: Value = http
        .post(format!("{sim}/_sim/owners"))
        .json(&json!({ "email": "new.rep@example.com", "firstName": "New", "lastName": "Rep" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stage: Value = http
        .post(format!("{sim}/_sim/pipelines/deals/default/stages"))
        .json(&json!({ "label": "Legal review", "displayOrder": 5, "metadata": { "probability": "0.95" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let create = "mutation($input: DealInput!) { createDeal(input: $input) {
        stage { id label probability } owner { email } } }";
    let input = json!({ "input": { "name": "Signed soon", "stage": stage["id"], "ownerId": owner["id"] } });
    let created = gateway.data(create, input).await;
    assert_eq!(
        created["createDeal"],
        json!({ "stage": { "id": stage["id"], "label": "Legal review", "probability": 0.95 },
                "owner": { "email": "new.rep@example.com" } })
    );
    // An id HubSpot does not know either is still refused, naming the field.
    let error = gateway.error(create, json!({ "input": { "name": "x", "stage": "nosuchstage" } })).await;
    assert_eq!(error["extensions"]["argument"], "input.stage", "{error}");
});

on_both!(lists_sort_by_any_property_as_its_type_reads, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    // The generated portal's live contacts by custom_score (a number), highest first, those without one last, ties
    // by HubSpot id.
    let portal = tests::generator::generate(&small_spec(PORTAL));
    let score = |c: &hubspot::CrmObject| {
        c.properties.get("custom_score").cloned().flatten().and_then(|s| s.parse::<f64>().ok())
    };
    let mut expected: Vec<(Option<f64>, i64)> =
        portal.contacts.iter().filter(|c| !c.archived).map(|c| (score(c), c.id)).collect();
    expected.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.1.cmp(&b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    assert!(expected.iter().filter(|e| e.0.is_some()).count() > 12, "enough scored contacts to page through");
    let query = "query($after: String) { contacts(first: 7, after: $after,
        orderBy: [{ property: \"custom_score\", direction: DESC }]) { pageInfo { endCursor } nodes { hubspotId } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    while seen.len() < expected.len() {
        let page = gateway.data(query, json!({ "after": after })).await["contacts"].clone();
        let ids: Vec<i64> = page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["hubspotId"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(!ids.is_empty(), "pages end only when every contact was seen");
        seen.extend(ids);
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected_ids: Vec<i64> = expected.iter().map(|e| e.1).collect();
    assert_eq!(seen, expected_ids, "every page in order, none twice");

    let both = "{ contacts(first: 1, orderBy: [{ field: EMAIL, property: \"tier\" }]) { totalCount } }";
    assert_eq!(gateway.error(both, json!({})).await["extensions"]["argument"], "orderBy[0]");
    let unknown = "{ contacts(first: 1, orderBy: [{ property: \"no_such_thing\" }]) { totalCount } }";
    assert_eq!(gateway.error(unknown, json!({})).await["extensions"]["argument"], "orderBy[0].property");
});

on_both!(a_written_portal_carries_its_definitions, |backend: Backend| async move {
    // The benchmark's mirrors are written whole, not backfilled: their definitions come with them.
    let mirror = tests::Mirror::small(backend).await;
    let gold = mirror
        .portal
        .contacts
        .iter()
        .filter(|c| !c.archived && c.properties.get("tier").cloned().flatten().as_deref() == Some("gold"));
    let query = "{ contacts(where: { properties: [{ name: \"tier\", eq: \"gold\" }] }) { totalCount } }";
    assert_eq!(mirror.data(query, json!({})).await["contacts"]["totalCount"], gold.count());
    let listed = mirror.data("{ properties(objectType: DEAL) { name hubspotDefined } }", json!({})).await;
    let names: Vec<&str> =
        listed["properties"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"forecast_category") && names.contains(&"dealstage"), "{names:?}");
});

on_both!(deal_ticket_associations_are_mirrored_both_ways, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let (_, deal) = gateway.first("deals").await;
    let (_, ticket) = gateway.first("tickets").await;
    // Linked at HubSpot with its default type (deal → ticket 27, ticket → deal 28); the deal is then re-read.
    let path = format!("/crm/v4/objects/deals/{deal}/associations/default/tickets/{ticket}");
    at_hubspot(&gateway, reqwest::Method::PUT, &path, json!({})).await;
    let (deal, ticket): (i64, i64) = (deal.parse().unwrap(), ticket.parse().unwrap());
    refresh(&gateway.db.db, &gateway.upstream.hubspot, PORTAL, ObjectType::Deal, &[deal]).await.expect("re-read");
    let edges: Vec<(String, i64, String, i64, i32)> = entities::association::Entity::find()
        .filter(entities::association::Column::PortalId.eq(PORTAL))
        .filter(entities::association::Column::FromId.is_in([deal, ticket]))
        .filter(entities::association::Column::ToType.is_in(["deal", "ticket"]))
        .all(&gateway.db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.from_type, a.from_id, a.to_type, a.to_id, a.type_id))
        .collect();
    assert!(edges.contains(&("deal".into(), deal, "ticket".into(), ticket, 27)), "{edges:?}");
    assert!(edges.contains(&("ticket".into(), ticket, "deal".into(), deal, 28)), "{edges:?}");
});

on_both!(association_edges_carry_their_labels_and_filter_by_them, |backend: Backend| async move {
    let mirror = tests::Mirror::small(backend).await;
    let portal = &mirror.portal;
    // A company with a primary contact and another contact linked to it.
    let primary = portal.associations.iter().find(|a| a.from_type == ObjectType::Company && a.primary).unwrap();
    let company = primary.from_id;
    let other = portal
        .associations
        .iter()
        .find(|a| {
            a.from_type == ObjectType::Company
                && a.from_id != company
                && a.to_type == ObjectType::Contact
                && portal.contacts.iter().any(|c| c.id == a.to_id && !c.archived)
        })
        .unwrap()
        .to_id;
    // The portal's own label, as the sync stores what HubSpot reports (USER_DEFINED, its type id per direction).
    let labelled = |from_type, from_id, to_type, to_id, type_id| hubspot::Association {
        from_type,
        from_id,
        to_type,
        to_id,
        type_id,
        category: "USER_DEFINED".into(),
        label: Some("Decision maker".into()),
        primary: false,
    };
    let links = [
        labelled(ObjectType::Company, company, ObjectType::Contact, other, 9001),
        labelled(ObjectType::Contact, other, ObjectType::Company, company, 9002),
    ];
    server::mirror::upsert_associations(&mirror.db.db, portal.portal_id, &links, Utc::now()).await.unwrap();

    let query = "query($id: ID!, $label: String) { company(id: $id) {
        contacts(label: $label, first: 100) { totalCount edges { labels isPrimary node { hubspotId } } } } }";
    let id = company.to_string();
    let all = mirror.data(query, json!({ "id": id })).await["company"]["contacts"].clone();
    let edge = |hubspot_id: i64| {
        let id = hubspot_id.to_string();
        all["edges"].as_array().unwrap().iter().find(|e| e["node"]["hubspotId"].as_str() == Some(&id)).cloned()
    };
    assert_eq!(edge(primary.to_id).unwrap()["labels"], json!(["Primary"]));
    assert_eq!(edge(primary.to_id).unwrap()["isPrimary"], true);
    assert_eq!(
        edge(other).unwrap(),
        json!({ "labels": ["Decision maker"], "isPrimary": false,
        "node": { "hubspotId": other.to_string() } })
    );
    let deciders = mirror.data(query, json!({ "id": id, "label": "Decision maker" })).await;
    assert_eq!(deciders["company"]["contacts"]["totalCount"], 1);
    assert_eq!(deciders["company"]["contacts"]["edges"][0]["node"]["hubspotId"], other.to_string());
    let primaries = mirror.data(query, json!({ "id": id, "label": "Primary" })).await;
    let ids: Vec<&str> = primaries["company"]["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["hubspotId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&primary.to_id.to_string().as_str()) && !ids.contains(&other.to_string().as_str()));
});

on_both!(a_stage_removed_at_hubspot_is_no_longer_offered, |backend: Backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let sim = gateway.sim.base_url();
    let stage: Value = Client::new()
        .post(format!("{sim}/_sim/pipelines/deals/default/stages"))
        .json(&json!({ "label": "Short-lived", "metadata": { "probability": "0.5" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stages = "{ pipeline(id: \"default\") { stages { id } } }";
    let listed =
        |answer: Value| answer["pipeline"]["stages"].as_array().unwrap().iter().any(|s| s["id"] == stage["id"]);
    let db = &gateway.db.db;
    let hubspot = &gateway.upstream.hubspot;
    server::sync::reference::refresh(db, hubspot, PORTAL, server::sync::reference::Kind::Pipelines).await.unwrap();
    assert!(listed(gateway.data(stages, json!({})).await));
    // Removed in HubSpot's settings; the next refresh of the pipelines marks it archived.
    let path = format!("/crm/v3/pipelines/deals/default/stages/{}", stage["id"].as_str().unwrap());
    at_hubspot(&gateway, reqwest::Method::DELETE, &path, json!({})).await;
    server::sync::reference::refresh(db, hubspot, PORTAL, server::sync::reference::Kind::Pipelines).await.unwrap();
    assert!(!listed(gateway.data(stages, json!({})).await));
    let create = "mutation($input: DealInput!) { createDeal(input: $input) { id } }";
    let error = gateway.error(create, json!({ "input": { "name": "Too late", "stage": stage["id"] } })).await;
    assert_eq!(error["extensions"]["argument"], "input.stage", "{error}");
});

/// The contacts (HubSpot ids) a property filter of the mirror's finds.
async fn filtered(mirror: &tests::Mirror, filter: Value) -> Vec<i64> {
    let query = "query($where: ContactWhere) { contacts(where: $where, first: 100) { nodes { hubspotId } } }";
    let answer = mirror.data(query, json!({ "where": { "properties": [filter] } })).await;
    answer["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["hubspotId"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The rows of the value index a portal (or one of its records) holds.
async fn indexed(mirror: &tests::Mirror, portal: i64, record: Option<i64>) -> u64 {
    use entities::property_value::{Column, Entity};
    use sea_orm::PaginatorTrait;
    let mut find = Entity::find().filter(Column::PortalId.eq(portal));
    if let Some(id) = record {
        find = find.filter(Column::HubspotId.eq(id));
    }
    find.count(&mirror.db.db).await.unwrap()
}

on_both!(property_filters_follow_every_change_of_a_custom_value, |backend: Backend| async move {
    let mirror = tests::Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let contact = mirror.portal.contacts.iter().find(|c| !c.archived).unwrap().clone();
    let later = Utc::now().timestamp_millis() + 3_600_000;
    let top = json!({ "name": "custom_score", "gte": "987654" });

    // A webhook's change is found by the filters and the sort at once.
    let changes = vec![
        Change { name: "custom_score".into(), value: Some("987654".into()), occurred_ms: later },
        Change { name: "tier".into(), value: Some("silver".into()), occurred_ms: later },
    ];
    events::set_properties(db, portal, ObjectType::Contact, &[(contact.id, changes)]).await.unwrap();
    assert_eq!(filtered(&mirror, top.clone()).await, [contact.id]);
    assert!(filtered(&mirror, json!({ "name": "tier", "eq": "silver" })).await.contains(&contact.id));
    let sorted =
        "{ contacts(first: 1, orderBy: [{ property: \"custom_score\", direction: DESC }]) { nodes { hubspotId } } }";
    assert_eq!(mirror.data(sorted, json!({})).await["contacts"]["nodes"][0]["hubspotId"], contact.id.to_string());

    // Cleared by a later webhook: no longer held.
    let cleared = vec![Change { name: "tier".into(), value: None, occurred_ms: later + 1 }];
    events::set_properties(db, portal, ObjectType::Contact, &[(contact.id, cleared)]).await.unwrap();
    assert!(!filtered(&mirror, json!({ "name": "tier", "eq": "silver" })).await.contains(&contact.id));
    assert!(filtered(&mirror, json!({ "name": "tier", "isNull": true })).await.contains(&contact.id));

    // A newer read from HubSpot merges over it.
    let mut read = contact.clone();
    read.properties.insert("custom_score".into(), Some("12.5".into()));
    read.updated_at = Utc::now() + chrono::Duration::hours(2);
    server::mirror::upsert_objects(db, portal, ObjectType::Contact, &[read], Utc::now()).await.unwrap();
    assert_eq!(filtered(&mirror, top).await, Vec::<i64>::new());
    assert_eq!(filtered(&mirror, json!({ "name": "custom_score", "eq": "12.5" })).await, [contact.id]);

    // Erased (GDPR): gone from the filters and from the index.
    events::erase_contact(db, portal, contact.id).await.unwrap();
    assert_eq!(filtered(&mirror, json!({ "name": "custom_score", "eq": "12.5" })).await, Vec::<i64>::new());
    assert_eq!(indexed(&mirror, portal, Some(contact.id)).await, 0);

    // Purged with its portal: the index keeps nothing of it.
    assert!(indexed(&mirror, portal, None).await > 0);
    server::mirror::purge::purge_portal(db, portal).await.unwrap();
    assert_eq!(indexed(&mirror, portal, None).await, 0);
});

on_both!(a_change_leaves_the_value_index_as_a_rewrite_of_the_record_would, |backend: Backend| async move {
    use entities::property_value::{Column, Entity};
    let mirror = tests::Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let contact =
        mirror.portal.contacts.iter().find(|c| !c.archived && c.properties.get("tier").cloned().flatten().is_some());
    let contact = contact.unwrap().clone();
    let values = || async {
        let rows = Entity::find()
            .filter(Column::PortalId.eq(portal))
            .filter(Column::ObjectType.eq("contact"))
            .filter(Column::HubspotId.eq(contact.id))
            .all(db)
            .await
            .unwrap();
        let mut rows: Vec<(String, String, Option<f64>)> =
            rows.into_iter().map(|v| (v.name, v.text_value, v.number_value)).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    let set = |changes: Vec<(&str, Option<&str>)>, occurred_ms: i64| {
        let changes: Vec<Change> = changes
            .into_iter()
            .map(|(name, value)| Change { name: name.into(), value: value.map(str::to_owned), occurred_ms })
            .collect();
        let id = contact.id;
        async move { events::set_properties(db, portal, ObjectType::Contact, &[(id, changes)]).await }
    };
    let before = values().await;
    assert!(before.iter().any(|(name, _, _)| name == "tier"), "{before:?}");
    assert!(!before.iter().any(|(name, _, _)| name == "jobtitle"), "HubSpot's own properties are not indexed");
    let later = Utc::now().timestamp_millis() + 3_600_000;

    // A change of HubSpot's own property leaves the custom values as they were.
    set(vec![("jobtitle", Some("Changed"))], later).await.unwrap();
    assert_eq!(values().await, before);

    // A custom value changed, one cleared, one the portal has no definition of yet, and one of HubSpot's, at once.
    let changes =
        vec![("custom_score", Some("42")), ("tier", None), ("made_up", Some("7")), ("jobtitle", Some("Again"))];
    set(changes, later + 1).await.unwrap();
    let mut expected: Vec<(String, String, Option<f64>)> =
        before.into_iter().filter(|(name, _, _)| name != "tier" && name != "custom_score").collect();
    expected.push(("custom_score".into(), "42".into(), Some(42.0)));
    expected.push(("made_up".into(), "7".into(), Some(7.0)));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(values().await, expected);
});

on_both!(a_dropped_definition_of_hubspots_own_property_is_indexed_at_once, |backend: Backend| async move {
    use entities::property_value::{Column, Entity};
    use sea_orm::PaginatorTrait;
    let mirror = tests::Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let contact = mirror.portal.contacts.iter().find(|c| c.properties.get("jobtitle").cloned().flatten().is_some());
    let contact = contact.unwrap().clone();
    let job_titles = || Entity::find().filter(Column::PortalId.eq(portal)).filter(Column::Name.eq("jobtitle"));
    assert_eq!(job_titles().count(db).await.unwrap(), 0, "HubSpot's own properties are not indexed");

    // HubSpot no longer lists `jobtitle`: the portal has no definition of it, and the index holds such properties.
    property_definition::Entity::delete_many()
        .filter(property_definition::Column::PortalId.eq(portal))
        .filter(property_definition::Column::ObjectType.eq("contact"))
        .filter(property_definition::Column::Name.eq("jobtitle"))
        .exec(db)
        .await
        .unwrap();
    let held = job_titles().filter(Column::HubspotId.eq(contact.id)).one(db).await.unwrap();
    assert_eq!(held.map(|v| v.text_value), contact.properties["jobtitle"].clone());
    assert!(job_titles().count(db).await.unwrap() > 1, "every record's value is indexed");
});
