//! The HTTP surface: GraphQL (POST), subscriptions (WebSocket) and GraphiQL (GET) at `/graphql`, the OAuth install, HubSpot's webhooks,
//! the probes (`/livez`, `/readyz`, `/healthz`) and `/metrics`; every request gets an id and an access line.

pub mod access;
pub mod bounds;
mod graphql;
mod install;
mod oauth;
mod portal;
mod probes;
pub mod rate;
mod respond;
mod socket;
mod webhooks;
pub mod workers;

use std::sync::Arc;

use axum::{
    Router,
    http::{HeaderName, StatusCode},
    routing::get,
};
use sea_orm::DatabaseConnection;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::{metrics::Metrics, operations::Operations};
pub use portal::Portals;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: schema::GatewaySchema,
    pub portals: Arc<Portals>,
    pub metrics: Metrics,
    /// The public app's install flow, when configured.
    pub install: Option<Arc<crate::oauth::Install>>,
    /// The webhook receiver, when a client secret is configured.
    pub webhooks: Option<Arc<crate::webhooks::Receiver>>,
    /// Where mutations write, when a HubSpot connection is configured.
    pub upstream: Option<Arc<dyn schema::upstream::Upstream>>,
    /// Live changes for subscriptions.
    pub feed: Option<Arc<dyn schema::feed::Feed>>,
    /// How callers are checked; `AppState::new` leaves it off (tests, embedding): `serve` sets it from `AUTH`.
    pub auth: Arc<crate::auth::Authenticator>,
    /// The key GraphiQL sends, on a loopback address only (the local admin key).
    pub graphiql_key: Option<Arc<str>>,
    /// Whether GraphiQL is served and the schema answers introspection (`GRAPHIQL`).
    pub graphiql: bool,
    /// Body size, timeouts, requests in flight and cross-site origins.
    pub bounds: Arc<bounds::HttpBounds>,
    pub in_flight: bounds::InFlight,
    /// Subscriptions held per credential.
    pub subscriptions: bounds::CredentialSubscriptions,
    /// Requests per credential (none are counted with `AUTH=off`).
    pub rates: Arc<rate::CallerRates>,
    /// Persisted queries and registered operations; part of the schema, kept to rebuild it.
    pub operations: Operations,
    /// The HTTP side's stop: open connections finish their requests and close, sockets say they are going away.
    pub stopping: crate::stopping::Stopping,
    /// What `/readyz` checks besides the database, and its thresholds.
    pub readiness: Arc<crate::readiness::Readiness>,
}

impl AppState {
    pub async fn new(db: DatabaseConnection, metrics: Metrics) -> Result<Self, sea_orm::DbErr> {
        let portals = Arc::new(Portals::load(&db).await?);
        let operations = Operations::load(&db, crate::operations::Mode::Any, None).await?;
        Ok(Self {
            db,
            schema: gateway_schema(&operations, true),
            portals,
            metrics,
            install: None,
            webhooks: None,
            upstream: None,
            feed: None,
            auth: Arc::new(crate::auth::Authenticator::Off),
            graphiql_key: None,
            graphiql: true,
            in_flight: bounds::InFlight::new(bounds::HttpBounds::default().max_in_flight),
            subscriptions: bounds::CredentialSubscriptions::default(),
            bounds: Arc::default(),
            rates: Arc::new(rate::CallerRates::new(rate::DEFAULT_PER_MINUTE, None)),
            operations,
            stopping: crate::stopping::Stopping::default(),
            readiness: Arc::default(),
        })
    }

    pub fn with_install(self, install: Option<Arc<crate::oauth::Install>>) -> Self {
        Self { install, ..self }
    }

    pub fn with_upstream(self, upstream: Option<Arc<dyn schema::upstream::Upstream>>) -> Self {
        Self { upstream, ..self }
    }

    pub fn with_feed(self, feed: Option<Arc<dyn schema::feed::Feed>>) -> Self {
        Self { feed, ..self }
    }

    pub fn with_auth(self, auth: Arc<crate::auth::Authenticator>, graphiql_key: Option<String>) -> Self {
        Self { auth, graphiql_key: graphiql_key.map(Arc::from), ..self }
    }

    pub fn with_bounds(self, bounds: bounds::HttpBounds) -> Self {
        Self { in_flight: bounds::InFlight::new(bounds.max_in_flight), bounds: Arc::new(bounds), ..self }
    }

    /// GraphiQL and introspection on or off; off rebuilds the schema without introspection.
    pub fn with_graphiql(self, graphiql: bool) -> Self {
        let schema = if graphiql == self.graphiql { self.schema } else { gateway_schema(&self.operations, graphiql) };
        Self { graphiql, schema, ..self }
    }

    /// Which operations run (`OPERATIONS`), and where persisted queries are kept; rebuilds the schema.
    pub fn with_operations(self, operations: Operations) -> Self {
        Self { schema: gateway_schema(&operations, self.graphiql), operations, ..self }
    }

    pub fn with_rates(self, rates: rate::CallerRates) -> Self {
        Self { rates: Arc::new(rates), ..self }
    }

    /// Stopped with `stopping` (a child of the process's stop, so the sockets are waited for apart).
    pub fn with_stopping(self, stopping: crate::stopping::Stopping) -> Self {
        Self { stopping, ..self }
    }

    pub fn with_readiness(self, readiness: crate::readiness::Readiness) -> Self {
        Self { readiness: Arc::new(readiness), ..self }
    }

    pub fn with_webhooks(self, webhooks: Option<crate::webhooks::Receiver>) -> Self {
        Self { webhooks: webhooks.map(Arc::new), ..self }
    }
}

/// The schema as served: persisted and registered operations resolved first, then the default limits.
fn gateway_schema(operations: &Operations, introspection: bool) -> schema::GatewaySchema {
    schema::build_with(schema::Limits::default(), introspection).with_persisted(Arc::new(operations.clone()))
}

/// The router, without a socket, so tests can drive it directly.
pub fn app(state: AppState) -> Router {
    let bounds = Arc::clone(&state.bounds);
    let router = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::execute))
        .route("/oauth/hubspot/install", get(install::explain).post(install::ticket))
        .route("/oauth/hubspot/install/{ticket}", get(install::open))
        .route("/oauth/hubspot/callback", get(install::callback))
        .route("/oauth/hubspot/disconnect/{portal}", axum::routing::post(oauth::disconnect))
        .route("/webhooks/hubspot", axum::routing::post(webhooks::receive))
        .route("/livez", get(probes::livez))
        .route("/readyz", get(probes::readyz))
        .route("/healthz", get(probes::healthz))
        .route("/metrics", get(probes::metrics))
        .layer(axum::middleware::from_fn_with_state(state.in_flight.clone(), bounds::admit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            bounds.request_timeout,
        ));
    let router = match bounds.cors() {
        Some(cors) => router.layer(cors),
        None => router,
    };
    // Outermost first: the id is set (kept when the caller sent one), copied into the answer, then the request is
    // timed and logged, so refusals by the bounds above are logged too.
    let request_id = HeaderName::from_static(access::REQUEST_ID);
    router
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), access::observe))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
