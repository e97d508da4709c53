//! Probes and the metrics scrape: `/livez` (the process answers), `/readyz` (it should be sent traffic),
//! `/healthz` (the older probe: the database answers) and `/metrics`.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use metrics::gauge;
use sea_orm::{DatabaseConnection, DatabaseConnectionType};

use super::AppState;

/// Answers while the process serves requests at all; checks nothing else, so a restart is never caused by a
/// dependency that is down.
pub(super) async fn livez() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "live" }))
}

/// 200 when every readiness check passes, else 503; the body names the failing checks either way.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let report = state.readiness.check(&state.db, state.stopping.is_stopping()).await;
    let status = if report.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report.body)).into_response()
}

/// Up when the database answers.
pub(super) async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::error!(error = %err, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

/// Everything counted so far, with the gauges read at the scrape: requests in flight (this one included), sockets
/// and subscriptions open, this worker's database pool, and the webhook backlog.
pub(super) async fn metrics(State(state): State<AppState>) -> String {
    let in_flight = state.bounds.max_in_flight.saturating_sub(state.in_flight.0.available_permits());
    let sockets = state.stopping.still_running().get("websocket").copied().unwrap_or_default();
    let subscriptions = state.subscriptions.open(&state.bounds);
    let pool = pool_use(&state.db);
    let backlog = match state.readiness.backlog.read(&state.db).await {
        Ok(backlog) => Some(backlog),
        Err(err) => {
            tracing::warn!(error = %err, "metrics: reading the webhook backlog");
            None
        }
    };
    state.metrics.sink.record(|| {
        gauge!("gateway_http_requests_in_flight").set(in_flight as f64);
        gauge!("gateway_websockets_open").set(sockets as f64);
        gauge!("gateway_subscriptions_open").set(subscriptions as f64);
        if let Some((size, idle)) = pool {
            gauge!("gateway_db_pool_connections", "state" => "idle").set(f64::from(idle));
            gauge!("gateway_db_pool_connections", "state" => "busy").set(f64::from(size.saturating_sub(idle)));
        }
        if let Some(backlog) = backlog {
            gauge!("gateway_webhook_backlog_events").set(backlog.events as f64);
            gauge!("gateway_webhook_backlog_oldest_seconds").set(backlog.lag_secs as f64);
        }
    });
    state.metrics.render()
}

/// The pool's open connections and how many of them are idle.
fn pool_use(db: &DatabaseConnection) -> Option<(u32, u32)> {
    match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            Some((pool.size(), pool.num_idle() as u32))
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            Some((pool.size(), pool.num_idle() as u32))
        }
        _ => None,
    }
}
