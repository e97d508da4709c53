//! Webhook input that can never succeed: a delivery over the documented size is refused for good (413, which HubSpot
//! stops retrying after its attempts, instead of a 503 for ever); one too large for a single statement is stored
//! whole; events dated past the skew window or for a portal the gateway does not serve are stored inert with their
//! reason, never applied; and a local failure while applying is not retried as if HubSpot had failed.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::http::StatusCode;
use entities::{portal, webhook_event, webhook_queue};
use futures::future::BoxFuture;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use server::{
    hubspot::{ClientSettings, HubSpot, HubSpotError, TokenSource},
    metrics::Metrics,
    webhooks::{
        DeliveryLimits, WebhookStats,
        apply::{Applier, ApplierSettings, LOCAL},
        event::parse_batch,
        log,
        signature::Versions,
    },
};
use tests::{Backend, TestDb, on_both};

use super::webhooks::{app_with, delivery, send, stored};

const PATH: &str = "/webhooks/hubspot";

fn event(portal: i64, event_id: i64, occurred_at: i64) -> Value {
    json!({ "eventId": event_id, "subscriptionId": 1, "portalId": portal, "appId": 1, "occurredAt": occurred_at,
            "subscriptionType": "contact.propertyChange", "objectId": 7, "propertyName": "firstname",
            "propertyValue": format!("v{event_id}"), "attemptNumber": 0 })
}

/// `n` compact property changes of portal 62515: 5,000 of them are about 800 KB, under the byte limit.
fn compact(n: i64) -> Vec<u8> {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "eventId": i, "portalId": 62515, "occurredAt": 1_700_000_000_000_i64 + i,
                          "subscriptionType": "contact.propertyChange", "objectId": 100 + i,
                          "propertyName": "firstname", "propertyValue": format!("v{i}") })
        })
        .collect();
    let body = serde_json::to_vec(&events).unwrap();
    assert!(body.len() < server::webhooks::MAX_BODY, "{} bytes", body.len());
    body
}

async fn by_event_id(db: &TestDb, event_id: i64) -> webhook_event::Model {
    let found = webhook_event::Entity::find().filter(webhook_event::Column::EventId.eq(event_id)).one(&db.db).await;
    found.unwrap().expect("the event is stored")
}

async fn queued(db: &TestDb, id: i64) -> bool {
    webhook_queue::Entity::find_by_id(id).one(&db.db).await.unwrap().is_some()
}

on_both!(a_delivery_over_the_event_limit_is_refused_for_good_and_stores_nothing, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let metrics = Metrics::default();
    let app = app_with(&db, metrics.clone(), Versions::Any, DeliveryLimits::default()).await;
    // 5,000 events: under the byte limit, over the event limit.
    let (status, answer) = send(&app, delivery(&compact(5_000), PATH)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("5000 events") && message.contains("WEBHOOK_MAX_EVENTS"), "{message}");
    assert_eq!(stored(&db).await, 0);
    assert!(metrics.render().contains("gateway_webhook_deliveries_refused_total{reason=\"too_large\"} 1"));
});

on_both!(a_delivery_too_large_for_one_statement_is_stored_whole, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let limits = DeliveryLimits { max_events: 6_000, ..DeliveryLimits::default() };
    let app = app_with(&db, Metrics::default(), Versions::Any, limits).await;
    let batch = compact(5_000);
    let (status, answer) = send(&app, delivery(&batch, PATH)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 5_000, "duplicates": 0 })));
    assert_eq!(stored(&db).await, 5_000);
    assert_eq!(webhook_queue::Entity::find().count(&db.db).await.unwrap(), 5_000, "every event queued");
    let (status, answer) = send(&app, delivery(&batch, PATH)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 0, "duplicates": 5_000 })));
});

on_both!(an_event_dated_past_the_skew_window_is_stored_dead_and_the_rest_acknowledged, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let metrics = Metrics::default();
    let app = app_with(&db, metrics.clone(), Versions::Any, DeliveryLimits::default()).await;
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000;
    let batch = json!([event(62515, 1, now + 2 * day), event(62515, 2, now), event(62515, 3, now + day / 2)]);
    let (status, answer) = send(&app, delivery(&serde_json::to_vec(&batch).unwrap(), PATH)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 3, "duplicates": 0 })));

    let future = by_event_id(&db, 1).await;
    assert_eq!(future.state, "dead");
    assert!(future.last_error.as_deref().unwrap().contains("WEBHOOK_MAX_SKEW_SECS"), "{:?}", future.last_error);
    assert!(!queued(&db, future.id).await, "a future event is never applied");
    for within in [2, 3] {
        let event = by_event_id(&db, within).await;
        assert_eq!((event.state.as_str(), queued(&db, event.id).await), ("pending", true), "event {within}");
    }
    assert!(metrics.render().contains("gateway_webhook_events_inert_total{reason=\"future\"} 1"));
});

