//! `healthScoreChanged` over a WebSocket at `/graphql`: both subprotocols receive a change the moment a rescoring
//! makes it; a subscriber that reconnects with its last cursor receives what it missed; two gateways sharing one
//! Redis deliver a change made on one to a subscriber of the other; the connection's portal is checked.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use generator::ObjectType;
use serde_json::{Value, json};
use server::{
    health::{Health, Weights, notify::Notifier},
    http::{AppState, app},
    metrics::Metrics,
    mirror::events::{self, Change},
};
use tests::{
    Backend, Mirror,
    redis_server::{isolated, redis_url},
};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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

/// A subscriber speaking `protocol` (`graphql-transport-ws` or the legacy `graphql-ws`).
struct Subscriber {
    socket: Socket,
    legacy: bool,
}

impl Subscriber {
    async fn connect(url: &str, protocol: &str, init: Value) -> Result<Self, String> {
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocol).unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| e.to_string())?;
        socket.send(Message::text(json!({ "type": "connection_init", "payload": init }).to_string())).await.unwrap();
        let mut subscriber = Self { socket, legacy: protocol == "graphql-ws" };
        match subscriber.message().await {
            Some(ack) if ack["type"] == "connection_ack" => Ok(subscriber),
            other => Err(format!("no connection_ack: {other:?}")),
        }
    }

    async fn subscribe(&mut self, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        let message = json!({ "id": "1", "type": kind, "payload": { "query": CHANGES, "variables": variables } });
        self.socket.send(Message::text(message.to_string())).await.unwrap();
    }

    /// The next protocol message (pings and keep-alives skipped); `None` when the socket closed.
    async fn message(&mut self) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await.ok()??.ok()?;
            match frame {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if !matches!(message["type"].as_str(), Some("ka" | "ping" | "pong")) {
                        return Some(message);
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// The next change the subscription delivers.
    async fn change(&mut self) -> Value {
        let message = self.message().await.expect("a change");
        let kind = if self.legacy { "data" } else { "next" };
        assert_eq!(message["type"], kind, "{message}");
        message["payload"]["data"]["healthScoreChanged"].clone()
    }
}

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
    server::health::full_pass(&mirror.db.db, portal, Weights::default(), &json!({ "kind": "fullPass" })).await.unwrap();
    let company = server::health::clients(&mirror.db.db, portal, server::health::Subject::Company).await.unwrap()[0];
    (mirror, company)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_subscribers_of_both_protocols_and_a_reconnect_misses_nothing() {
    let (mirror, company) = scored_mirror(Backend::Postgres).await;
    let notifier = Notifier::in_process();
    let health = Health { db: mirror.db.db.clone(), weights: Weights::default(), notifier: Some(notifier.clone()) };
    let url = serve(&mirror, &notifier).await;
    let init = json!({ "X-HubSpot-Portal-Id": mirror.portal.portal_id.to_string() });
    let mut modern = Subscriber::connect(&url, "graphql-transport-ws", init.clone()).await.unwrap();
    let mut legacy = Subscriber::connect(&url, "graphql-ws", init.clone()).await.unwrap();
    let company_id = json!(format!("{company}"));
    modern.subscribe(json!({ "company": company_id })).await;
    legacy.subscribe(json!({ "company": company_id })).await;
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
    back.subscribe(json!({ "company": company_id, "after": cursor })).await;
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
    subscriber.subscribe(json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The change is made on the first gateway, which serves no subscriber.
    let health = Health { db: mirror.db.db.clone(), weights: Weights::default(), notifier: Some(first) };
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
