//! Errors a caller sees during a database outage are codes, not internals: GraphQL answers 503 with
//! `SERVICE_UNAVAILABLE` and `Retry-After` (not 200 `INTERNAL`), a webhook delivery 503 with a generic body (HubSpot
//! retries it), and neither body carries the database's text. The outage is a pool pointed at a closed port, so the
//! machine's Postgres, which other tests share, is left alone.

use std::time::Duration;

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use serde_json::{Value, json};
use server::{
    http::AppState,
    metrics::Metrics,
    webhooks::{Receiver, signature::Versions},
};
use tests::{Backend, TestDb};
use tower::ServiceExt;

use super::webhooks::{delivery, events};

/// A pool whose every connection attempt is refused: nothing listens on port 1.
async fn unreachable_postgres() -> DatabaseConnection {
    let mut options = ConnectOptions::new("postgres://gateway@127.0.0.1:1/gone");
    options.connect_lazy(true).acquire_timeout(Duration::from_millis(500)).sqlx_logging(false);
    Database::connect(options).await.expect("a lazy pool opens without connecting")
}

/// A gateway whose database went away after it started.
async fn gateway_in_an_outage(db: &TestDb) -> axum::Router {
    server::mirror::ensure_portal(&db.db, 62515, "Outage").await.unwrap();
    let receiver = Receiver {
        secrets: vec!["webhook-test-secret".into()],
        public_url: "https://hooks.example.com".into(),
        signatures: Versions::Any,
        limits: Default::default(),
    };
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap().with_webhooks(Some(receiver));
    server::http::app(AppState { db: unreachable_postgres().await, ..state })
}

async fn answer(app: &axum::Router, request: Request<Body>) -> (StatusCode, Option<String>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let retry_after = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, retry_after, String::from_utf8(body.to_vec()).unwrap())
}

/// Words of the database's own errors that must stay in our log.
fn assert_no_internals(body: &str) {
    for word in ["pool", "timed out", "refused", "connection", "sqlx", "127.0.0.1", "error returned from database"] {
        assert!(!body.to_lowercase().contains(word), "{word:?} in {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_answers_503_service_unavailable_without_database_text() {
    let db = TestDb::migrated(Backend::Postgres).await;
    let app = gateway_in_an_outage(&db).await;
    for accept in ["application/json", "application/graphql-response+json"] {
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, accept)
            .header("x-request-id", format!("outage-{accept}"))
            .body(Body::from(json!({ "query": "{ contacts(first: 2) { totalCount } }" }).to_string()))
            .unwrap();
        let (status, retry_after, body) = answer(&app, request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{accept}: {body}");
        assert!(retry_after.is_some_and(|s| s.parse::<u64>().unwrap() > 0), "{accept}: Retry-After");
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{body}");
        let quoted = &json["errors"][0]["extensions"]["requestId"];
        assert_eq!(quoted, &format!("outage-{accept}"), "the request's own id, to quote to operators: {body}");
        assert_no_internals(&body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_delivery_in_an_outage_is_503_with_a_generic_body() {
    let db = TestDb::migrated(Backend::Postgres).await;
    let app = gateway_in_an_outage(&db).await;
    let (status, retry_after, body) = answer(&app, delivery(&events(3), "/webhooks/hubspot")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "HubSpot retries a 503: {body}");
    assert!(retry_after.is_some());
    let json: Value = serde_json::from_str(&body).unwrap();
    assert!(json["requestId"].is_string(), "{body}");
    assert_no_internals(&body);
}
