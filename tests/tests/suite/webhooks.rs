//! Receiving webhooks: HubSpot's official Python client signs, the gateway verifies; refusals store nothing and
//! are counted by reason; an accepted delivery is in the event log, once, before the answer.

use std::{path::PathBuf, process::Command};

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use entities::webhook_event;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use server::{
    http::AppState,
    metrics::Metrics,
    webhooks::{
        NotAccepted, Receiver, Refusal, WebhookStats,
        signature::{self, Versions},
    },
};
use tests::{Backend, TestDb, on_both};
use tower::ServiceExt;

/// Deliveries signed by `hubspot.utils.signature.Signature.get_signature`.
fn signed_by_python(stale: bool) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/python-client/bin/python");
    assert!(python.exists(), "{} is missing: run `make python-client` (make test does)", python.display());
    let output = Command::new(python)
        .arg(root.join("tests/python/sign_webhooks.py"))
        .env("COUNT", "30")
        .env("STALE", if stale { "1" } else { "0" })
        .output()
        .expect("python runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let cases: Vec<Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(cases.len(), 30);
    cases
}

fn headers_of<'a>(case: &'a Value, signature: &'a str) -> signature::Signed<'a> {
    match case["version"].as_str().unwrap() {
        "v3" => signature::Signed {
            v3: Some(signature),
            timestamp: case["timestamp"].as_str(),
            ..signature::Signed::default()
        },
        version => signature::Signed { version: Some(version), signature: Some(signature), ..Default::default() },
    }
}

pub(crate) async fn stored(db: &TestDb) -> u64 {
    webhook_event::Entity::find().count(&db.db).await.unwrap()
}

on_both!(official_client_signatures_are_accepted_and_any_change_refused, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let stats = WebhookStats::default();
    let mut expected = 0;
    for case in signed_by_python(false) {
        let text = |key: &str| case[key].as_str().unwrap().to_owned();
        let (secret, body, path, sig) = (text("secret"), text("body"), text("path"), text("signature"));
        let receiver = Receiver {
            secrets: vec!["an-old-secret".into(), secret.clone()],
            public_url: text("base"),
            signatures: Versions::Any,
            limits: Default::default(),
        };
        let accept = |body: Vec<u8>, secrets: Vec<String>| {
            let receiver = Receiver { secrets, ..receiver.clone() };
            let (db, stats, case, sig, path) = (db.db.clone(), stats.clone(), case.clone(), sig.clone(), path.clone());
            async move { receiver.accept(&db, &stats, "POST", &path, headers_of(&case, &sig), &body).await }
        };

        // One byte changed anywhere in the body, or a wrong secret: refused, nothing stored.
        let mut tampered = body.clone().into_bytes();
        let at = rand::random_range(0..tampered.len());
        tampered[at] ^= 0x01;
        for attempt in
            [accept(tampered, receiver.secrets.clone()).await, accept(body.clone().into(), vec!["wrong".into()]).await]
        {
            assert!(
                matches!(attempt, Err(NotAccepted::Refused { reason: Refusal::BadSignature, .. })),
                "{case}: {attempt:?}"
            );
        }
        assert_eq!(stored(&db).await, expected);

        let appended =
            accept(body.clone().into(), receiver.secrets.clone()).await.unwrap_or_else(|e| panic!("{case}: {e}"));
        expected += serde_json::from_str::<Vec<Value>>(&body).unwrap().len() as u64;
        assert_eq!(appended.stored + appended.duplicates, appended.stored);
        assert_eq!(stored(&db).await, expected, "{case}");
    }
    assert_eq!(stats.refused(Refusal::BadSignature), 60);

    // v3 with a timestamp over 300 s old: refused even though the signature matches.
    for case in signed_by_python(true).into_iter().filter(|c| c["version"] == "v3") {
        let text = |key: &str| case[key].as_str().unwrap().to_owned();
        let receiver = Receiver {
            secrets: vec![text("secret")],
            public_url: text("base"),
            signatures: Versions::Any,
            limits: Default::default(),
        };
        let sig = text("signature");
        let outcome = receiver
            .accept(&db.db, &stats, "POST", &text("path"), headers_of(&case, &sig), text("body").as_bytes())
            .await;
        assert!(matches!(outcome, Err(NotAccepted::Refused { reason: Refusal::StaleTimestamp, .. })), "{outcome:?}");
    }
    assert_eq!(stored(&db).await, expected);
});

