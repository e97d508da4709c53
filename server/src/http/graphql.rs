//! GraphQL over HTTP, and subscriptions over a WebSocket at the same path (`graphql-transport-ws` and the legacy
//! `graphql-ws`): each request, and each socket at its `connection_init`, is authenticated and scoped to one portal
//! its credential grants first.

use async_graphql::{
    Data, ErrorExtensions,
    http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::{
    Json,
    extract::{FromRequestParts, Request, State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use schema::Scope;
use serde_json::Value;

use super::{
    AppState,
    portal::{PORTAL_HEADER, PortalError},
};
use crate::auth::{AuthError, Caller};

/// GraphiQL; on a loopback address it sends the local admin key, so a newcomer's first query just works.
fn graphiql(key: Option<&str>) -> Html<String> {
    let bearer = key.map(|key| format!("Bearer {key}"));
    let source = GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql");
    let source = match &bearer {
        Some(bearer) => source.header("Authorization", bearer).ws_connection_param("Authorization", bearer),
        None => source,
    };
    Html(source.title("HubSpot GraphQL gateway").finish())
}

/// A refusal as a GraphQL response with `status`.
fn refused(status: StatusCode, error: async_graphql::Error) -> Response {
    let mut refusal = async_graphql::ServerError::new(error.message, None);
    refusal.extensions = error.extensions;
    let response = async_graphql::Response::from_errors(vec![refusal]);
    (status, Json(response)).into_response()
}

fn unauthenticated(err: &AuthError) -> Response {
    let error = async_graphql::Error::new(err.to_string()).extend_with(|_, e| e.set("code", err.code()));
    let mut response = refused(StatusCode::UNAUTHORIZED, error);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(err.challenge()));
    response
}

/// The caller of a request and the portal it reads, or the answer that refuses it: 401 without a valid
/// credential, 403 for a portal the credential does not grant.
async fn admit(state: &AppState, headers: &HeaderMap) -> Result<(Caller, i64), Response> {
    let caller = state.auth.caller(&state.db, headers).await.map_err(|err| unauthenticated(&err))?;
    match state.portals.resolve(&state.db, headers, &caller.portals).await {
        Ok(portal) => Ok((caller, portal)),
        Err(err @ PortalError::Forbidden(_)) => Err(refused(StatusCode::FORBIDDEN, err.extend())),
        Err(err) => Err(refused(StatusCode::OK, err.extend())),
    }
}

/// GraphiQL for a browser; a GraphQL WebSocket for a client that asks to upgrade.
pub(super) async fn graphiql_or_socket(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrading = parts.headers.get(header::UPGRADE).and_then(|v| v.to_str().ok());
    if !upgrading.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return graphiql(state.graphiql_key.as_deref()).into_response();
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
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let schema = state.schema.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| connection_scope(state, headers, payload))
                .serve()
        })
        .into_response()
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
    let scope = Scope::new(state.db.clone(), portal_id, caller.role).with_feed(state.feed.clone());
    let mut data = Data::default();
    data.insert(scope);
    Ok(data)
}

pub(super) async fn execute(State(state): State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> Response {
    state.metrics.graphql_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (caller, portal_id) = match admit(&state, &headers).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let scope = Scope::new(state.db.clone(), portal_id, caller.role).with_upstream(state.upstream.clone());
    let request = request.into_inner().data(scope);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}
