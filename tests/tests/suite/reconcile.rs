//! The reconcile sweep brings the mirror up to date with changes made at HubSpot without any webhook: edits, new
//! records, archives, merges and removed associations; and it pages past HubSpot's 10,000-result search cap.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entities::{association, company, contact, deal};
use generator::{PortalSpec, generate};
use reqwest::{Client, Method};
use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use server::{
    hubspot::{ClientSettings, HubSpot, PrivateApp},
    sync::{Progress, backfill, reconcile},
};
use tests::{
    Backend, TestDb, on_both,
    sim::{Running, SimConfig},
    small_spec,
};

const PORTAL: i64 = 100_001;

fn client(sim: &Running, settings: ClientSettings) -> HubSpot {
    let settings = ClientSettings { base_url: sim.base_url(), min_backoff: Duration::from_millis(10), ..settings };
    HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())))
}

/// A change made straight at HubSpot (the simulator), as a user in HubSpot's UI would.
async fn at_hubspot(sim: &Running, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = Client::new().request(method, format!("{}{path}", sim.base_url())).bearer_auth(sim.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

on_both!(catches_what_webhooks_missed, |backend: Backend| async move {
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let hubspot = client(&sim, ClientSettings::default());
    backfill(&db.db, &hubspot, PORTAL, false, &Progress::Quiet).await.unwrap();
    let portal = generate(&small_spec(PORTAL));
    let contacts: Vec<i64> = portal.contacts.iter().filter(|c| !c.archived).map(|c| c.id).collect();
    let (edited, survivor, merged) = (contacts[0], contacts[1], contacts[2]);
    let deal = portal.deals.iter().find(|d| !d.archived).unwrap().id;

    at_hubspot(
        &sim,
        Method::PATCH,
        &format!("/crm/v3/objects/contacts/{edited}"),
        Some(json!({ "properties": { "firstname": "Reconciled" } })),
    )
    .await;
    at_hubspot(&sim, Method::DELETE, &format!("/crm/v3/objects/deals/{deal}"), None).await;
    at_hubspot(
        &sim,
        Method::POST,
        "/crm/v3/objects/contacts/merge",
        Some(json!({ "primaryObjectId": survivor.to_string(), "objectIdToMerge": merged.to_string() })),
    )
    .await;
    let created = at_hubspot(
        &sim,
        Method::POST,
        "/crm/v3/objects/companies",
        Some(json!({ "properties": { "name": "Brand New Ltd" } })),
    )
    .await;
    let created: i64 = created["id"].as_str().unwrap().parse().unwrap();
    let linked =
        at_hubspot(&sim, Method::GET, &format!("/crm/v4/objects/contacts/{edited}/associations/companies"), None).await;
    let company = linked["results"][0]["toObjectId"].as_i64().expect("the contact has a company");
    at_hubspot(
        &sim,
        Method::DELETE,
        &format!("/crm/v4/objects/contacts/{edited}/associations/companies/{company}"),
        None,
    )
    .await;

    let report = reconcile(&db.db, &hubspot, PORTAL, None).await.expect("sweep");
    assert_eq!(report.merged, 1);
    assert_eq!(report.archived, 1);

    let row = contact::Entity::find_by_id((PORTAL, edited)).one(&db.db).await.unwrap().unwrap();
    assert_eq!(row.firstname.as_deref(), Some("Reconciled"));
    let gone = deal::Entity::find_by_id((PORTAL, deal)).one(&db.db).await.unwrap().unwrap();
    assert!(gone.archived_at.is_some(), "the archived deal is a tombstone");
    let absorbed = contact::Entity::find_by_id((PORTAL, merged)).one(&db.db).await.unwrap().unwrap();
    assert_eq!(absorbed.merged_into, Some(survivor));
    assert!(absorbed.archived_at.is_some());
    let new = company::Entity::find_by_id((PORTAL, created)).one(&db.db).await.unwrap().unwrap();
    assert_eq!(new.name.as_deref(), Some("Brand New Ltd"));
    let edge = association::Entity::find()
        .filter(association::Column::PortalId.eq(PORTAL))
        .filter(
            sea_orm::Condition::any()
                .add(association::Column::FromId.eq(edited).and(association::Column::ToId.eq(company)))
                .add(association::Column::FromId.eq(company).and(association::Column::ToId.eq(edited))),
        )
        .count(&db.db)
        .await
        .unwrap();
    assert_eq!(edge, 0, "the removed association is gone in both directions");

    // Nothing changed since: the next sweep writes nothing new.
    let quiet = reconcile(&db.db, &hubspot, PORTAL, None).await.unwrap();
    assert_eq!((quiet.archived, quiet.merged), (0, 0));
});

on_both!(re_anchors_before_the_search_cap, |backend: Backend| async move {
    // More changed contacts than one search may page through.
    let spec = PortalSpec::sized(PORTAL, 11, 10_400, 40, 40, Utc::now());
    let config = SimConfig {
        portals: vec![spec.clone()],
        rate_limit: 100_000,
        search_per_second: 1_000,
        ..SimConfig::default()
    };
    let sim = Running::start(config).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let settings = ClientSettings { rate_limit: 100_000, searches_per_second: 1_000, ..ClientSettings::default() };
    reconcile(&db.db, &client(&sim, settings), PORTAL, None).await.expect("sweep pages past 10,000");
    let live = generate(&spec).contacts.iter().filter(|c| !c.archived).count() as u64;
    assert!(live > 10_000);
    let mirrored = contact::Entity::find().filter(contact::Column::PortalId.eq(PORTAL)).count(&db.db).await.unwrap();
    let archived = generate(&spec).contacts.iter().filter(|c| c.archived).count() as u64;
    assert_eq!(mirrored, live + archived, "every live contact by search, the archived ones as tombstones");
    assert_eq!(sim.sim.stats().rate_limited, 0);
});