const SECRET: &str = "webhook-test-secret";
const PUBLIC_URL: &str = "https://hooks.example.com";

async fn app(db: &TestDb, metrics: Metrics) -> axum::Router {
    app_taking(db, metrics, Versions::Any).await
}

pub(crate) async fn app_taking(db: &TestDb, metrics: Metrics, signatures: Versions) -> axum::Router {
    app_with(db, metrics, signatures, Default::default()).await
}

/// The router with a receiver taking `limits`; the deliveries' portal (62515) is served.
pub(crate) async fn app_with(
    db: &TestDb,
    metrics: Metrics,
    signatures: Versions,
    limits: server::webhooks::DeliveryLimits,
) -> axum::Router {
    server::mirror::ensure_portal(&db.db, 62515, "Webhooks").await.unwrap();
    let receiver = Receiver { secrets: vec![SECRET.into()], public_url: PUBLIC_URL.into(), signatures, limits };
    let state = AppState::new(db.db.clone(), metrics).await.unwrap().with_webhooks(Some(receiver));
    server::http::app(state)
}

/// A delivery signed v3 now, as HubSpot sends it (with the v1 header alongside).
pub(crate) fn delivery(body: &[u8], path: &str) -> Request<Body> {
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let uri = format!("{PUBLIC_URL}{path}");
    let request = signature::Request { method: "POST", uri: &uri, body };
    Request::post(path)
        .header("content-type", "application/json")
        .header("X-HubSpot-Signature-V3", STANDARD.encode(signature::v3(SECRET, &request, &timestamp)))
        .header("X-HubSpot-Request-Timestamp", timestamp)
        .header("X-HubSpot-Signature-Version", "v1")
        .header("X-HubSpot-Signature", hex::encode(signature::v1(SECRET, &request)))
        .body(Body::from(body.to_vec()))
        .unwrap()
}

/// A delivery signed by `version` alone, correctly, as an app that sends only that header would.
fn signed_only(version: &str, body: &[u8], path: &str) -> Request<Body> {
    let uri = format!("{PUBLIC_URL}{path}");
    let request = signature::Request { method: "POST", uri: &uri, body };
    let builder = Request::post(path).header("content-type", "application/json");
    let builder = match version {
        "v3" => {
            let timestamp = chrono::Utc::now().timestamp_millis().to_string();
            builder
                .header("X-HubSpot-Signature-v3", STANDARD.encode(signature::v3(SECRET, &request, &timestamp)))
                .header("X-HubSpot-Request-Timestamp", timestamp)
        }
        "v2" => builder
            .header("X-HubSpot-Signature-Version", "v2")
            .header("X-HubSpot-Signature", hex::encode(signature::v2(SECRET, &request))),
        _ => builder
            .header("X-HubSpot-Signature-Version", "v1")
            .header("X-HubSpot-Signature", hex::encode(signature::v1(SECRET, &request))),
    };
    builder.body(Body::from(body.to_vec())).unwrap()
}

pub(crate) async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub(crate) fn events(n: usize) -> Vec<u8> {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "eventId": i, "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": 1_700_000_000_000_i64 + i as i64,
                    "subscriptionType": if i == 0 { "contact.someNewKind" } else { "contact.propertyChange" },
                    "objectId": 100 + i, "propertyName": "firstname", "propertyValue": format!("v{i}"), "attemptNumber": 0 })
        })
        .collect();
    serde_json::to_vec(&events).unwrap()
}

