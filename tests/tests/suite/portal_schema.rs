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
