//! What no caller can do over HTTP: run a request a page on another site could send without a preflight (text,
//! form and untyped bodies are 415), send more than the body limit (413), read answers cross-site from an origin
//! not allowed, open a socket from a foreign `Origin`, run past the bound of requests in flight (503 with
//! `Retry-After`), or hold a connection by trickling its headers.

use std::time::Duration;

use axum::{
    body::{Body, to_bytes},
    http::{HeaderValue, Request, StatusCode, header},
};
use serde_json::{Value, json};
use server::{
    http::{AppState, app, bounds::HttpBounds, workers},
    metrics::Metrics,
};
use tests::{Backend, Mirror, subscriber::Subscriber};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const ALLOWED: &str = "https://app.example.com";

fn bounds() -> HttpBounds {
    HttpBounds { cors_origins: vec![HeaderValue::from_static(ALLOWED)], ..HttpBounds::default() }
}

async fn router(mirror: &Mirror, bounds: HttpBounds) -> axum::Router {
    app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap().with_bounds(bounds))
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn post(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post("/graphql");
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request.body(body.into()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_json_bodies_within_the_limit_run() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = router(&mirror, bounds()).await;
    let query = json!({ "query": "{ contacts { totalCount } }" }).to_string();

    for content_type in [Some("text/plain"), Some("multipart/form-data; boundary=x"), None] {
        let (status, _, body) = send(&app, post(content_type, query.clone())).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }
    let (status, _, body) = send(&app, post(Some("application/json; charset=utf-8"), query.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()));

    // A million ids in an `in` list do not fit in a body.
    let ids: Vec<String> = (0..1_000_000).map(|i| i.to_string()).collect();
    let huge = json!({ "query": "query($ids: [ID!]) { contacts(where: {hubspotId: {in: $ids}}) { totalCount } }",
                       "variables": { "ids": ids } });
    let (status, _, body) = send(&app, post(Some("application/json"), huge.to_string())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["errors"][0]["extensions"]["limit"], "bodySize");
    assert_eq!(body["errors"][0]["extensions"]["max"], json!(256 * 1024));

    let (status, _, body) = send(&app, post(Some("application/json"), "{\"query\": ")).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BAD_REQUEST"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_origins_get_cors_answers_and_sockets() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let app = router(&mirror, bounds()).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/graphql")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
            .body(Body::empty())
            .unwrap()
    };
    let (_, headers, _) = send(&app, preflight(ALLOWED)).await;
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ALLOWED);
    assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("authorization"));
    let (_, headers, _) = send(&app, preflight("https://evil.example.com")).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "another origin is not allowed");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let socket = |origin: &'static str| {
        let url = format!("ws://{addr}/graphql");
        async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
            request.headers_mut().insert(header::ORIGIN, HeaderValue::from_static(origin));
            tokio_tungstenite::connect_async(request).await.map(drop).map_err(|e| e.to_string())
        }
    };
    let refused = socket("https://evil.example.com").await.unwrap_err();
    assert!(refused.contains("403"), "{refused}");
    socket(ALLOWED).await.expect("an allowed origin opens a socket");
    Subscriber::connect(&format!("ws://{addr}/graphql"), "graphql-transport-ws", json!({})).await.expect("no Origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_of_requests_in_flight_a_request_is_told_to_retry() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let state = AppState::new(mirror.db.db.clone(), Metrics::default())
        .await
        .unwrap()
        .with_bounds(HttpBounds { max_in_flight: 1, ..HttpBounds::default() });
    let in_flight = state.in_flight.clone();
    let app = app(state);
    // A request whose body never ends holds the one place until its sender is dropped.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = Body::from_stream(tokio_stream_of(receiver));
    let held = tokio::spawn(app.clone().oneshot(post(Some("application/json"), body)));
    while in_flight.0.available_permits() > 0 {
        tokio::task::yield_now().await;
    }
    let (status, headers, _) = send(&app, post(Some("application/json"), "{}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    drop(sender);
    held.await.unwrap().unwrap();
    let query = json!({ "query": "{ contacts { totalCount } }" }).to_string();
    assert_eq!(send(&app, post(Some("application/json"), query)).await.0, StatusCode::OK, "the place is free again");
}

/// The items of `receiver` as a stream.
fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off_while_others_are_served() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let bounds = HttpBounds { header_timeout: Duration::from_millis(500), ..HttpBounds::default() };
    let state = AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap().with_bounds(bounds);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = mirror.db.url.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        workers::serve(
            listener,
            state,
            workers::Workers::new(1, &url),
            async move { stopped.await.unwrap_or_default() },
        )
        .await
    });

    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: gateway\r\n").await.unwrap();
    // A header byte every 100 ms, never finishing the headers, until the gateway ends the connection; what it said.
    let trickle = async {
        let (mut buffer, mut said) = ([0u8; 256], Vec::new());
        loop {
            tokio::select! {
                read = slow.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return said,
                    Ok(n) => said.extend_from_slice(&buffer[..n]),
                },
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    let _ = slow.write_all(b"X").await;
                }
            }
        }
    };
    let served = async {
        let response = reqwest::Client::new()
            .post(format!("http://{addr}/graphql"))
            .json(&json!({ "query": "{ contacts { totalCount } }" }))
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    };
    let (cut, answer) = tokio::join!(tokio::time::timeout(Duration::from_secs(20), trickle), served);
    assert_eq!(answer["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()), "others are served");
    let said = cut.expect("the trickling client is cut off, not left open");
    let said = String::from_utf8_lossy(&said);
    assert!(said.is_empty() || said.starts_with("HTTP/1.1 408"), "closed, or told 408 and closed: {said}");
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_graphiql_off_there_is_no_page_and_no_introspection() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let introspect = json!({ "query": "{ __schema { queryType { name } } }" }).to_string();
    let page = || Request::get("/graphql").header(header::ACCEPT, "text/html").body(Body::empty()).unwrap();

    let on = app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap().with_graphiql(true));
    let response = on.clone().oneshot(page()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, _, body) = send(&on, post(Some("application/json"), introspect.clone())).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");

    let off = app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap().with_graphiql(false));
    let response = off.clone().oneshot(page()).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (_, _, body) = send(&off, post(Some("application/json"), introspect)).await;
    assert!(body["data"]["__schema"].is_null() || body["errors"].is_array(), "no introspection: {body}");
    assert_ne!(body["data"]["__schema"]["queryType"]["name"], "Query", "no introspection: {body}");
    let query = json!({ "query": "{ contacts { totalCount } }" }).to_string();
    let (_, _, body) = send(&off, post(Some("application/json"), query)).await;
    assert_eq!(body["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()), "queries still run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_and_a_credential_hold_at_most_their_subscriptions() {
    const CHANGES: &str = "subscription { healthScoreChanged { cursor } }";
    let mirror = Mirror::small(Backend::Sqlite).await;
    let bounds =
        HttpBounds { subscriptions_per_connection: 2, subscriptions_per_credential: 3, ..HttpBounds::default() };
    let notifier = server::health::notify::Notifier::in_process();
    let state = AppState::new(mirror.db.db.clone(), Metrics::default())
        .await
        .unwrap()
        .with_bounds(bounds)
        .with_feed(Some(std::sync::Arc::new(notifier)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    // The refusal of subscription `id`: the socket's next message but the `complete` that ends an earlier refusal,
    // so the subscriptions before it were taken.
    async fn refused(socket: &mut Subscriber, id: &str, limit: &str) {
        let message = loop {
            let message = socket.message().await.expect("a message");
            if message["type"] != "complete" {
                break message;
            }
        };
        assert_eq!(message["id"], id, "{message}");
        assert_eq!(message["payload"]["errors"][0]["extensions"]["limit"], limit, "{message}");
    }

    let mut first = Subscriber::connect(&url, "graphql-transport-ws", json!({})).await.unwrap();
    for id in ["1", "2", "3"] {
        first.subscribe_as(id, CHANGES, json!({})).await;
    }
    refused(&mut first, "3", "subscriptions").await;
    let mut second = Subscriber::connect(&url, "graphql-transport-ws", json!({})).await.unwrap();
    for id in ["1", "2"] {
        second.subscribe_as(id, CHANGES, json!({})).await;
    }
    refused(&mut second, "2", "subscriptionsPerCredential").await;

    // An ended subscription gives its slots back: the credential's freed one is taken again (by `3`: `4` then meets
    // the second socket's own bound), and only once (a third socket has none).
    first.complete("1").await;
    for id in ["3", "4"] {
        second.subscribe_as(id, CHANGES, json!({})).await;
    }
    refused(&mut second, "4", "subscriptions").await;
    let mut third = Subscriber::connect(&url, "graphql-transport-ws", json!({})).await.unwrap();
    third.subscribe_as("1", CHANGES, json!({})).await;
    refused(&mut third, "1", "subscriptionsPerCredential").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_message_over_the_body_limit_closes_the_socket() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mirror = Mirror::small(Backend::Sqlite).await;
    let bounds = HttpBounds { max_body: 64 * 1024, ..HttpBounds::default() };
    let state = AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap().with_bounds(bounds);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(state)).await });

    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text(json!({ "type": "connection_init", "payload": {} }).to_string())).await.unwrap();
    let ack = socket.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    let aliases: Vec<String> = (0..3_000).map(|i| format!("a{i}: crmSummary {{ contacts }}")).collect();
    let query = format!("{{ {} }}", aliases.join(" "));
    let message = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }).to_string();
    assert!(message.len() > 64 * 1024);
    let _ = socket.send(Message::text(message)).await;
    // The gateway closes the socket rather than read the message: the stream ends (or errors), with no answer.
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("closed, not left open") {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => panic!("an answer to a message over the limit: {other:?}"),
        }
    }
}
