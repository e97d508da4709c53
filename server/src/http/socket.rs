//! Subscriptions over a WebSocket at `/graphql` (`graphql-transport-ws` and the legacy `graphql-ws`): a socket from
//! a foreign `Origin` is refused, and each is authenticated and scoped to one portal at its `connection_init`. When
//! the gateway stops, each socket is sent a close frame 1001 ("going away"), so its client reconnects, to another
//! replica, with its `after` cursor.

use async_graphql::{Data, ErrorExtensions, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{
        FromRequestParts, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket, close_code},
    },
    http::{HeaderMap, HeaderValue, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use futures::{SinkExt, StreamExt, channel::mpsc, stream::SplitSink};
use schema::Scope;
use serde_json::Value;

use super::{AppState, portal::PORTAL_HEADER};
use crate::stopping::Stopping;

/// Messages the session has said and the socket not yet sent.
const OUTGOING: usize = 16;

/// Upgrades the request to a GraphQL WebSocket.
pub(super) async fn upgrade(state: AppState, mut parts: Parts) -> Response {
    if !state.bounds.socket_origin_allowed(&parts.headers) {
        return (StatusCode::FORBIDDEN, "this Origin may not open a socket here: add it to CORS_ORIGINS")
            .into_response();
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => return (status, "a GraphQL WebSocket subprotocol is required").into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let headers = parts.headers;
    // A message is a request: bounded as a POST body is (a larger one closes the socket).
    let max = state.bounds.max_body;
    // Counted from the upgrade on, so a stop waits for this socket's close frame too.
    let running = state.stopping.enter("websocket");
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let (schema, stopping) = (state.schema.clone(), state.stopping.clone());
            let (sink, stream) = socket.split();
            let (to_client, outgoing) = mpsc::channel(OUTGOING);
            let session = GraphQLWebSocket::new_with_pair(to_client, stream, schema, protocol)
                .on_connection_init(move |payload| connection_scope(state, headers, payload))
                .serve();
            relay(session, outgoing, sink, &stopping).await;
            drop(running);
        })
        .into_response()
}

/// Carries what the session says to the client until the session ends, or until the gateway stops: then the session
/// is dropped, what it said is sent, and the socket is closed with 1001, "going away".
async fn relay(
    session: impl Future<Output = ()>,
    mut outgoing: mpsc::Receiver<Message>,
    mut sink: SplitSink<WebSocket, Message>,
    stopping: &Stopping,
) {
    let mut session = Box::pin(session);
    let mut ended = false;
    loop {
        tokio::select! {
            biased;
            message = outgoing.next() => match message {
                Some(message) => {
                    if sink.send(message).await.is_err() {
                        return;
                    }
                }
                // The session ended and everything it said is sent.
                None => return,
            },
            () = &mut session, if !ended => ended = true,
            () = stopping.stopped() => break,
        }
    }
    drop(session);
    while let Some(message) = outgoing.next().await {
        if sink.send(message).await.is_err() {
            return;
        }
    }
    let frame =
        CloseFrame { code: close_code::AWAY, reason: "the gateway is stopping; reconnect with your cursor".into() };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// The caller check of HTTP requests for a socket, from the `connection_init` payload (browsers cannot set a
/// socket's headers): its `Authorization` (else the upgrade request's), and the portal it names
/// (`{"X-HubSpot-Portal-Id": "…"}`), else the upgrade request's header, else the only one granted.
async fn connection_scope(state: AppState, mut headers: HeaderMap, payload: Value) -> async_graphql::Result<Data> {
    let field = |names: &[&str]| {
        payload.as_object().and_then(|fields| {
            fields.iter().find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n))).map(|(_, v)| v.clone())
        })
    };
    for (names, header) in
        [(&[PORTAL_HEADER, "portalId"][..], PORTAL_HEADER), (&["authorization"][..], "authorization")]
    {
        if let Some(value) = field(names) {
            let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            let value = HeaderValue::from_str(&text).map_err(|_| {
                async_graphql::Error::new(format!("the connection_init payload's {header} is not text"))
            })?;
            headers.insert(header, value);
        }
    }
    let caller = state
        .auth
        .caller(&state.db, &headers)
        .await
        .map_err(|err| async_graphql::Error::new(err.to_string()).extend_with(|_, e| e.set("code", err.code())))?;
    let portal_id = state.portals.resolve(&state.db, &headers, &caller.portals).await.map_err(|err| err.extend())?;
    let scope = Scope::new(state.db.clone(), portal_id, caller.role)
        .with_caller(caller.id.clone())
        .with_feed(state.feed.clone());
    let mut data = Data::default();
    data.insert(scope);
    data.insert(state.subscriptions.slots(&state.bounds, &caller.id));
    Ok(data)
}