on_both!(events_for_a_portal_not_served_are_stored_inert_and_shown_to_admins, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let metrics = Metrics::default();
    let app = app_with(&db, metrics.clone(), Versions::Any, DeliveryLimits::default()).await;
    // 777 was installed, then disconnected; 999 never was.
    server::mirror::ensure_portal(&db.db, 777, "Gone").await.unwrap();
    let gone = portal::ActiveModel {
        portal_id: Set(777),
        disconnected_at: Set(Some(chrono::Utc::now())),
        ..Default::default()
    };
    gone.update(&db.db).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let batch = json!([event(999, 1, now), event(777, 2, now), event(62515, 3, now)]);
    let (status, answer) = send(&app, delivery(&serde_json::to_vec(&batch).unwrap(), PATH)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 3, "duplicates": 0 })));

    for unknown in [1, 2] {
        let event = by_event_id(&db, unknown).await;
        assert_eq!(event.state, "ignored", "event {unknown}");
        assert!(event.last_error.as_deref().unwrap().starts_with("unknown portal"), "{:?}", event.last_error);
        assert!(!queued(&db, event.id).await, "never applied, with any portal's credential");
    }
    assert!(queued(&db, by_event_id(&db, 3).await.id).await, "the served portal's event is applied");
    assert!(metrics.render().contains("gateway_webhook_events_inert_total{reason=\"unknown_portal\"} 2"));

    // The disconnected portal's admin sees why.
    let query = "{ webhookEvents(state: IGNORED) { eventId state lastError } }";
    let scope = schema::Scope::new(db.db.clone(), 777, schema::Role::Admin);
    let answer = tests::execute(&schema::build(), scope, query, json!({})).await;
    let seen = &tests::data_of(answer)["webhookEvents"];
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    assert!(seen[0]["lastError"].as_str().unwrap().starts_with("unknown portal"), "{seen}");
});

/// A token store that fails on our side (a stored token that does not decrypt), counting its calls.
struct Undecryptable(Arc<AtomicU64>);

impl TokenSource for Undecryptable {
    fn token(&self, _portal: i64) -> BoxFuture<'_, Result<String, HubSpotError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(HubSpotError::local("the stored token does not decrypt with any configured key")) })
    }
}

on_both!(
    a_local_failure_while_applying_is_not_retried_as_hubspots_and_is_reported_local,
    |backend: Backend| async move {
        let db = TestDb::migrated(backend).await;
        server::mirror::ensure_portal(&db.db, 62515, "Local").await.unwrap();
        let batch = json!([{ "eventId": 1, "portalId": 62515, "occurredAt": 1_700_000_000_000_i64,
                         "subscriptionType": "contact.creation", "objectId": 5 }]);
        log::append(&db.db, "test", parse_batch(&serde_json::to_vec(&batch).unwrap()).unwrap()).await.unwrap();
        let calls = Arc::new(AtomicU64::new(0));
        // Nothing listens at the base URL: a call that got that far would fail as HubSpot's.
        let settings =
            ClientSettings { base_url: "http://127.0.0.1:1".into(), max_retries: 3, ..ClientSettings::default() };
        let applier = Applier {
            db: db.db.clone(),
            hubspot: Some(HubSpot::new(settings, Arc::new(Undecryptable(calls.clone())))),
            stats: WebhookStats::default(),
            settings: ApplierSettings::default(),
            health: None,
            reference: Default::default(),
        };
        let pass = applier.pass().await.unwrap();
        assert_eq!(pass.retried, 1, "{pass:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the client did not retry a local failure");
        let event = by_event_id(&db, 1).await;
        let reason = event.last_error.as_deref().unwrap();
        assert!(reason.starts_with(LOCAL) && reason.contains("decrypt"), "{reason}");
    }
);
