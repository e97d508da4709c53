//! Persisted operations over HTTP. Apollo's automatic persisted queries: a hash alone runs the text sent with it
//! before, on every replica sharing Redis, and only a text's own hash registers it. `OPERATIONS=safelist`: only
//! documents registered with `server operations add` run, by their text or their hash, and sending one registers
//! nothing.

use std::path::PathBuf;

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use server::{
    http::{AppState, app},
    metrics::Metrics,
    operations::{Mode, Operations, RegisterError, document_hash, registered, sha256_hex},
    shared_redis::SharedRedis,
};
use tests::{Backend, Mirror, on_both, subscriber::Subscriber};
use tower::ServiceExt;

const COUNT: &str = "{ contacts { totalCount } }";

/// A gateway over `mirror` running `mode`, its persisted queries in `redis` when given.
async fn gateway(mirror: &Mirror, mode: Mode, redis: Option<SharedRedis>) -> axum::Router {
    app_with(mirror, Operations::load(&mirror.db.db, mode, redis).await.unwrap()).await
}

async fn app_with(mirror: &Mirror, operations: Operations) -> axum::Router {
    app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap().with_operations(operations))
}

/// A socket (`graphql-transport-ws`) to `app`, served on a port of its own.
async fn socket(app: axum::Router) -> Subscriber {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    Subscriber::connect(&url, "graphql-transport-ws", json!({})).await.unwrap()
}