on_both!(deliveries_are_stored_once_and_refusals_store_nothing, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let metrics = Metrics::default();
    let app = app(&db, metrics.clone()).await;
    let batch = events(100);

    let (status, answer) = send(&app, delivery(&batch, "/webhooks/hubspot?source=test")).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 100, "duplicates": 0 })));
    // HubSpot's retry of the same delivery: acknowledged, stored no second time.
    let (status, answer) = send(&app, delivery(&batch, "/webhooks/hubspot?source=test")).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 0, "duplicates": 100 })));
    assert_eq!(stored(&db).await, 100);
    let unknown = webhook_event::Entity::find().all(&db.db).await.unwrap();
    assert_eq!(unknown.iter().filter(|e| e.state == "ignored").count(), 1, "an unknown type is kept, not applied");
    assert_eq!(unknown.iter().find(|e| e.object_id == 150).unwrap().payload["propertyValue"], "v50");

    // Signed for another path: the signature covers PUBLIC_URL plus path and query.
    let mut moved = delivery(&events(2), "/webhooks/hubspot?source=test");
    *moved.uri_mut() = "/webhooks/hubspot?source=elsewhere".parse().unwrap();
    assert_eq!(send(&app, moved).await.0, StatusCode::UNAUTHORIZED);
    let unsigned = Request::post("/webhooks/hubspot").body(Body::from(events(1))).unwrap();
    let (status, answer) = send(&app, unsigned).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(answer["message"].as_str().unwrap().contains("X-HubSpot-Signature"), "{answer}");

    let huge = vec![b' '; server::webhooks::MAX_BODY + 1];
    assert_eq!(send(&app, delivery(&huge, "/webhooks/hubspot")).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, answer) = send(&app, delivery(br#"{"not":"an array"}"#, "/webhooks/hubspot")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["message"].as_str().unwrap().contains("array"), "{answer}");
    let (status, answer) =
        send(&app, delivery(br#"[{"portalId":1,"subscriptionType":"contact.creation"}]"#, "/webhooks/hubspot")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["message"], "event [0]: `occurredAt` is missing");
    assert_eq!(stored(&db).await, 100, "no refused delivery stored a byte");

    let text = metrics.render();
    for line in [
        "gateway_webhook_events_received_total 200",
        "gateway_webhook_events_duplicate_total 100",
        "gateway_webhook_events_unknown_total 2",
        "gateway_webhook_deliveries_refused_total{reason=\"bad_signature\"} 1",
        "gateway_webhook_deliveries_refused_total{reason=\"missing_signature\"} 1",
        "gateway_webhook_deliveries_refused_total{reason=\"too_large\"} 1",
        "gateway_webhook_deliveries_refused_total{reason=\"malformed\"} 2",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
});

on_both!(requiring_v3_refuses_v1_and_v2_deliveries_and_stores_nothing, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let metrics = Metrics::default();
    let app = app_taking(&db, metrics.clone(), Versions::V3).await;
    let path = "/webhooks/hubspot?source=test";

    for version in ["v1", "v2"] {
        let (status, answer) = send(&app, signed_only(version, &events(3), path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{version}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("requires v3"), "{version}: {answer}");
    }
    assert_eq!(stored(&db).await, 0, "a refused delivery stores nothing");
    let text = metrics.render();
    let line = "gateway_webhook_deliveries_refused_total{reason=\"signature_version\"} 2";
    assert!(text.contains(line), "{line} in\n{text}");
    assert!(text.contains("gateway_webhook_deliveries_refused_total{reason=\"bad_signature\"} 0"), "{text}");

    // v3, alone or with the older header HubSpot sends beside it, is taken.
    let (status, answer) = send(&app, signed_only("v3", &events(3), path)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 3, "duplicates": 0 })));
    let (status, answer) = send(&app, delivery(&events(4), path)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 1, "duplicates": 3 })));
    assert_eq!(stored(&db).await, 4);
});

on_both!(taking_any_version_accepts_each_signed_alone, |backend: Backend| async move {
    let db = TestDb::migrated(backend).await;
    let app = app(&db, Metrics::default()).await;
    for (version, n) in [("v1", 1), ("v2", 2), ("v3", 3)] {
        let (status, answer) = send(&app, signed_only(version, &events(n), "/webhooks/hubspot")).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({ "stored": 1, "duplicates": n - 1 })), "{version}");
    }
    assert_eq!(stored(&db).await, 3);
});

#[tokio::test]
async fn without_a_client_secret_there_is_no_receiver() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap();
    let (status, answer) = send(&server::http::app(state), delivery(&events(1), "/webhooks/hubspot")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(answer["message"].as_str().unwrap().contains("HUBSPOT_CLIENT_SECRET"));
}
