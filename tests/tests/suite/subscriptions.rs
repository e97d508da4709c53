//! `healthScoreChanged`, `insightRaised` and `insightResolved` over a WebSocket at `/graphql`: both subprotocols
//! receive a change the moment a rescoring makes it; a subscriber that reconnects with its last cursor receives what
//! it missed; two gateways sharing one Redis deliver a change made on one to a subscriber of the other; the
//! connection's portal is checked.

use std::time::Duration;

use hubspot::ObjectType;
use serde_json::{Value, json};
use server::{
    health::{Health, Scoring, notify::Notifier},
    http::{AppState, app},
    metrics::Metrics,
    mirror::events::{self, Change},
};
use tests::{
    Backend, Mirror,
    redis_server::{isolated, redis_url},
    subscriber::Subscriber,
};

/// A gateway over `mirror`'s database, on a free port, whose scoring tells `notifier`'s subscribers.
async fn serve(mirror: &Mirror, notifier: &Notifier) -> String {
    let state = AppState::new(mirror.db.db.clone(), Metrics::default())
        .await
        .unwrap()
        .with_feed(Some(std::sync::Arc::new(notifier.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    format!("ws://{addr}/graphql")
}

const CHANGES: &str =
    "subscription($company: ID, $after: ID) { healthScoreChanged(companyId: $company, after: $after) {
    cursor overall previousOverall delta company { hubspotId } cause } }";

/// Sets a company's lifecycle stage in the mirror and rescores it as the applier would.
async fn change_stage(mirror: &Mirror, health: &Health, company: i64, stage: &str) {
    let portal = mirror.portal.portal_id;
    let change = Change {
        name: "lifecyclestage".into(),
        value: Some(stage.into()),
        occurred_ms: chrono::Utc::now().timestamp_millis(),
    };
    events::set_properties(&mirror.db.db, portal, ObjectType::Company, &[(company, vec![change])]).await.unwrap();
    let cause = json!({ "kind": "test", "stage": stage });
    let changes = health.records_changed(portal, &[(ObjectType::Company, company)], &cause).await;
    assert!(!changes.is_empty(), "the stage moved the score");
}

async fn scored_mirror(backend: Backend) -> (Mirror, i64) {
    let mirror = Mirror::small(backend).await;
    let portal = mirror.portal.portal_id;
    server::health::full_pass(&mirror.db.db, portal, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();
    let company = server::health::clients(&mirror.db.db, portal, server::health::Subject::Company).await.unwrap()[0];
    (mirror, company)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_subscribers_of_both_protocols_and_a_reconnect_misses_nothing() {
    let (mirror, company) = scored_mirror(Backend::Postgres).await;
    let notifier = Notifier::in_process();
    let health = Health { notifier: Some(notifier.clone()), ..Health::new(mirror.db.db.clone(), Default::default()) };
    let url = serve(&mirror, &notifier).await;
    let init = json!({ "X-HubSpot-Portal-Id": mirror.portal.portal_id.to_string() });
    let mut modern = Subscriber::connect(&url, "graphql-transport-ws", init.clone()).await.unwrap();
    let mut legacy = Subscriber::connect(&url, "graphql-ws", init.clone()).await.unwrap();
    let company_id = json!(format!("{company}"));
    modern.subscribe(CHANGES, json!({ "company": company_id })).await;
    legacy.subscribe(CHANGES, json!({ "company": company_id })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    change_stage(&mirror, &health, company, "evangelist").await;
    let (a, b) = (modern.change().await, legacy.change().await);
    assert_eq!(a, b, "both protocols carry the same change");
    assert_eq!(a["company"]["hubspotId"], company.to_string());
    assert_eq!(a["cause"], json!({ "kind": "test", "stage": "evangelist" }));
    assert_eq!(a["delta"], a["overall"].as_i64().unwrap() - a["previousOverall"].as_i64().unwrap());

    // The legacy subscriber drops; two changes happen; it comes back with its last cursor and gets both, in order,
    // then the live ones.
    let cursor = b["cursor"].clone();
    drop(legacy);
    change_stage(&mirror, &health, company, "lead").await;
    change_stage(&mirror, &health, company, "customer").await;
    let mut back = Subscriber::connect(&url, "graphql-ws", init).await.unwrap();
    back.subscribe(CHANGES, json!({ "company": company_id, "after": cursor })).await;
    let missed = [back.change().await, back.change().await];
    assert_eq!(missed[0]["cause"]["stage"], "lead");
    assert_eq!(missed[1]["cause"]["stage"], "customer");
    assert!(
        missed[0]["cursor"].as_str().unwrap().parse::<i64>().unwrap()
            > cursor.as_str().unwrap().parse::<i64>().unwrap()
    );
    for _ in 0..2 {
        assert_eq!(
            modern.change().await["company"]["hubspotId"],
            company.to_string(),
            "the live subscriber heard both"
        );
    }
    change_stage(&mirror, &health, company, "opportunity").await;
    assert_eq!(back.change().await["cause"]["stage"], "opportunity", "then live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_sharing_redis_deliver_each_others_changes() {
    let (mirror, company) = scored_mirror(Backend::Postgres).await;
    let shared = isolated(&redis_url());
    let (first, second) = (
        Notifier::through_redis(&redis_url(), shared.clone()).unwrap(),
        Notifier::through_redis(&redis_url(), shared).unwrap(),
    );
    let url = serve(&mirror, &second).await;
    let init = json!({ "X-HubSpot-Portal-Id": mirror.portal.portal_id.to_string() });
    let mut subscriber = Subscriber::connect(&url, "graphql-transport-ws", init).await.unwrap();
    subscriber.subscribe(CHANGES, json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The change is made on the first gateway, which serves no subscriber.
    let health = Health { notifier: Some(first), ..Health::new(mirror.db.db.clone(), Default::default()) };
    change_stage(&mirror, &health, company, "evangelist").await;
    let change = subscriber.change().await;
    assert_eq!(change["company"]["hubspotId"], company.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_for_a_portal_the_mirror_lacks_is_refused() {
    let (mirror, _) = scored_mirror(Backend::Sqlite).await;
    let url = serve(&mirror, &Notifier::in_process()).await;
    let refused = Subscriber::connect(&url, "graphql-transport-ws", json!({ "X-HubSpot-Portal-Id": "999" })).await;
    assert!(refused.is_err());
    let accepted = Subscriber::connect(&url, "graphql-transport-ws", json!({})).await;
    assert!(accepted.is_ok(), "the only portal, when none is named");
}

const INSIGHTS: &str = "subscription($company: ID, $after: ID) {
    raised: insightRaised(companyId: $company, after: $after) { ...change } }
    fragment change on InsightChange { cursor change previousStatus cause
        insight { type status impact confidence resolvedAt company { hubspotId } } }";

/// Sets when a company's notes were last updated (its own activity) and rescores it as the applier would.
async fn set_activity(mirror: &Mirror, health: &Health, company: i64, at: chrono::DateTime<chrono::Utc>) {
    let portal = mirror.portal.portal_id;
    let change = Change {
        name: "notes_last_updated".into(),
        value: Some(at.to_rfc3339()),
        occurred_ms: chrono::Utc::now().timestamp_millis(),
    };
    events::set_properties(&mirror.db.db, portal, ObjectType::Company, &[(company, vec![change])]).await.unwrap();
    health.records_changed(portal, &[(ObjectType::Company, company)], &json!({ "kind": "test", "at": at })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_raised_and_resolved_reach_subscribers_and_a_reconnect_misses_nothing() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let (mirror, _) = scored_mirror(Backend::Postgres).await;
    // A company the full pass found inactive: activity today resolves that, activity long ago raises it again.
    let inactive = entities::insight::Entity::find()
        .filter(entities::insight::Column::Kind.eq("inactiveClient"))
        .filter(entities::insight::Column::SubjectType.eq("company"))
        .filter(entities::insight::Column::Status.eq("open"))
        .one(&mirror.db.db)
        .await
        .unwrap()
        .expect("an inactive company in the generated portal");
    let company = inactive.subject_id;
    let notifier = Notifier::in_process();
    let health = Health { notifier: Some(notifier.clone()), ..Health::new(mirror.db.db.clone(), Default::default()) };
    let url = serve(&mirror, &notifier).await;
    let init = json!({ "X-HubSpot-Portal-Id": mirror.portal.portal_id.to_string() });
    let vars = json!({ "company": company.to_string() });
    let mut raises = Subscriber::connect(&url, "graphql-transport-ws", init.clone()).await.unwrap();
    raises.subscribe(INSIGHTS, vars.clone()).await;
    let resolved_query = INSIGHTS.replace("raised: insightRaised", "resolved: insightResolved");
    let mut resolutions = Subscriber::connect(&url, "graphql-ws", init.clone()).await.unwrap();
    resolutions.subscribe(&resolved_query, vars.clone()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let now = chrono::Utc::now();
    set_activity(&mirror, &health, company, now).await;
    let resolved = resolutions.insight_change("INACTIVE_CLIENT").await;
    assert_eq!(resolved["change"], "RESOLVED");
    assert_eq!(resolved["previousStatus"], "OPEN");
    assert_eq!(resolved["insight"]["type"], "INACTIVE_CLIENT");
    assert_eq!(resolved["insight"]["status"], "RESOLVED");
    assert_eq!(resolved["insight"]["company"]["hubspotId"], company.to_string());
    assert_eq!(resolved["cause"]["kind"], "test");

    let long_ago = now - chrono::Duration::days(200);
    set_activity(&mirror, &health, company, long_ago).await;
    let raised = raises.insight_change("INACTIVE_CLIENT").await;
    assert_eq!(raised["change"], "RAISED");
    assert_eq!(raised["previousStatus"], Value::Null);
    assert_eq!(
        (raised["insight"]["type"].as_str(), raised["insight"]["status"].as_str()),
        (Some("INACTIVE_CLIENT"), Some("OPEN"))
    );
    assert!(raised["insight"]["confidence"].as_i64().is_some_and(|c| (0..=100).contains(&c)));

    // The resolutions subscriber drops; the insight clears again; coming back after its cursor it gets that
    // resolution first.
    let cursor = resolved["cursor"].clone();
    drop(resolutions);
    set_activity(&mirror, &health, company, now).await;
    let mut back = Subscriber::connect(&url, "graphql-ws", init).await.unwrap();
    back.subscribe(&resolved_query, json!({ "company": company.to_string(), "after": cursor })).await;
    let missed = back.insight_change("INACTIVE_CLIENT").await;
    assert_eq!(missed["change"], "RESOLVED");
    assert_ne!(missed["cursor"], cursor);
    assert_eq!(missed["insight"]["status"], "RESOLVED");
}