/// `POST /graphql` with `body`; the answer, which must be a 200.
async fn post(app: &axum::Router, body: Value) -> Value {
    let request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    let response = app.clone().oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code: {answer:#}"))
}

fn contacts(answer: &Value) -> &Value {
    assert!(answer.get("errors").is_none(), "{answer:#}");
    &answer["data"]["contacts"]["totalCount"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persisted_query_runs_by_its_hash_once_sent_with_its_text() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = gateway(&mirror, Mode::Any, None).await;
    let hash = sha256_hex(COUNT);

    let unknown = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(code(&unknown), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound", "Apollo clients read the message too");

    let sent = post(&app, json!({ "query": COUNT, "extensions": persisted(&hash) })).await;
    assert_eq!(contacts(&sent), &json!(mirror.portal.contacts.len()));
    let by_hash = post(&app, json!({ "extensions": persisted(&hash.to_uppercase()) })).await;
    assert_eq!(contacts(&by_hash), &json!(mirror.portal.contacts.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_sent_with_another_texts_hash_is_refused_and_kept_under_neither() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = gateway(&mirror, Mode::Any, None).await;
    let other = "{ deals { totalCount } }";

    let forged = post(&app, json!({ "query": COUNT, "extensions": persisted(&sha256_hex(other)) })).await;
    assert_eq!(code(&forged), "PERSISTED_QUERY_HASH_MISMATCH");
    assert!(forged["data"].is_null(), "{forged:#}");
    for hash in [sha256_hex(other), sha256_hex(COUNT)] {
        assert_eq!(code(&post(&app, json!({ "extensions": persisted(&hash) })).await), "PERSISTED_QUERY_NOT_FOUND");
    }
    let malformed = post(&app, json!({ "extensions": persisted("not-a-hash") })).await;
    assert_eq!(code(&malformed), "BAD_REQUEST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_the_schema_refuses_is_not_kept_under_its_hash() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = gateway(&mirror, Mode::Any, None).await;
    // One unknown field, and one over the limits (a 100-row list in a 100-row list in a 100-row list).
    let too_big = "{ companies { nodes { contacts { nodes { deals { nodes { hubspotId } } } } } } }";
    for query in ["{ contacts { nope } }", too_big] {
        let hash = sha256_hex(query);
        let refused = post(&app, json!({ "query": query, "extensions": persisted(&hash) })).await;
        assert!(refused["errors"][0].is_object(), "{refused:#}");
        assert_eq!(code(&post(&app, json!({ "extensions": persisted(&hash) })).await), "PERSISTED_QUERY_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_redis_run_a_query_persisted_on_another() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let redis = tests::redis_server::isolated(&tests::redis_server::redis_url());
    let first = gateway(&mirror, Mode::Any, Some(redis.clone())).await;
    let second = gateway(&mirror, Mode::Any, Some(redis)).await;
    let alone = gateway(&mirror, Mode::Any, None).await;
    let hash = sha256_hex(COUNT);

    let sent = post(&first, json!({ "query": COUNT, "extensions": persisted(&hash) })).await;
    assert_eq!(contacts(&sent), &json!(mirror.portal.contacts.len()));
    let elsewhere = post(&second, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(contacts(&elsewhere), &json!(mirror.portal.contacts.len()));
    let unshared = post(&alone, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(code(&unshared), "PERSISTED_QUERY_NOT_FOUND", "a process without Redis keeps its own");
}

/// Writes `files` (name, text) into a temporary folder; their paths, and the folder to keep alive.
fn write(files: &[(&str, &str)]) -> (Vec<PathBuf>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let paths = files
        .iter()
        .map(|(name, text)| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    (paths, dir)
}

const TWO_OPERATIONS: &str = "
query Contacts { contacts { totalCount } }

query Deals { deals { totalCount } }
";

on_both!(the_safelist_runs_registered_operations_only, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (paths, _dir) = write(&[("dashboard.graphql", TWO_OPERATIONS)]);
    let added = registered::add_files(&mirror.db.db, &paths).await.unwrap();
    assert_eq!(added.len(), 1);
    let (document, new) = &added[0];
    assert!(new);
    assert_eq!(document.names, ["Contacts", "Deals"]);
    assert_eq!(document.text, TWO_OPERATIONS.trim());
    assert_eq!(document.sha256, document_hash(TWO_OPERATIONS));
    let listed = registered::list(&mirror.db.db).await.unwrap();
    assert_eq!((listed.len(), listed[0].name.as_str()), (1, "Contacts, Deals"));
    let operations = Operations::load(&mirror.db.db, Mode::Safelist, None).await.unwrap();
    let app = app_with(&mirror, operations.clone()).await;

    // Both operations run, by the text as registered, by the file as read, and by the hash alone.
    for text in [TWO_OPERATIONS.trim(), TWO_OPERATIONS] {
        let contacts = post(&app, json!({ "query": text, "operationName": "Contacts" })).await;
        assert_eq!(contacts["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()), "{contacts:#}");
        let deals = post(&app, json!({ "query": text, "operationName": "Deals" })).await;
        assert_eq!(deals["data"]["deals"]["totalCount"], json!(mirror.portal.deals.len()), "{deals:#}");
    }
    let by_hash = post(&app, json!({ "operationName": "Deals", "extensions": persisted(&document.sha256) })).await;
    assert_eq!(by_hash["data"]["deals"]["totalCount"], json!(mirror.portal.deals.len()), "{by_hash:#}");
    let with_hash = json!({ "query": TWO_OPERATIONS, "operationName": "Deals", "extensions": persisted(&sha256_hex(TWO_OPERATIONS)) });
    assert!(post(&app, with_hash).await["data"]["deals"].is_object(), "a registered text sent with its hash runs");

    // Anything else is refused before it is parsed, naming the setting, and sending it with its hash registers nothing.
    let refused = post(&app, json!({ "query": COUNT })).await;
    assert_eq!(code(&refused), "OPERATION_NOT_ALLOWED");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("OPERATIONS=safelist"), "{refused:#}");
    let unparsable = post(&app, json!({ "query": "{ contacts {" })).await;
    assert_eq!(code(&unparsable), "OPERATION_NOT_ALLOWED");
    let hash = sha256_hex(COUNT);
    let registering = post(&app, json!({ "query": COUNT, "extensions": persisted(&hash) })).await;
    assert_eq!(code(&registering), "OPERATION_NOT_ALLOWED");
    assert!(registering["errors"][0]["message"].as_str().unwrap().contains("server operations add"));
    assert_eq!(code(&post(&app, json!({ "extensions": persisted(&hash) })).await), "OPERATION_NOT_ALLOWED");

    // A removed operation is refused once the gateway has read the table again (every few seconds).
    assert!(registered::remove(&mirror.db.db, &document.sha256).await.unwrap());
    operations.registered().reload().await.unwrap();
    let removed = post(&app, json!({ "query": TWO_OPERATIONS, "operationName": "Contacts" })).await;
    assert_eq!(code(&removed), "OPERATION_NOT_ALLOWED");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_registered_while_serving_runs_at_once() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    // An unknown hash reads the table again (at most once a second when serving; here, every time).
    let operations =
        Operations::load_reading_on_miss(&mirror.db.db, Mode::Safelist, None, std::time::Duration::ZERO).await.unwrap();
    let app = app_with(&mirror, operations).await;
    assert_eq!(code(&post(&app, json!({ "query": COUNT })).await), "OPERATION_NOT_ALLOWED");
    let (paths, _dir) = write(&[("count.graphql", COUNT)]);
    registered::add_files(&mirror.db.db, &paths).await.unwrap();
    assert_eq!(contacts(&post(&app, json!({ "query": COUNT })).await), &json!(mirror.portal.contacts.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_schema_refuses_registers_no_file() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let create = r#"mutation Create { createContact(input: {email: "new@example.com"}) { hubspotId } }"#;
    let (paths, _dir) = write(&[("create.graphql", create), ("typo.graphql", "query Typo { contacts { nope } }")]);
    let refused = registered::add_files(&mirror.db.db, &paths).await.unwrap_err();
    assert!(matches!(refused, RegisterError::Document { .. }), "{refused}");
    let message = refused.to_string();
    assert!(message.contains("typo.graphql") && message.contains("Typo") && message.contains("nope"), "{message}");
    assert!(registered::list(&mirror.db.db).await.unwrap().is_empty());

    // A mutation is checked without running: the check has no portal to write to, so running it would fail.
    let added = registered::add_files(&mirror.db.db, &paths[..1]).await.unwrap();
    assert_eq!(added[0].0.names, ["Create"]);
    let again = registered::add_files(&mirror.db.db, &paths[..1]).await.unwrap();
    assert!(!again[0].1, "registering a document twice keeps the first");
    assert_eq!(registered::list(&mirror.db.db).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safelist_refuses_a_subscription_on_a_socket_too() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let mut subscriber = socket(gateway(&mirror, Mode::Safelist, None).await).await;
    subscriber.subscribe("subscription { healthScoreChanged { cursor } }", json!({})).await;
    let refused = subscriber.message().await.expect("an answer");
    // async-graphql sends a refusal before running as a result holding only errors.
    assert!(refused["payload"]["data"].is_null(), "{refused}");
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "OPERATION_NOT_ALLOWED", "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_persisted_on_a_socket_runs_by_its_hash_there_and_over_http() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = gateway(&mirror, Mode::Any, None).await;
    let mut socket = socket(app.clone()).await;
    let hash = sha256_hex(COUNT);
    let total = json!(mirror.portal.contacts.len());

    socket.start("1", json!({ "extensions": persisted(&hash) })).await;
    let unknown = socket.message().await.expect("an answer");
    assert_eq!(unknown["payload"]["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{unknown}");
    assert_eq!(socket.message().await.expect("its end")["type"], "complete");

    socket.start("2", json!({ "query": COUNT, "extensions": persisted(&hash) })).await;
    let sent = socket.message().await.expect("an answer");
    assert_eq!(sent["payload"]["data"]["contacts"]["totalCount"], total, "{sent}");
    assert_eq!(socket.message().await.expect("its end")["type"], "complete");

    // Kept once it answered: by its hash alone on the socket, and over HTTP.
    socket.start("3", json!({ "extensions": persisted(&hash) })).await;
    let by_hash = socket.message().await.expect("an answer");
    assert_eq!(by_hash["id"], "3", "{by_hash}");
    assert_eq!(by_hash["payload"]["data"]["contacts"]["totalCount"], total, "{by_hash}");
    assert_eq!(contacts(&post(&app, json!({ "extensions": persisted(&hash) })).await), &total);
}
