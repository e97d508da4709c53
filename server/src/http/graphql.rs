//! GraphQL over HTTP, and subscriptions over a WebSocket at the same path (`graphql-transport-ws` and the legacy
//! `graphql-ws`): each request, and each socket at its `connection_init`, is authenticated and scoped to one portal
//! its credential grants first.

use async_graphql::{
    Data, ErrorExtensions,
    http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::{
    Json,
    body::Body,
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
        if !state.graphiql {
            let message = "GraphiQL is off on this address: set GRAPHIQL=on to serve it (and introspection)";
            return (StatusCode::NOT_FOUND, message).into_response();
        }
        return graphiql(state.graphiql_key.as_deref()).into_response();
    }
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

/// 429 with the seconds until the caller may send again.
fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = format!("this credential is over its rate of requests (RATE_LIMIT_PER_MINUTE); retry in {seconds} s");
    let mut response = bad_request(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// A refusal of the request itself (its type, size or JSON), with a code and a status.
fn bad_request(status: StatusCode, code: &'static str, message: String) -> Response {
    refused(status, async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code)))
}

/// Whether the body is JSON: only `application/json` bodies are taken. Form and text bodies, which a page on another
/// site can send without a CORS preflight, never run.
fn is_json(headers: &HeaderMap) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The request in `body`: JSON, at most `max` bytes (413 past it), read once the caller is known.
async fn read_request(body: Body, max: usize) -> Result<async_graphql::Request, Response> {
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        let error = schema::limits::exceeded("bodySize", max, format!("the request body is over {max} bytes"));
        (StatusCode::PAYLOAD_TOO_LARGE, Json(async_graphql::Response::from_errors(vec![error]))).into_response()
    })?;
    serde_json::from_slice(&bytes).map_err(|err| {
        let message =
            format!("the body is not a GraphQL request (JSON with `query`, `variables`, `operationName`): {err}");
        bad_request(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    })
}

pub(super) async fn execute(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    state.metrics.graphql_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if !is_json(&headers) {
        let message = "POST /graphql takes a JSON body: send Content-Type: application/json".to_owned();
        return bad_request(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", message);
    }
    let (caller, portal_id) = match admit(&state, &headers).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    if !matches!(*state.auth, crate::auth::Authenticator::Off)
        && let Err(wait) = state.rates.take(&caller.id).await
    {
        return too_many(wait);
    }
    let request = match read_request(body, state.bounds.max_body).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let scope = Scope::new(state.db.clone(), portal_id, caller.role).with_upstream(state.upstream.clone());
    GraphQLResponse::from(state.schema.execute(request.data(scope)).await).into_response()
}
