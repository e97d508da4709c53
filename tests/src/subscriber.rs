//! A GraphQL-over-WebSocket subscriber for tests and the benchmark, speaking `graphql-transport-ws` or the legacy
//! `graphql-ws` to the gateway's `/graphql`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A subscriber speaking `protocol` (`graphql-transport-ws` or the legacy `graphql-ws`).
pub struct Subscriber {
    socket: Socket,
    legacy: bool,
}

impl Subscriber {
    pub async fn connect(url: &str, protocol: &str, init: Value) -> Result<Self, String> {
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

    pub async fn subscribe(&mut self, query: &str, variables: Value) {
        self.subscribe_as("1", query, variables).await;
    }

    /// Subscribes under operation id `id` (several may be open on one socket).
    pub async fn subscribe_as(&mut self, id: &str, query: &str, variables: Value) {
        self.start(id, json!({ "query": query, "variables": variables })).await;
    }

    /// Starts operation `id` with `payload`, a GraphQL request (`query`, `variables`, `extensions`).
    pub async fn start(&mut self, id: &str, payload: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        let message = json!({ "id": id, "type": kind, "payload": payload });
        self.socket.send(Message::text(message.to_string())).await.unwrap();
    }

    /// Ends subscription `id` (`graphql-transport-ws`), and returns once the gateway has read that: it answers a
    /// ping sent after it only when it read everything before.
    pub async fn complete(&mut self, id: &str) {
        for message in [json!({ "id": id, "type": "complete" }), json!({ "type": "ping" })] {
            self.socket.send(Message::text(message.to_string())).await.unwrap();
        }
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await;
            let Ok(Some(Ok(Message::Text(text)))) = frame else { panic!("no pong: {frame:?}") };
            if serde_json::from_str::<Value>(&text).unwrap()["type"] == "pong" {
                return;
            }
        }
    }

    /// The next protocol message (pings and keep-alives skipped); `None` when the socket closed.
    pub async fn message(&mut self) -> Option<Value> {
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

    /// The code of the close frame that ends the socket, skipping messages before it; `None` when it ends without
    /// one (cut) or says nothing for 30 s.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.socket.next()).await.ok()??.ok()?;
            if let Message::Close(frame) = frame {
                return frame.map(|frame| u16::from(frame.code));
            }
        }
    }

    /// The next change the subscription delivers (the value of its one field).
    pub async fn change(&mut self) -> Value {
        self.next_change().await.expect("a change")
    }

    /// The next change, or `None` once the socket closed or stayed silent for 10 s.
    pub async fn next_change(&mut self) -> Option<Value> {
        let message = self.message().await?;
        let kind = if self.legacy { "data" } else { "next" };
        assert_eq!(message["type"], kind, "{message}");
        let data = message["payload"]["data"].as_object().unwrap_or_else(|| panic!("no data in {message}")).clone();
        data.into_iter().next().map(|(_, change)| change)
    }

    /// The next insight change about an insight of `kind` (a rescoring may raise or resolve others beside it).
    pub async fn insight_change(&mut self, kind: &str) -> Value {
        loop {
            let change = self.change().await;
            if change["insight"]["type"] == kind {
                return change;
            }
        }
    }
}
