//! `POST /webhooks/hubspot`.

use axum::{
    Json,
    body::Body,
    extract::{OriginalUri, State},
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::AppState;
use crate::webhooks::{MAX_BODY, NotAccepted, Refusal, signed_headers};

pub async fn receive(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(receiver) = &state.webhooks else {
        let message = "webhooks are not configured: set HUBSPOT_CLIENT_SECRET";
        return (StatusCode::NOT_FOUND, Json(json!({ "status": "error", "message": message }))).into_response();
    };
    let stats = &state.metrics.webhooks;
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        stats.count_refused(Refusal::TooLarge);
        let message = format!("the body is over {MAX_BODY} bytes");
        return (StatusCode::PAYLOAD_TOO_LARGE, Json(json!({ "status": "error", "message": message }))).into_response();
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    match receiver.accept(&state.db, stats, method.as_str(), path, signed_headers(&headers), &body).await {
        Ok(appended) => Json(json!({ "stored": appended.stored, "duplicates": appended.duplicates })).into_response(),
        Err(err) => {
            if let NotAccepted::Storage(db) = &err {
                tracing::error!(error = %db, "webhook delivery not stored; HubSpot will retry");
            } else {
                tracing::warn!(error = %err, "webhook delivery refused");
            }
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(json!({ "status": "error", "message": err.to_string() }))).into_response()
        }
    }
}
