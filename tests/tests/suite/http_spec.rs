//! GraphQL over HTTP by the spec: npm `graphql-http`'s conformance audit passes with no error and no warning, and
//! GET runs queries from the query string (never mutations: 405) while a browser asking for a page gets GraphiQL.

use std::path::PathBuf;

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use server::{
    http::{AppState, app},
    metrics::Metrics,
};
use tests::{Backend, Mirror};
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_over_http_audit_passes_without_errors_or_warnings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
    assert!(
        dir.join("node_modules/graphql-http").exists(),
        "{} has no graphql-http: run `make node-client` (make test does)",
        dir.display()
    );
    let mirror = Mirror::small(Backend::Sqlite).await;
    let router = app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let output =
        tokio::process::Command::new("node").arg(dir.join("audit.mjs")).arg(&url).output().await.expect("node runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the audit found errors or warnings:\n{printed}");
    let summary = printed.lines().find(|l| l.starts_with("audit: ")).unwrap_or_else(|| panic!("no summary: {printed}"));
    let ok: usize = summary["audit: ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(ok >= 40, "most audits ran and passed: {summary}");
    assert!(summary.contains(" 0 warnings, 0 errors"), "{summary}");
    println!("{printed}");
}

/// `text` percent-encoded for a query string.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn get(app: &axum::Router, uri: &str, accept: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let request = Request::get(uri).header(header::ACCEPT, accept).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries_from_the_query_string_and_never_mutations() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap());

    let (status, headers, body) =
        get(&app, "/graphql?query=%7B%20contacts%20%7B%20totalCount%20%7D%20%7D", "application/json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()));

    let variables = "query=query(%24n%3A%20Int)%20%7B%20contacts(first%3A%20%24n)%20%7B%20nodes%20%7B%20email%20%7D%20%7D%20%7D&variables=%7B%22n%22%3A2%7D";
    let (status, _, body) = get(&app, &format!("/graphql?{variables}"), "application/graphql-response+json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["data"]["contacts"]["nodes"].as_array().unwrap().len(), 2);

    let mutation = "/graphql?query=mutation%20%7B%20replayWebhookEvents%20%7D";
    let (status, headers, _) = get(&app, mutation, "application/graphql-response+json").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "POST");

    // A document that does not parse is a request error: 400 with no data for graphql-response+json, 200 for JSON.
    let (status, _, body) = get(&app, "/graphql?query=%7B", "application/graphql-response+json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(serde_json::from_str::<Value>(&body).unwrap().get("data").is_none(), "{body}");
    assert_eq!(get(&app, "/graphql?query=%7B", "application/json").await.0, StatusCode::OK);

    // A persisted query runs by its hash alone from a GET, so a CDN may cache it.
    let query = "{ contacts { totalCount } }";
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(query.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let register = json!({ "query": query, "extensions": extensions }).to_string();
    let request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json").body(Body::from(register));
    assert_eq!(app.clone().oneshot(request.unwrap()).await.unwrap().status(), StatusCode::OK);
    let by_hash = format!("/graphql?extensions={}", urlencode(&extensions.to_string()));
    let (status, _, body) = get(&app, &by_hash, "application/json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()), "{body}");

    let (status, headers, body) = get(&app, "/graphql", "text/html,application/xhtml+xml").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(body.contains("graphiql"));
}
