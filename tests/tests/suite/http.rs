//! The router: GraphQL over HTTP, GraphiQL, health, metrics, and which portal a request reads.

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use server::{http::AppState, metrics::Metrics};
use tests::{Backend, Mirror, TestDb, small_spec};
use tower::ServiceExt;

async fn app(db: &TestDb) -> axum::Router {
    server::http::app(AppState::new(db.db.clone(), Metrics::default()).await.unwrap())
}

async fn post(app: &axum::Router, query: &str, portal: Option<&str>) -> Value {
    serde_json::from_str(&post_text(app, query, portal).await).unwrap()
}

/// The answer as sent, its fields in the order the gateway wrote them.
async fn post_text(app: &axum::Router, query: &str, portal: Option<&str>) -> String {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(portal) = portal {
        request = request.header("X-HubSpot-Portal-Id", portal);
    }
    let body = Body::from(json!({ "query": query }).to_string());
    let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    String::from_utf8(to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap()
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let request = Request::get(path).header(header::ACCEPT, "text/html").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, String::from_utf8(to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap())
}

#[tokio::test]
async fn graphql_graphiql_health_and_metrics_answer() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = app(&mirror.db).await;

    let data = post(&app, "{ contacts(first: 1) { totalCount } }", None).await;
    assert_eq!(data["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()));

    let (status, html) = get(&app, "/graphql").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("graphiql"), "GET /graphql serves GraphiQL");

    assert_eq!(get(&app, "/healthz").await, (StatusCode::OK, "ok".to_owned()));

    let (_, metrics) = get(&app, "/metrics").await;
    assert!(metrics.contains("gateway_graphql_requests_total 1"), "{metrics}");
    // SQLite's heap: the mirror's connections hold some of it, and the highest is never below the present.
    let gauge = |name: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
        line[name.len() + 1..].parse().unwrap()
    };
    let (heap, peak) = (gauge("gateway_sqlite_heap_bytes"), gauge("gateway_sqlite_heap_peak_bytes"));
    assert!(heap > 0.0 && peak >= heap, "{heap} {peak}");
}

#[tokio::test]
async fn an_answer_lists_fields_in_the_order_the_query_asks_for_them() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = app(&mirror.db).await;
    // `totalCount` runs a count statement after the page is loaded; it still comes first when asked first.
    let query = "{ contacts(first: 2) { totalCount edges { cursor node { email hubspotId owner { email } } } \
                 pageInfo { hasNextPage } } }";
    let text = post_text(&app, query, None).await;
    let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("no {key} in {text}"));
    let order = ["totalCount", "edges", "cursor", "node", "email", "hubspotId", "owner", "pageInfo"];
    for pair in order.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {} in {text}", pair[0], pair[1]);
    }
}

#[tokio::test]
async fn each_request_reads_only_its_portal() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let first = tests::generator::generate(&small_spec(1));
    let second =
        tests::generator::generate(&tests::generator::PortalSpec::sized(2, 99, 40, 10, 20, tests::fixed_now()));
    server::mirror::write_portal(&db.db, &first).await.unwrap();
    server::mirror::write_portal(&db.db, &second).await.unwrap();
    let app = app(&db).await;
    let count = "{ contacts { totalCount } }";

    let ambiguous = post(&app, count, None).await;
    assert_eq!(ambiguous["errors"][0]["extensions"]["code"], "PORTAL_REQUIRED");

    let one = post(&app, count, Some("1")).await;
    assert_eq!(one["data"]["contacts"]["totalCount"], json!(first.contacts.len()));
    let two = post(&app, count, Some("2")).await;
    assert_eq!(two["data"]["contacts"]["totalCount"], json!(second.contacts.len()));

    // The same id exists in both portals (ids are generated alike); each portal sees only its own row.
    let id = second.contacts[0].id;
    let by_id = format!("{{ contact(id: \"{id}\") {{ email }} }}");
    let email =
        |p: &hubspot::Portal| p.contacts.iter().find(|c| c.id == id).and_then(|c| c.properties["email"].clone());
    assert_eq!(post(&app, &by_id, Some("2")).await["data"]["contact"]["email"], json!(email(&second)));
    assert_eq!(post(&app, &by_id, Some("1")).await["data"]["contact"]["email"], json!(email(&first)));

    let unknown = post(&app, count, Some("3")).await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "PORTAL_REQUIRED");
    assert!(unknown["errors"][0]["message"].as_str().unwrap().contains("X-HubSpot-Portal-Id"));
}

#[tokio::test]
async fn an_empty_mirror_says_so() {
    let db = TestDb::migrated(Backend::Sqlite).await;
    let response = post(&app(&db).await, "{ contacts { totalCount } }", None).await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "NO_PORTAL");
}
