//! The simulator's association labels: defined, listed, renamed and deleted through HubSpot's labels API, used on
//! links both ways (reads, batch reads, v3 `associations=`), refused when unknown, announced by webhook events.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::{generator::generate, small_spec};

use crate::simulator::{Api, config};

const PORTAL: i64 = 100_001;

/// The `associationTypes` one record reports towards one other record.
async fn types_between(api: &Api, from: &str, id: i64, to: &str, to_id: i64) -> Vec<Value> {
    let (status, body) = api.get(&format!("/crm/v4/objects/{from}/{id}/associations/{to}")).await;
    assert_eq!(status, StatusCode::OK);
    let entry = body["results"].as_array().unwrap().iter().find(|r| r["toObjectId"] == to_id).cloned();
    entry.map_or_else(Vec::new, |e| e["associationTypes"].as_array().unwrap().clone())
}

fn has(types: &[Value], category: &str, type_id: &Value, label: &str) -> bool {
    types.iter().any(|t| t["category"] == category && t["typeId"] == *type_id && t["label"] == label)
}

#[tokio::test]
async fn labels_are_defined_used_both_ways_renamed_and_deleted_once_unused() {
    let api = Api::start(config()).await;
    let portal = generate(&small_spec(PORTAL));
    let contact = portal.contacts.iter().find(|c| !c.archived).unwrap().id;
    let company = portal.companies.iter().find(|c| !c.archived).unwrap().id;
    let path = "/crm/v4/associations/contacts/companies/labels";

    let (status, built_in) = api.get(path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(has(built_in["results"].as_array().unwrap(), "HUBSPOT_DEFINED", &json!(1), "Primary"));
    assert!(built_in["results"].as_array().unwrap().iter().any(|t| t["typeId"] == 279 && t["label"].is_null()));

    let body = json!({ "label": "Billing contact", "name": "billing_contact", "inverseLabel": "Billed company" });
    let (status, created) = api.post(path, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (forward, inverse) = (created["results"][0].clone(), created["results"][1].clone());
    assert_eq!(
        (forward["category"].as_str(), forward["label"].as_str()),
        (Some("USER_DEFINED"), Some("Billing contact"))
    );
    assert_eq!(inverse["label"], "Billed company");
    assert_ne!(forward["typeId"], inverse["typeId"]);
    assert!(forward["typeId"].as_i64().unwrap() > 280, "distinct from HubSpot's own ids");
    let (status, duplicate) = api.post(path, body).await;
    assert_eq!((status, duplicate["status"].as_str()), (StatusCode::CONFLICT, Some("error")));
    let (_, listed) = api.get("/crm/v4/associations/companies/contacts/labels").await;
    assert!(has(listed["results"].as_array().unwrap(), "USER_DEFINED", &inverse["typeId"], "Billed company"));

    // Used on a link: both sides report it, each with its own type id and label.
    let link = format!("/crm/v4/objects/contacts/{contact}/associations/companies/{company}");
    let spec = json!([{ "associationCategory": "USER_DEFINED", "associationTypeId": forward["typeId"] }]);
    let (status, answer) = api.call(Method::PUT, &link, Some(spec)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(answer["labels"].as_array().unwrap().contains(&json!("Billing contact")));
    let from_contact = types_between(&api, "contacts", contact, "companies", company).await;
    assert!(has(&from_contact, "USER_DEFINED", &forward["typeId"], "Billing contact"), "{from_contact:?}");
    let from_company = types_between(&api, "companies", company, "contacts", contact).await;
    assert!(has(&from_company, "USER_DEFINED", &inverse["typeId"], "Billed company"), "{from_company:?}");
    let (_, batch) = api
        .post(
            "/crm/v4/associations/companies/contacts/batch/read",
            json!({ "inputs": [{ "id": company.to_string() }] }),
        )
        .await;
    let to = batch["results"][0]["to"].as_array().unwrap().iter().find(|t| t["toObjectId"] == contact).unwrap();
    assert!(has(to["associationTypes"].as_array().unwrap(), "USER_DEFINED", &inverse["typeId"], "Billed company"));

    // An id the portal never defined, or named with HubSpot's category, is HubSpot's 400.
    for spec in [
        json!([{ "associationCategory": "USER_DEFINED", "associationTypeId": 987_654 }]),
        json!([{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": forward["typeId"] }]),
    ] {
        let (status, refused) = api.call(Method::PUT, &link, Some(spec)).await;
        assert_eq!((status, refused["category"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")));
        assert!(refused["correlationId"].is_string());
    }

    // Renamed: links already made report the new label.
    let rename = json!({ "associationTypeId": forward["typeId"], "label": "Invoice contact" });
    assert_eq!(api.call(Method::PUT, path, Some(rename)).await.0, StatusCode::NO_CONTENT);
    let from_contact = types_between(&api, "contacts", contact, "companies", company).await;
    assert!(has(&from_contact, "USER_DEFINED", &forward["typeId"], "Invoice contact"));
    let from_company = types_between(&api, "companies", company, "contacts", contact).await;
    assert!(has(&from_company, "USER_DEFINED", &inverse["typeId"], "Billed company"), "its own inverse label");

    // Refused while a link uses it; removed once the link is gone (removing a link removes all its types).
    let delete = format!("{path}/{}", forward["typeId"]);
    let (status, refused) = api.call(Method::DELETE, &delete, None).await;
    assert_eq!((status, refused["status"].as_str()), (StatusCode::BAD_REQUEST, Some("error")));
    assert_eq!(api.call(Method::DELETE, &link, None).await.0, StatusCode::NO_CONTENT);
    assert!(types_between(&api, "companies", company, "contacts", contact).await.is_empty());
    assert_eq!(api.call(Method::DELETE, &delete, None).await.0, StatusCode::NO_CONTENT);
    let (_, listed) = api.get(path).await;
    assert!(!listed["results"].as_array().unwrap().iter().any(|t| t["typeId"] == forward["typeId"]));
    assert_eq!(api.call(Method::DELETE, "/crm/v4/associations/contacts/companies/labels/279", None).await.0, 400);
}

#[tokio::test]
async fn batch_create_v3_reads_and_webhook_events_carry_the_labelled_type() {
    let api = Api::start(config()).await;
    let portal = generate(&small_spec(PORTAL));
    let deal = portal.deals.iter().find(|d| !d.archived).unwrap().id;
    let ticket = portal.tickets.iter().find(|t| !t.archived).unwrap().id;
    // The `/_sim` hook defines a label without a token, as an admin would in HubSpot's settings.
    let url = format!("{}/_sim/association-labels/deals/tickets", api.sim.base_url());
    let created: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({ "label": "Escalation", "name": "escalation" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (forward, inverse) = (created["results"][0]["typeId"].clone(), created["results"][1]["typeId"].clone());
    api.sim.sim.world.lock().unwrap().portals.get_mut(&PORTAL).unwrap().sends_webhooks = true;

    let input = json!({ "inputs": [{ "from": { "id": deal.to_string() }, "to": { "id": ticket.to_string() },
        "types": [{ "associationCategory": "USER_DEFINED", "associationTypeId": forward }] }] });
    let (status, answer) = api.post("/crm/v4/associations/deals/tickets/batch/create", input).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["results"][0]["labels"], json!(["Escalation"]));
    let from_ticket = types_between(&api, "tickets", ticket, "deals", deal).await;
    assert!(has(&from_ticket, "USER_DEFINED", &inverse, "Escalation"), "an unpaired label reads the same both ways");

    let (_, read) = api.get(&format!("/crm/v3/objects/deals/{deal}?associations=tickets")).await;
    let listed = read["associations"]["tickets"]["results"].as_array().unwrap();
    assert!(listed.iter().any(|r| r["id"] == ticket.to_string().as_str()), "{read}");

    // One event per side, as for HubSpot's own types.
    let events: Vec<Value> =
        std::mem::take(&mut api.sim.sim.world.lock().unwrap().portals.get_mut(&PORTAL).unwrap().outbox);
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["subscriptionType"].as_str().unwrap(), e["associationType"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("deal.associationChange", "DEAL_TO_TICKET"), ("ticket.associationChange", "TICKET_TO_DEAL")]);
    assert_eq!(events[0]["fromObjectId"], deal);
    assert_eq!(events[0]["associationRemoved"], false);
}
