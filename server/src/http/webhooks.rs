//! `POST /webhooks/hubspot`.

use axum::{
    Json,
    body::Body,
    extract::{OriginalUri, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
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
        Err(NotAccepted::Storage(db)) => {
            // The database's text stays in our log: the answer names the request (its `x-request-id`), so the two
            // can be matched.
            let request_id = headers
                .get(super::access::REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| format!("{:016x}", rand::random::<u64>()), str::to_owned);
            tracing::error!(%request_id, error = %db, "webhook delivery not stored; HubSpot will retry");
            let message = "the delivery could not be stored; nothing was kept, retry later";
            let body = json!({ "status": "error", "message": message, "requestId": request_id });
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        Err(err) => {
            tracing::warn!(error = %err, "webhook delivery refused");
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Json(json!({ "status": "error", "message": err.to_string() }))).into_response()
        }
    }
}
