//! GraphQL over HTTP, and subscriptions over a WebSocket at the same path (`graphql-transport-ws` and the legacy
//! `graphql-ws`): each request, and each socket at its `connection_init`, is scoped to one portal first.

use async_graphql::{
    Data, ErrorExtensions,
    http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::{
    extract::{FromRequestParts, Request, State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, header},
    response::{Html, IntoResponse, Response},
};
use schema::Scope;
use serde_json::Value;

use super::{AppState, portal::PORTAL_HEADER};

fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .title("HubSpot GraphQL gateway")
            .finish(),
    )
}

/// GraphiQL for a browser; a GraphQL WebSocket for a client that asks to upgrade.
pub(super) async fn graphiql_or_socket(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrading = parts.headers.get(header::UPGRADE).and_then(|v| v.to_str().ok());
    if !upgrading.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return graphiql().into_response();
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

/// The caller check of HTTP requests for a socket: the portal named in the `connection_init` payload
/// (`{"X-HubSpot-Portal-Id": "…"}`), else by the upgrade request's header, else the only one.
async fn connection_scope(state: AppState, mut headers: HeaderMap, payload: Value) -> async_graphql::Result<Data> {
    let named = payload.as_object().and_then(|fields| {
        fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(PORTAL_HEADER) || *k == "portalId").map(|(_, v)| v)
    });
    if let Some(value) = named {
        let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
        let value = HeaderValue::from_str(&text).map_err(|_| async_graphql::Error::new("the portal id is not text"))?;
        headers.insert(PORTAL_HEADER, value);
    }
    let portal_id = state.portals.resolve(&state.db, &headers).await.map_err(|err| err.extend())?;
    let scope = Scope::new(state.db.clone(), portal_id).with_feed(state.feed.clone());
    let mut data = Data::default();
    data.insert(scope);
    Ok(data)
}

pub(super) async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    state.metrics.graphql_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let portal_id = match state.portals.resolve(&state.db, &headers).await {
        Ok(id) => id,
        Err(err) => {
            return async_graphql::Response::from_errors(vec![err.extend().into_server_error(Default::default())])
                .into();
        }
    };
    let scope = Scope::new(state.db.clone(), portal_id).with_upstream(state.upstream.clone());
    let request = request.into_inner().data(scope);
    state.schema.execute(request).await.into()
}
