//! The HubSpot simulator answers with HubSpot's shapes, status codes, errors, limits and OAuth, over the generated
//! portal it serves.

use std::{collections::HashMap, time::Duration};

use reqwest::{Client, Method, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use tests::{
    generator::generate,
    hubspot::ObjectType,
    sim::{Running, SimConfig, limits::Chaos, scopes::PRIVATE_APP_SCOPES},
    small_spec,
};

const PORTAL: i64 = 100_001;

pub(crate) fn config() -> SimConfig {
    SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }
}

pub(crate) struct Api {
    pub(crate) sim: Running,
    http: Client,
    token: String,
}

impl Api {
    pub(crate) async fn start(config: SimConfig) -> Self {
        let sim = Running::start(config).await.expect("simulator starts");
        let token = sim.token().to_owned();
        Self { sim, http: Client::builder().redirect(Policy::none()).build().unwrap(), token }
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.sim.base_url())).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("simulator answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

fn ids(results: &Value) -> Vec<String> {
    results.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn lists_page_through_every_live_record_with_string_properties() {
    let api = Api::start(config()).await;
    let portal = generate(&small_spec(PORTAL));
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = after.as_ref().map(|a| format!("&after={a}")).unwrap_or_default();
        let (status, page) =
            api.get(&format!("/crm/v3/objects/companies?limit=100&properties=industry,city{query}")).await;
        assert_eq!(status, StatusCode::OK);
        for record in page["results"].as_array().unwrap() {
            assert!(record["properties"]["name"].is_string(), "default properties come along");
            assert!(record["properties"].as_object().unwrap().contains_key("industry"));
            assert!(record["properties"]["hs_object_id"].is_string());
            assert_eq!(record["archived"], false);
        }
        seen.extend(ids(&page["results"]));
        match page["paging"]["next"]["after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = portal.companies.iter().filter(|c| !c.archived).map(|c| c.id.to_string()).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn reads_with_associations_and_hides_archived_records() {
    let api = Api::start(config()).await;
    let portal = generate(&small_spec(PORTAL));
    let contact = portal.contacts.iter().find(|c| !c.archived).unwrap();
    let (status, body) = api.get(&format!("/crm/v3/objects/contacts/{}?associations=companies", contact.id)).await;
    assert_eq!(status, StatusCode::OK);
    let expected: Vec<String> = portal
        .associations
        .iter()
        .filter(|a| a.from_type == ObjectType::Contact && a.from_id == contact.id && a.to_type == ObjectType::Company)
        .map(|a| a.to_id.to_string())
        .collect();
    let got: Vec<String> =
        body["associations"]["companies"]["results"].as_array().map(|r| ids(&json!(r))).unwrap_or_default();
    assert_eq!(got, expected);

    let (status, _) = api.call(Method::DELETE, &format!("/crm/v3/objects/contacts/{}", contact.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = api.get(&format!("/crm/v3/objects/contacts/{}", contact.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["status"], "error");
    assert_eq!(error["category"], "OBJECT_NOT_FOUND");
    assert_eq!(error["correlationId"].as_str().unwrap().len(), 36);
    let (status, archived) = api.get(&format!("/crm/v3/objects/contacts/{}?archived=true", contact.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(archived["archived"], true);
    assert!(archived["archivedAt"].is_string());
}

#[tokio::test]
async fn creates_and_updates_keep_hubspot_semantics() {
    let api = Api::start(config()).await;
    let (status, created) = api
        .post("/crm/v3/objects/contacts", json!({ "properties": { "email": "new@example.com", "hubspotscore": 12 } }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["properties"]["hubspotscore"], "12", "numbers become strings");
    assert_eq!(created["properties"]["hs_object_id"], id);

    let (status, conflict) =
        api.post("/crm/v3/objects/contacts", json!({ "properties": { "email": "NEW@example.com" } })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(conflict["message"].as_str().unwrap().contains(&id));

    let (status, invalid) =
        api.post("/crm/v3/objects/contacts", json!({ "properties": { "favourite_colour": "red" } })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid["category"], "VALIDATION_ERROR");
    assert_eq!(invalid["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");

    tokio::time::sleep(Duration::from_millis(5)).await;
    let path = format!("/crm/v3/objects/contacts/{id}");
    let (status, updated) = api.call(Method::PATCH, &path, Some(json!({ "properties": { "firstname": "Ada" } }))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(updated["updatedAt"].as_str().unwrap() > created["updatedAt"].as_str().unwrap());
    assert_eq!(updated["properties"]["lastmodifieddate"], updated["updatedAt"]);
    let (_, same) = api.call(Method::PATCH, &path, Some(json!({ "properties": { "firstname": "Ada" } }))).await;
    assert_eq!(same["updatedAt"], updated["updatedAt"], "an unchanged value does not move updatedAt");
    let (_, by_email) = api.get("/crm/v3/objects/contacts/new@example.com?idProperty=email&properties=firstname").await;
    assert_eq!(by_email["properties"]["firstname"], "Ada");
}

#[tokio::test]
async fn batches_report_partial_failures_and_cap_inputs() {
    let api = Api::start(config()).await;
    let (status, body) = api
        .post(
            "/crm/v3/objects/deals/batch/read",
            json!({ "inputs": [{ "id": "9000001" }, { "id": "1" }], "properties": ["amount"] }),
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(body["numErrors"], 1);
    assert_eq!(ids(&body["results"]), vec!["9000001"]);
    assert!(body["results"][0]["properties"].as_object().unwrap().contains_key("amount"));

    let inputs: Vec<Value> = (0..101).map(|i| json!({ "id": (9_000_001 + i).to_string() })).collect();
    let (status, body) = api.post("/crm/v3/objects/deals/batch/read", json!({ "inputs": inputs })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["category"], "VALIDATION_ERROR");

    let upsert = json!({ "inputs": [
        { "id": "upsert@example.com", "idProperty": "email", "properties": { "firstname": "New" } },
    ] });
    let (status, first) = api.post("/crm/v3/objects/contacts/batch/upsert", upsert.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["results"][0]["new"], true);
    let (_, second) = api.post("/crm/v3/objects/contacts/batch/upsert", upsert).await;
    assert_eq!(second["results"][0]["new"], false);
    assert_eq!(second["results"][0]["id"], first["results"][0]["id"]);
}

#[tokio::test]
async fn search_filters_sorts_and_enforces_its_limits() {
    let api = Api::start(SimConfig { search_per_second: 1_000, ..config() }).await;
    let portal = generate(&small_spec(PORTAL));
    let live: Vec<_> = portal.deals.iter().filter(|d| !d.archived).collect();
    let amount = |d: &&tests::hubspot::CrmObject| d.properties["amount"].as_deref().and_then(|a| a.parse::<f64>().ok());
    let expected: Vec<i64> = live.iter().filter(|d| amount(d).is_some_and(|a| a >= 50_000.0)).map(|d| d.id).collect();
    let (status, body) = api
        .post(
            "/crm/v3/objects/deals/search",
            json!({
                "filterGroups": [{ "filters": [{ "propertyName": "amount", "operator": "GTE", "value": "50000" }] }],
                "sorts": [{ "propertyName": "amount", "direction": "DESCENDING" }],
                "properties": ["amount"], "limit": 200,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], expected.len());
    let amounts: Vec<f64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["amount"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "sorted descending");

    // Groups are ORed: won or lost, by stage.
    let closed: usize = live
        .iter()
        .filter(|d| matches!(d.properties["dealstage"].as_deref(), Some("closedwon" | "closedlost")))
        .count();
    let (_, body) = api
        .post(
            "/crm/v3/objects/deals/search",
            json!({ "filterGroups": [
            { "filters": [{ "propertyName": "dealstage", "operator": "EQ", "value": "closedwon" }] },
            { "filters": [{ "propertyName": "dealstage", "operator": "IN", "values": ["closedlost"] }] },
        ] }),
        )
        .await;
    assert_eq!(body["total"], closed);

    // Dates compare as dates, whether ISO or epoch milliseconds.
    let cutoff = tests::fixed_now() - chrono::Duration::days(90);
    let recent = live.iter().filter(|d| d.updated_at >= cutoff).count();
    let (_, body) = api
        .post("/crm/v3/objects/deals/search", json!({ "filterGroups": [{ "filters": [
            { "propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": cutoff.timestamp_millis().to_string() },
        ] }] }))
        .await;
    assert_eq!(body["total"], recent);

    let contact = portal.contacts.iter().find(|c| !c.archived && c.properties["email"].is_some()).unwrap();
    let domain = contact.properties["email"].as_deref().unwrap().split('@').nth(1).unwrap().to_owned();
    let (_, body) = api
        .post(
            "/crm/v3/objects/contacts/search",
            json!({ "filterGroups": [{ "filters": [
            { "propertyName": "email", "operator": "CONTAINS_TOKEN", "value": format!("*@{domain}") },
        ] }], "limit": 200 }),
        )
        .await;
    assert!(ids(&body["results"]).contains(&contact.id.to_string()));
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["properties"]["email"].as_str().unwrap().ends_with(&domain))
    );

    let (status, body) = api.post("/crm/v3/objects/contacts/search", json!({ "limit": 201 })).await;
    assert_eq!((status, body["category"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")));
    let (status, _) = api.post("/crm/v3/objects/contacts/search", json!({ "limit": 100, "after": "9950" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no paging past 10,000 results");
}

#[tokio::test]
async fn search_allows_five_calls_a_second_per_token() {
    let api = Api::start(config()).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, body) = api.post("/crm/v3/objects/contacts/search", json!({ "query": "a" })).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["policyName"], "SECONDLY");
        }
        statuses.push(status);
    }
    // Six calls inside one second (they take far less): the sixth is refused.
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 5, "{statuses:?}");
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(api.post("/crm/v3/objects/contacts/search", json!({})).await.0, StatusCode::OK);
}

#[tokio::test]
async fn associations_v4_read_put_and_delete_both_directions() {
    let api = Api::start(config()).await;
    let portal = generate(&small_spec(PORTAL));
    let deal = portal.deals.iter().find(|d| !d.archived).unwrap();
    let expected: Vec<i64> = portal
        .associations
        .iter()
        .filter(|a| a.from_type == ObjectType::Deal && a.from_id == deal.id && a.to_type == ObjectType::Contact)
        .map(|a| a.to_id)
        .collect();
    let (status, body) = api.get(&format!("/crm/v4/objects/deals/{}/associations/contacts", deal.id)).await;
    assert_eq!(status, StatusCode::OK);
    let got: Vec<i64> = body["results"].as_array().unwrap().iter().map(|r| r["toObjectId"].as_i64().unwrap()).collect();
    assert_eq!(got, expected);
    if let Some(first) = body["results"].get(0) {
        assert_eq!(first["associationTypes"][0]["typeId"], 3);
        assert_eq!(first["associationTypes"][0]["category"], "HUBSPOT_DEFINED");
    }

    let contact = portal.contacts.iter().find(|c| !c.archived && !expected.contains(&c.id)).unwrap();
    let path = format!("/crm/v4/objects/deals/{}/associations/default/contacts/{}", deal.id, contact.id);
    let (status, body) = api.call(Method::PUT, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["associationSpec"]["associationTypeId"], 3);
    let (_, back) = api.get(&format!("/crm/v4/objects/contacts/{}/associations/deals", contact.id)).await;
    let entry =
        back["results"].as_array().unwrap().iter().find(|r| r["toObjectId"] == deal.id).expect("the other side");
    assert_eq!(entry["associationTypes"][0]["typeId"], 4, "the inverse type id");

    let path = format!("/crm/v4/objects/contacts/{}/associations/deals/{}", contact.id, deal.id);
    assert_eq!(api.call(Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    let (_, after) = api.get(&format!("/crm/v4/objects/deals/{}/associations/contacts", deal.id)).await;
    assert!(!after["results"].as_array().unwrap().iter().any(|r| r["toObjectId"] == contact.id));

    let (status, batch) = api
        .post("/crm/v4/associations/deals/contacts/batch/read", json!({ "inputs": [{ "id": deal.id.to_string() }] }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(batch["results"][0]["to"].as_array().unwrap().len(), expected.len());
}

#[tokio::test]
async fn merges_resolve_to_the_survivor_and_gdpr_deletes_erase() {
    let api = Api::start(config()).await;
    let portal = generate(&small_spec(PORTAL));
    let live: Vec<_> = portal.contacts.iter().filter(|c| !c.archived).collect();
    let (primary, merged) = (live[0].id, live[1].id);
    let (status, survivor) = api
        .post(
            "/crm/v3/objects/contacts/merge",
            json!({ "primaryObjectId": primary.to_string(), "objectIdToMerge": merged.to_string() }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(survivor["id"], primary.to_string());
    let (status, resolved) =
        api.get(&format!("/crm/v3/objects/contacts/{merged}?properties=hs_merged_object_ids")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resolved["id"], primary.to_string(), "the merged id reads the survivor");
    assert_eq!(resolved["properties"]["hs_merged_object_ids"], merged.to_string());

    let erased = live[2].id;
    let (status, _) = api.post("/crm/v3/objects/contacts/gdpr-delete", json!({ "objectId": erased.to_string() })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/crm/v3/objects/contacts/{erased}?archived=true")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get(&format!("/crm/v4/objects/contacts/{erased}/associations/companies")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn reference_data_pipelines_owners_and_marketing() {
    let api = Api::start(config()).await;
    let (_, pipelines) = api.get("/crm/v3/pipelines/deals").await;
    let default = pipelines["results"].as_array().unwrap().iter().find(|p| p["id"] == "default").unwrap();
    assert_eq!(default["stages"][5]["id"], "closedwon");
    assert_eq!(default["stages"][5]["metadata"]["isClosed"], "true");
    let (_, owners) = api.get("/crm/v3/owners?limit=2").await;
    assert_eq!(owners["results"].as_array().unwrap().len(), 2);
    assert!(owners["paging"]["next"]["after"].is_string());
    let (_, campaigns) = api.get("/marketing/v3/campaigns").await;
    let campaign = &campaigns["results"][0];
    assert!(campaign["properties"]["hs_name"].is_string());
    let (_, emails) = api.get("/marketing/v3/emails?includeStats=true").await;
    let email = emails["results"].as_array().unwrap().iter().find(|e| e["campaign"] == campaign["id"]).unwrap();
    let counters = &email["stats"]["counters"];
    assert!(counters["sent"].as_i64().unwrap() >= counters["delivered"].as_i64().unwrap());
}

#[tokio::test]
async fn rate_limit_headers_and_429_per_token() {
    let api = Api::start(SimConfig { rate_limit: 3, ..config() }).await;
    let url = format!("{}/crm/v3/owners", api.sim.base_url());
    let first = api.http.get(&url).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(first.headers()["x-hubspot-ratelimit-max"], "3");
    assert_eq!(first.headers()["x-hubspot-ratelimit-remaining"], "2");
    assert_eq!(first.headers()["x-hubspot-ratelimit-interval-milliseconds"], "10000");
    api.get("/crm/v3/owners").await;
    api.get("/crm/v3/owners").await;
    let limited = api.http.get(&url).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(api.sim.sim.stats().rate_limited, 1);

    let anonymous = api.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");
}

#[tokio::test]
async fn chaos_fails_then_recovers() {
    let api = Api::start(config()).await;
    api.sim.sim.set_chaos(Chaos { fail_next: 2, throttle_next: 1, ..Chaos::default() });
    assert_eq!(api.get("/crm/v3/owners").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.get("/crm/v3/owners").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.get("/crm/v3/owners").await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(api.get("/crm/v3/owners").await.0, StatusCode::OK);
    api.sim.sim.set_chaos(Chaos { outage_ms: 60_000, ..Chaos::default() });
    assert_eq!(api.get("/crm/v3/owners").await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn oauth_install_refresh_expiry_and_revoke() {
    let api = Api::start(SimConfig { token_ttl: Duration::from_secs(1), ..config() }).await;
    let base = api.sim.base_url();
    let config = &api.sim.sim.config;
    let redirect = "http://127.0.0.1:1/callback";
    let authorize = api
        .http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "oauth crm.objects.contacts.read"),
            ("state", "s t"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), StatusCode::SEE_OTHER);
    let location = authorize.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(redirect) && location.ends_with("&state=s%20t"), "{location}");
    let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();

    let exchange = |code: String| {
        let form = [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect.to_owned()),
            ("client_id", config.client_id.clone()),
            ("client_secret", config.client_secret.clone()),
        ];
        api.http.post(format!("{base}/oauth/v1/token")).form(&form).send()
    };
    let tokens: Value = exchange(code.clone()).await.unwrap().json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(tokens["expires_in"], 1);
    assert!(access.len() > 255 && access.len() <= 512);
    let reused = exchange(code).await.unwrap();
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reused.json::<Value>().await.unwrap()["status"], "BAD_AUTH_CODE");

    let info: Value =
        api.http.get(format!("{base}/oauth/v1/access-tokens/{access}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["hub_id"], PORTAL);
    assert_eq!(info["scopes"], json!(["oauth", "crm.objects.contacts.read"]));
    // The token's scopes cover contacts (owners would need `crm.objects.owners.read`).
    let contacts = format!("{base}/crm/v3/objects/contacts?limit=1");
    let ok = api.http.get(&contacts).bearer_auth(&access).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = api.http.get(&contacts).bearer_auth(&access).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(expired.json::<Value>().await.unwrap()["category"], "EXPIRED_AUTHENTICATION");

    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
    ];
    let renewed: Value =
        api.http.post(format!("{base}/oauth/v1/token")).form(&refresh_form).send().await.unwrap().json().await.unwrap();
    assert_ne!(renewed["access_token"], tokens["access_token"]);
    assert_eq!(api.sim.sim.stats().token_refreshes, 1);

    let revoked = api.http.delete(format!("{base}/oauth/v1/refresh-tokens/{refresh}")).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let after = api.http.post(format!("{base}/oauth/v1/token")).form(&refresh_form).send().await.unwrap();
    assert_eq!(after.json::<Value>().await.unwrap()["status"], "BAD_REFRESH_TOKEN");
}

/// The simulator's private-app scopes less `without`, for the config's token.
fn without_scope(without: &str) -> SimConfig {
    let config = config();
    let scopes = PRIVATE_APP_SCOPES.iter().filter(|s| **s != without).map(|s| (*s).to_owned()).collect();
    SimConfig { token_scopes: HashMap::from([(config.tokens[0].clone(), scopes)]), ..config }
}

/// HubSpot's 403 for a call the token's scopes do not cover, naming the scope that would.
fn assert_missing_scopes((status, body): (StatusCode, Value), scope: &str) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let correlation = body["correlationId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(correlation.len(), 36, "a UUID-shaped correlation id: {body}");
    assert_eq!(
        body,
        json!({
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call. Read more about required \
                        scopes here: https://developers.hubspot.com/scopes.",
            "correlationId": correlation,
            "errors": [{
                "message": "One or more of the following scopes are required.",
                "context": { "requiredGranularScopes": [scope] },
            }],
            "links": { "scopes": "https://developers.hubspot.com/scopes" },
            "category": "MISSING_SCOPES",
        })
    );
}

#[tokio::test]
async fn a_token_without_a_scope_gets_hubspots_missing_scopes_answer() {
    let api = Api::start(without_scope("marketing.campaigns.read")).await;
    assert_missing_scopes(api.get("/marketing/v3/campaigns").await, "marketing.campaigns.read");
    assert_missing_scopes(api.get("/marketing/v3/campaigns/1").await, "marketing.campaigns.read");
    let (status, contacts) = api.get("/crm/v3/objects/contacts?limit=1").await;
    assert_eq!(status, StatusCode::OK, "its other scopes still hold");
    assert_eq!(contacts["results"].as_array().unwrap().len(), 1);
    assert_eq!(api.get("/marketing/v3/emails").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_token_that_may_only_read_contacts_cannot_create_one() {
    let api = Api::start(without_scope("crm.objects.contacts.write")).await;
    assert_eq!(api.get("/crm/v3/objects/contacts?limit=1").await.0, StatusCode::OK);
    assert_eq!(api.post("/crm/v3/objects/contacts/search", json!({ "limit": 1 })).await.0, StatusCode::OK);
    let (status, read) = api.post("/crm/v3/objects/contacts/batch/read", json!({ "inputs": [] })).await;
    assert_ne!(status, StatusCode::FORBIDDEN, "batch reads only read: {read}");

    let contact = json!({ "properties": { "email": "scoped@example.com" } });
    assert_missing_scopes(api.post("/crm/v3/objects/contacts", contact.clone()).await, "crm.objects.contacts.write");
    let batch = json!({ "inputs": [contact] });
    assert_missing_scopes(api.post("/crm/v3/objects/contacts/batch/create", batch).await, "crm.objects.contacts.write");
    let search = json!({ "filterGroups": [{ "filters": [
        { "propertyName": "email", "operator": "EQ", "value": "scoped@example.com" }
    ] }] });
    assert_eq!(api.post("/crm/v3/objects/contacts/search", search).await.1["total"], 0, "nothing was created");
    assert_eq!(
        api.post("/crm/v3/objects/companies", json!({ "properties": { "name": "Scoped" } })).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_oauth_install_gets_exactly_the_scopes_it_asked_for() {
    let api = Api::start(config()).await;
    let base = api.sim.base_url();
    let config = &api.sim.sim.config;
    let redirect = "http://127.0.0.1:1/callback";
    let authorize = api
        .http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "crm.objects.contacts.read"),
        ])
        .send()
        .await
        .unwrap();
    let location = authorize.headers()["location"].to_str().unwrap().to_owned();
    let code = location.split("code=").nth(1).unwrap().to_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
    ];
    let tokens: Value =
        api.http.post(format!("{base}/oauth/v1/token")).form(&form).send().await.unwrap().json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let info: Value =
        api.http.get(format!("{base}/oauth/v1/access-tokens/{access}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["scopes"], json!(["crm.objects.contacts.read"]));

    let oauth = Api { token: access, ..api };
    assert_eq!(oauth.get("/crm/v3/objects/contacts?limit=1").await.0, StatusCode::OK);
    assert_missing_scopes(oauth.get("/crm/v3/objects/deals?limit=1").await, "crm.objects.deals.read");
    assert_missing_scopes(oauth.get("/crm/v3/owners").await, "crm.objects.owners.read");
    let contact = json!({ "properties": { "email": "oauth@example.com" } });
    assert_missing_scopes(oauth.post("/crm/v3/objects/contacts", contact).await, "crm.objects.contacts.write");
}

#[test]
fn a_contacts_email_is_found_and_kept_unique_through_its_changes() {
    use std::collections::BTreeMap;

    use tests::sim::store::PortalState;

    let mut state = PortalState::new(generate(&small_spec(PORTAL)));
    let now = chrono::Utc::now();
    let props = |email: &str| BTreeMap::from([("email".to_owned(), Some(email.to_owned()))]);
    let find = |state: &PortalState, email: &str| state.find_by(ObjectType::Contact, "email", email);
    let seeded = state.records(ObjectType::Contact).values().find(|r| !r.object.archived).unwrap();
    let (seeded_id, seeded_email) = (seeded.object.id, seeded.property("email").unwrap().to_owned());
    assert_eq!(find(&state, &seeded_email.to_uppercase()), Some(seeded_id), "a generated contact, any case");

    let id = state.create(ObjectType::Contact, props("First@Example.com"), now).unwrap().object.id;
    assert_eq!(find(&state, "first@example.com"), Some(id));
    let taken = state.create(ObjectType::Contact, props("FIRST@example.com"), now).unwrap_err();
    assert!(format!("{taken:?}").contains(&format!("Existing ID: {id}")), "{taken:?}");

    state.update(ObjectType::Contact, id, props("second@example.com"), now).unwrap();
    assert_eq!(find(&state, "first@example.com"), None, "the old email is free again");
    assert_eq!(find(&state, "second@example.com"), Some(id));

    state.archive(ObjectType::Contact, id, now).unwrap();
    assert_eq!(find(&state, "second@example.com"), None, "archived contacts are not found");
    state.restore(ObjectType::Contact, id, now).unwrap();
    assert_eq!(find(&state, "second@example.com"), Some(id));

    let other = state.create(ObjectType::Contact, props("third@example.com"), now).unwrap().object.id;
    state.merge(ObjectType::Contact, id, other, now).unwrap();
    assert_eq!(find(&state, "second@example.com"), Some(id), "the survivor of a merge");
    state.erase(ObjectType::Contact, id).unwrap();
    assert_eq!(find(&state, "second@example.com"), None, "an erased contact");
    assert!(state.create(ObjectType::Contact, props("second@example.com"), now).is_ok());
}

/// The definition named `name` in a `{results: [...]}` of the properties API.
fn definition<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["results"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

#[tokio::test]
async fn properties_api_lists_hubspots_definitions_and_the_portals_custom_ones() {
    let api = Api::start(config()).await;
    let (status, contacts) = api.get("/crm/v3/properties/contacts").await;
    assert_eq!(status, StatusCode::OK);
    let stage = definition(&contacts, "lifecyclestage");
    assert_eq!((stage["type"].as_str(), stage["fieldType"].as_str()), (Some("enumeration"), Some("radio")));
    assert_eq!(stage["hubspotDefined"], true);
    assert_eq!(stage["options"].as_array().unwrap().len(), 8);
    assert_eq!(
        stage["options"][2],
        json!({ "label": "Marketing Qualified Lead", "value": "marketingqualifiedlead",
                                             "displayOrder": 2, "hidden": false })
    );
    let created = definition(&contacts, "createdate");
    assert_eq!(created["type"], "datetime");
    assert_eq!(created["modificationMetadata"]["readOnlyValue"], true);
    let tier = definition(&contacts, "tier");
    assert!(tier.get("hubspotDefined").is_none(), "custom properties leave hubspotDefined out");
    let labels: Vec<&str> = tier["options"].as_array().unwrap().iter().map(|o| o["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Gold", "Silver", "Bronze"]);
    assert_eq!(definition(&contacts, "renewal_date")["type"], "date");
    assert_eq!(definition(&contacts, "custom_score")["type"], "number");

    let (_, by_id) = api.get("/crm/v3/properties/0-1").await;
    assert_eq!(by_id, contacts, "0-1 names contacts");
    let (_, deals) = api.get("/crm/v3/properties/deals").await;
    let stages = definition(&deals, "dealstage")["options"].as_array().unwrap().clone();
    assert!(stages.iter().any(|o| o["value"] == "renewal_won"), "every pipeline's stages are options");
    let closed = definition(&deals, "hs_is_closed");
    assert_eq!((closed["type"].as_str(), closed["calculated"].as_bool()), (Some("bool"), Some(true)));

    let (status, industry) = api.get("/crm/v3/properties/companies/industry").await;
    assert_eq!(status, StatusCode::OK);
    assert!(industry["options"].as_array().unwrap().iter().any(|o| o["value"] == "COMPUTER_SOFTWARE"));
    let (status, missing) = api.get("/crm/v3/properties/companies/no_such_property").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!((missing["status"].as_str(), missing["category"].as_str()), (Some("error"), Some("OBJECT_NOT_FOUND")));
    let (_, archived) = api.get("/crm/v3/properties/contacts?archived=true").await;
    assert_eq!(archived, json!({ "results": [] }));
    let (status, _) = api.get("/crm/v3/properties/widgets").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn writes_are_checked_against_the_portals_definitions() {
    let api = Api::start(config()).await;
    let create = |properties: Value| api.post("/crm/v3/objects/contacts", json!({ "properties": properties }));
    let (status, unknown) = create(json!({ "email": "x@example.com", "favourite_colour": "red" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
    assert_eq!(unknown["errors"][0]["context"]["propertyName"][0], "favourite_colour");

    let (status, option) = create(json!({ "email": "x@example.com", "lifecyclestage": "prospect" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(option["category"], "VALIDATION_ERROR");
    assert_eq!(option["errors"][0]["code"], "INVALID_OPTION");
    assert!(option["message"].as_str().unwrap().starts_with("Property values were not valid: [{"));
    assert!(option["message"].as_str().unwrap().contains("\"error\":\"INVALID_OPTION\""));

    let (_, number) = create(json!({ "email": "x@example.com", "custom_score": "very high" })).await;
    assert_eq!(number["errors"][0]["code"], "INVALID_INTEGER");
    let (_, tier) = create(json!({ "email": "x@example.com", "tier": "platinum" })).await;
    assert_eq!(tier["errors"][0]["code"], "INVALID_OPTION", "custom enumerations are checked too");
    let (_, owner) = create(json!({ "email": "x@example.com", "hubspot_owner_id": "12345" })).await;
    assert_eq!(owner["errors"][0]["code"], "INVALID_OWNER_ID");
    let (_, date) = create(json!({ "email": "x@example.com", "renewal_date": "next spring" })).await;
    assert_eq!(date["errors"][0]["code"], "INVALID_DATE");
    let (status, read_only) = create(json!({ "email": "x@example.com", "num_notes": "3" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(read_only["errors"][0]["code"], "READ_ONLY_VALUE");
    assert_eq!(read_only["errors"][0]["context"]["propertyName"][0], "num_notes");

    let (status, deal) = api
        .call(Method::PATCH, "/crm/v3/objects/deals/9000001", Some(json!({ "properties": { "hs_is_closed": "true" } })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "HubSpot calculates hs_is_closed: {deal}");
    assert_eq!(deal["errors"][0]["code"], "READ_ONLY_VALUE");
    let (_, amount) = api
        .call(Method::PATCH, "/crm/v3/objects/deals/9000001", Some(json!({ "properties": { "amount": "lots" } })))
        .await;
    assert_eq!(amount["errors"][0]["code"], "INVALID_INTEGER");

    let (status, ok) = create(json!({ "email": "x@example.com", "lifecyclestage": "lead", "tier": "gold",
                                      "custom_score": 7.5, "renewal_date": "2026-01-31", "hs_lead_status": "" }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ok}");
    let path = format!("/crm/v3/objects/contacts/{}", ok["id"].as_str().unwrap());
    let (status, cleared) =
        api.call(Method::PATCH, &path, Some(json!({ "properties": { "tier": "", "num_notes": "" } }))).await;
    assert_eq!(status, StatusCode::OK, "an empty value clears and is always allowed: {cleared}");
    assert_eq!(cleared["properties"]["tier"], "");

    let batch = json!({ "inputs": [
        { "id": "1001", "properties": { "tier": "silver" } },
        { "id": "1002", "properties": { "tier": "tin" } },
    ] });
    let (status, body) = api.post("/crm/v3/objects/contacts/batch/update", batch).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(body["numErrors"], 1);
    assert_eq!(body["errors"][0]["category"], "VALIDATION_ERROR");
    assert_eq!(body["errors"][0]["context"]["propertyName"][0], "tier");
}

#[tokio::test]
async fn reads_return_defined_names_with_values_or_null_and_ignore_the_rest() {
    let api = Api::start(config()).await;
    let (_, created) = api
        .post("/crm/v3/objects/contacts", json!({ "properties": { "email": "custom@example.com", "tier": "gold" } }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, read) = api.get(&format!("/crm/v3/objects/contacts/{id}?properties=tier,renewal_date,no_such")).await;
    assert_eq!(status, StatusCode::OK);
    let properties = read["properties"].as_object().unwrap();
    assert_eq!(properties["tier"], "gold");
    assert_eq!(properties["renewal_date"], Value::Null, "a defined name the record lacks is null");
    assert!(!properties.contains_key("no_such"), "an undefined name is ignored");
    assert!(properties["email"].is_string(), "the default set comes along");

    let body = json!({ "inputs": [{ "id": id }], "properties": ["tier", "custom_score", "no_such"] });
    let (_, batch) = api.post("/crm/v3/objects/contacts/batch/read", body).await;
    let properties = batch["results"][0]["properties"].as_object().unwrap();
    assert_eq!((&properties["tier"], &properties["custom_score"]), (&json!("gold"), &Value::Null));
    assert!(!properties.contains_key("no_such"));

    let search = json!({ "filterGroups": [{ "filters": [{ "propertyName": "tier", "operator": "EQ", "value": "gold" }] }],
                         "properties": ["tier", "no_such"], "limit": 200 });
    let (_, found) = api.post("/crm/v3/objects/contacts/search", search).await;
    let results = found["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["id"] == id.as_str()));
    assert!(results.iter().all(|r| r["properties"]["tier"] == "gold" && r["properties"].get("no_such").is_none()));
    let generated = generate(&small_spec(PORTAL));
    let golds = generated.contacts.iter().filter(|c| c.properties.get("tier") == Some(&Some("gold".into()))).count();
    assert_eq!(found["total"], golds + 1, "the generated portal's custom values are served");
}

#[tokio::test]
async fn a_uri_longer_than_hubspot_takes_is_414_before_anything_else() {
    let api = Api::start(config()).await;
    let names = |n: usize| (0..n).map(|i| format!("property_number_{i:05}")).collect::<Vec<_>>().join(",");
    let long = format!("/crm/v3/objects/contacts?properties={}", names(800));
    assert!(long.len() > 16_384);
    let response = api.http.get(format!("{}{long}", api.sim.base_url())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG, "refused before the token is even looked at");
    let short = format!("/crm/v3/objects/contacts?properties={}", names(600));
    assert!(short.len() <= 16_384);
    let (status, _) = api.get(&short).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.sim.sim.stats().uri_too_long, 1);
}

#[tokio::test]
async fn custom_properties_are_created_changed_and_archived_as_hubspot_does() {
    let api = Api::start(config()).await;
    let regions = json!({ "name": "regions", "label": "Regions", "type": "enumeration", "fieldType": "checkbox",
                          "groupName": "contactinformation",
                          "options": [{ "label": "North", "value": "north" }, { "label": "South", "value": "south" }] });
    let (status, created) = api.post("/crm/v3/properties/contacts", regions.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        created["options"][1],
        json!({ "label": "South", "value": "south", "displayOrder": 1, "hidden": false })
    );
    assert!(created.get("hubspotDefined").is_none());
    assert!(created["createdAt"].is_string() && created["updatedAt"] == created["createdAt"]);
    let (status, taken) = api.post("/crm/v3/properties/contacts", regions).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(taken["category"], "OBJECT_ALREADY_EXISTS");
    let (_, taken) = api
        .post(
            "/crm/v3/properties/contacts",
            json!({ "name": "email", "label": "E", "type": "string",
                                                                     "fieldType": "text", "groupName": "g" }),
        )
        .await;
    assert_eq!(taken["category"], "OBJECT_ALREADY_EXISTS", "HubSpot's own names are taken too");
    let (status, missing) = api.post("/crm/v3/properties/contacts", json!({ "name": "x", "type": "string" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(missing["category"], "VALIDATION_ERROR");
    assert_eq!(missing["errors"][0]["code"], "REQUIRED_FIELD");
    let bad_type = json!({ "name": "x", "label": "X", "type": "money", "fieldType": "text", "groupName": "g" });
    let (status, bad) = api.post("/crm/v3/properties/contacts", bad_type).await;
    assert_eq!((status, bad["errors"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_PROPERTY_TYPE")));

    let write = |value: &str| {
        api.call(Method::PATCH, "/crm/v3/objects/contacts/1001", Some(json!({ "properties": { "regions": value } })))
    };
    let (status, both) = write("north;south").await;
    assert_eq!(status, StatusCode::OK, "each of a multi-select's values is an option");
    assert_eq!(both["properties"]["regions"], "north;south");
    let (_, west) = write("north;west").await;
    assert_eq!(west["errors"][0]["code"], "INVALID_OPTION");
    assert!(west["errors"][0]["message"].as_str().unwrap().starts_with("west "));

    let path = "/crm/v3/properties/contacts/regions";
    let patch = json!({ "label": "Sales regions", "options": [{ "label": "West", "value": "west" }] });
    let (status, patched) = api.call(Method::PATCH, path, Some(patch)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["label"], "Sales regions");
    assert!(patched["updatedAt"].as_str().unwrap() >= created["updatedAt"].as_str().unwrap());
    assert_eq!(write("west").await.0, StatusCode::OK, "the new options are live");
    let (status, own) =
        api.call(Method::PATCH, "/crm/v3/properties/contacts/email", Some(json!({ "label": "Mail" }))).await;
    assert_eq!((status, own["errors"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("READ_ONLY_DEFINITION")));
    let (status, _) = api.call(Method::DELETE, "/crm/v3/properties/contacts/email", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "HubSpot's own properties cannot be archived");

    let (status, _) = api.call(Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(path).await.0, StatusCode::NOT_FOUND);
    let (_, archived) = api.get("/crm/v3/properties/contacts?archived=true").await;
    assert_eq!(definition(&archived, "regions")["archived"], true);
    let (status, gone) = write("west").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(gone["errors"][0]["code"], "PROPERTY_DOESNT_EXIST", "an archived property is refused as unknown");
    let (_, read) = api.get("/crm/v3/objects/contacts/1001?properties=regions").await;
    assert!(read["properties"].get("regions").is_none(), "and ignored on read");
}

#[tokio::test]
async fn stages_and_pipelines_added_at_run_time_take_deals() {
    let api = Api::start(config()).await;
    let move_to = |stage: &str| {
        let body = json!({ "properties": { "pipeline": "default", "dealstage": stage } });
        api.call(Method::PATCH, "/crm/v3/objects/deals/9000001", Some(body))
    };
    let (_, before) = api.get("/crm/v3/pipelines/deals/default").await;
    let (status, refused) = move_to("100000001").await;
    assert_eq!((status, refused["errors"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_OPTION")));

    let stage = json!({ "label": "Legal review", "displayOrder": 5, "metadata": { "probability": 0.95 } });
    let (status, added) = api.post("/crm/v3/pipelines/deals/default/stages", stage).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = added["id"].as_str().unwrap().to_owned();
    assert!(id.parse::<u64>().is_ok(), "HubSpot's stage ids are numeric strings: {id}");
    assert_eq!(added["metadata"], json!({ "probability": "0.95", "isClosed": "false" }));
    let (_, after) = api.get("/crm/v3/pipelines/deals/default").await;
    assert!(after["updatedAt"].as_str().unwrap() > before["updatedAt"].as_str().unwrap());
    assert_eq!(after["stages"].as_array().unwrap().len(), 8);

    let (status, moved) = move_to(&id).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["properties"]["hs_deal_stage_probability"], "0.95");
    assert_eq!(moved["properties"]["hs_is_closed"], "false");
    let (_, definitions) = api.get("/crm/v3/properties/deals/dealstage").await;
    assert!(definitions["options"].as_array().unwrap().iter().any(|o| o["value"] == id.as_str()));

    let path = format!("/crm/v3/pipelines/deals/default/stages/{id}");
    let patch = json!({ "label": "Legal", "metadata": { "probability": "1.0", "isClosed": true } });
    let (status, patched) = api.call(Method::PATCH, &path, Some(patch)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((patched["label"].as_str(), patched["metadata"]["isClosed"].as_str()), (Some("Legal"), Some("true")));
    let (status, bad) = api.post("/crm/v3/pipelines/deals/default/stages", json!({ "label": "No odds" })).await;
    assert_eq!((status, bad["category"].as_str()), (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")));

    let pipeline = json!({ "label": "Partners", "displayOrder": 3, "stages": [
        { "label": "Referred", "metadata": { "probability": "0.1" } },
        { "label": "Signed", "metadata": { "probability": "1.0", "isClosed": "true" } },
    ] });
    let (status, created) = api.post("/crm/v3/pipelines/deals", pipeline).await;
    assert_eq!(status, StatusCode::CREATED);
    let (pipeline_id, signed) = (created["id"].as_str().unwrap(), created["stages"][1]["id"].as_str().unwrap());
    let body = json!({ "properties": { "pipeline": pipeline_id, "dealstage": signed } });
    let (status, won) = api.call(Method::PATCH, "/crm/v3/objects/deals/9000002", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{won}");
    assert_eq!(won["properties"]["hs_is_closed_won"], "true");

    let ticket_stage = json!({ "label": "Escalated", "metadata": { "ticketState": "OPEN" } });
    let control = format!("{}/_sim/pipelines/tickets/0/stages?portalId={PORTAL}", api.sim.base_url());
    let response = api.http.post(control).json(&ticket_stage).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "the simulator's control needs no token");
    let escalated = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let body = json!({ "properties": { "hs_pipeline_stage": escalated } });
    let (status, _) = api.call(Method::PATCH, "/crm/v3/objects/tickets/12000001", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn owners_and_properties_added_through_the_simulators_controls() {
    let api = Api::start(config()).await;
    let assign = |owner: &str| {
        let body = json!({ "properties": { "hubspot_owner_id": owner } });
        api.call(Method::PATCH, "/crm/v3/objects/companies/5000001", Some(body))
    };
    let owner = json!({ "email": "new.rep@pipelinepros.com", "firstName": "New", "lastName": "Rep",
                        "teams": [{ "id": "7101", "name": "Sales NA", "primary": true }] });
    let response = api.http.post(format!("{}/_sim/owners", api.sim.base_url())).json(&owner).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let added: Value = response.json().await.unwrap();
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (added["email"].as_str(), added["teams"][0]["id"].as_str()),
        (Some("new.rep@pipelinepros.com"), Some("7101"))
    );
    assert!(added["userId"].is_i64());
    let (_, listed) = api.get("/crm/v3/owners?email=new.rep@pipelinepros.com").await;
    assert_eq!(listed["results"][0]["id"], id.as_str());
    let (status, assigned) = assign(&id).await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["properties"]["hubspot_owner_id"], id.as_str());
    let (_, unknown) = assign("1").await;
    assert_eq!(unknown["errors"][0]["code"], "INVALID_OWNER_ID");

    let property = json!({ "name": "region", "label": "Region", "type": "string", "fieldType": "text",
                           "groupName": "companyinformation" });
    let control = format!("{}/_sim/properties/companies?portalId={PORTAL}", api.sim.base_url());
    let response = api.http.post(&control).json(&property).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(api.http.post(&control).json(&property).send().await.unwrap().status(), StatusCode::CONFLICT);
    let response = api.http.post(format!("{}/_sim/owners?portalId=1", api.sim.base_url())).json(&owner).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NOT_FOUND, "an unknown portal");
    let body = json!({ "properties": { "region": "EMEA" } });
    let (status, _) = api.call(Method::PATCH, "/crm/v3/objects/companies/5000001", Some(body)).await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn a_custom_propertys_change_sends_the_usual_webhook() {
    use std::collections::BTreeMap;

    use tests::sim::store::PortalState;

    let mut state = PortalState::new(generate(&small_spec(PORTAL)));
    state.sends_webhooks = true;
    let tier = BTreeMap::from([("tier".to_owned(), Some("bronze".to_owned()))]);
    let id = state
        .records(ObjectType::Contact)
        .keys()
        .copied()
        .find(|id| state.records(ObjectType::Contact)[id].property("tier") != Some("bronze"));
    state.update(ObjectType::Contact, id.unwrap(), tier, chrono::Utc::now()).unwrap();
    let events: Vec<&Value> = state.outbox.iter().filter(|e| e["propertyName"] == "tier").collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["subscriptionType"], "contact.propertyChange");
    assert_eq!(events[0]["propertyValue"], "bronze");
}
