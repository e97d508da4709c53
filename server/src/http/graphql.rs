//! GraphQL over HTTP: each request is scoped to one portal before it runs.

use async_graphql::{ErrorExtensions, http::GraphiQLSource};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{extract::State, http::HeaderMap, response::Html};
use schema::Scope;

use super::AppState;

pub(super) async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").title("HubSpot GraphQL gateway").finish())
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
