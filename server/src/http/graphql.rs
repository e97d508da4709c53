//! GraphQL over HTTP: POST with a JSON body, and GET with the request in the query string (queries only, so a CDN
//! may cache them), both authenticated and scoped to one portal its credential grants first; GraphiQL for a browser
//! and the WebSocket upgrade share GET's path.

use async_graphql::{ErrorExtensions, http::GraphiQLSource, parser::types::OperationType};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use schema::Scope;

use super::{
    AppState,
    access::Operation,
    portal::PortalError,
    respond::{self, Media},
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

fn unauthenticated(err: &AuthError, media: Media) -> Response {
    let mut response =
        respond::refusal(StatusCode::UNAUTHORIZED, vec![respond::error(err.code(), err.to_string())], media);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(err.challenge()));
    response
}

/// 429 with the seconds until the caller may send again.
fn too_many(wait: std::time::Duration, media: Media) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = format!("this credential is over its rate of requests (RATE_LIMIT_PER_MINUTE); retry in {seconds} s");
    let mut response =
        respond::refusal(StatusCode::TOO_MANY_REQUESTS, vec![respond::error("RATE_LIMITED", message)], media);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The caller of a request and the portal it reads, or the answer that refuses it: 401 without a valid
/// credential, 403 for a portal the credential does not grant, 429 past the credential's rate.
async fn admit(state: &AppState, headers: &HeaderMap, media: Media) -> Result<(Caller, i64), Response> {
    let caller = state.auth.caller(&state.db, headers).await.map_err(|err| unauthenticated(&err, media))?;
    let portal = match state.portals.resolve(&state.db, headers, &caller.portals).await {
        Ok(portal) => portal,
        Err(err @ PortalError::Forbidden(_)) => {
            let error = err.extend().into_server_error(Default::default());
            return Err(respond::refusal(StatusCode::FORBIDDEN, vec![without_position(error)], media));
        }
        Err(err) => {
            let error = err.extend().into_server_error(Default::default());
            return Err(respond::request_errors(vec![without_position(error)], media));
        }
    };
    if !matches!(*state.auth, crate::auth::Authenticator::Off)
        && let Err(wait) = state.rates.take(&caller.id).await
    {
        return Err(too_many(wait, media));
    }
    Ok((caller, portal))
}

/// An error raised outside any document has no position in one.
fn without_position(mut error: async_graphql::ServerError) -> async_graphql::ServerError {
    error.locations.clear();
    error
}

/// Runs `request` for `caller` in `portal`.
async fn run(
    state: &AppState,
    caller: &Caller,
    portal: i64,
    request: async_graphql::Request,
    media: Media,
) -> Response {
    let scope = Scope::new(state.db.clone(), portal, caller.role)
        .with_caller(caller.id.clone())
        .with_upstream(state.upstream.clone());
    // Named from `operationName`, else from the document the schema parses, else `anonymous` (an unnamed operation,
    // a persisted query's hash with no text, a text that does not parse).
    let named = request.operation_name.as_deref().map(crate::metrics::label);
    let parsed = schema::operation_name::OperationName::default();
    let answer = state.schema.execute(request.data(scope).data(parsed.clone())).await;
    let operation = named.or_else(|| parsed.get().map(crate::metrics::label)).unwrap_or_else(|| "anonymous".to_owned());
    let mut response = respond::answer(answer, media);
    response.extensions_mut().insert(Operation(operation));
    response
}

/// Whether the body is JSON: only `application/json` bodies are taken. Form and text bodies, which a page on another
/// site can send without a CORS preflight, never run.
fn is_json(headers: &HeaderMap) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The request in `body`: JSON, at most `max` bytes (413 past it), read once the caller is known.
async fn read_request(body: Body, max: usize, media: Media) -> Result<async_graphql::Request, Response> {
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        let error = schema::limits::exceeded("bodySize", max, format!("the request body is over {max} bytes"));
        respond::refusal(StatusCode::PAYLOAD_TOO_LARGE, vec![error], media)
    })?;
    let bad = |message: String| {
        respond::refusal(StatusCode::BAD_REQUEST, vec![respond::error("BAD_REQUEST", message)], media)
    };
    let request: async_graphql::Request = serde_json::from_slice(&bytes).map_err(|err| {
        bad(format!("the body is not a GraphQL request (JSON with `query`, `variables`, `operationName`): {err}"))
    })?;
    // A persisted query's hash may stand for its text; otherwise a request without `query` is malformed.
    if request.query.is_empty() && !request.extensions.contains_key("persistedQuery") {
        return Err(bad("the request has no `query`".to_owned()));
    }
    Ok(request)
}

pub(super) async fn execute(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    state.metrics.graphql_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let media = Media::of(&headers);
    if !is_json(&headers) {
        let message = "POST /graphql takes a JSON body: send Content-Type: application/json";
        let error = respond::error("UNSUPPORTED_MEDIA_TYPE", message);
        return respond::refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, vec![error], media);
    }
    let (caller, portal) = match admit(&state, &headers, media).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    match read_request(body, state.bounds.max_body, media).await {
        Ok(request) => run(&state, &caller, portal, request, media).await,
        Err(refusal) => refusal,
    }
}

/// GET /graphql: a WebSocket upgrade, GraphiQL for a browser that asks for a page, else a query in the query string.
pub(super) async fn get(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let upgrading = parts.headers.get(header::UPGRADE).and_then(|v| v.to_str().ok());
    if upgrading.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return super::socket::upgrade(state, parts).await;
    }
    let accept = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let has_query = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("query=") || p.starts_with("extensions=")));
    if accept.contains("text/html") && !has_query {
        if !state.graphiql {
            let message = "GraphiQL is off on this address: set GRAPHIQL=on to serve it (and introspection)";
            return (StatusCode::NOT_FOUND, message).into_response();
        }
        return graphiql(state.graphiql_key.as_deref()).into_response();
    }
    state.metrics.graphql_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let media = Media::of(&parts.headers);
    let (caller, portal) = match admit(&state, &parts.headers, media).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let request = match async_graphql::http::parse_query_string(parts.uri.query().unwrap_or_default()) {
        Ok(request) => request,
        Err(err) => {
            let error = respond::error("BAD_REQUEST", format!("the query string is not a GraphQL request: {err}"));
            return respond::refusal(StatusCode::BAD_REQUEST, vec![error], media);
        }
    };
    if changes_data(&request) {
        let error = respond::error("METHOD_NOT_ALLOWED", "GET runs queries only: send mutations with POST");
        let mut response = respond::refusal(StatusCode::METHOD_NOT_ALLOWED, vec![error], media);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(Method::POST.as_str()));
        return response;
    }
    run(&state, &caller, portal, request, media).await
}

/// Whether the operation a request would run is a mutation or subscription. A text over the limits checked before
/// parsing, or one that does not parse, is left to the schema, which refuses it with its reason.
fn changes_data(request: &async_graphql::Request) -> bool {
    if schema::limits::check_text(&request.query, &schema::Limits::default()).is_err() {
        return false;
    }
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else { return false };
    let mut operations = document.operations.iter();
    let chosen = match &request.operation_name {
        Some(name) => operations.find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => operations.next(),
    };
    chosen.is_some_and(|(_, operation)| operation.node.ty != OperationType::Query)
}
