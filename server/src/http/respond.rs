//! Answers as the GraphQL-over-HTTP spec asks. A client that accepts `application/graphql-response+json` gets it,
//! and a request that fails before execution (it does not parse, validate or pass a limit) is a 400 without a
//! `data` entry; a client that wants `application/json` gets that, with such failures as 200, as legacy clients
//! expect. Refusals of the HTTP request itself (401, 403, 413, 415, 429) carry their own status and no `data`.

use async_graphql::ServerError;
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::access::ErrorCodes;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// The code of an error that a retry later may fix (the database is down): its answer is 503 with `Retry-After`.
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";

/// Seconds a client is asked to wait before retrying during an outage.
const RETRY_AFTER_SECS: u32 = 2;

/// Whether any of `errors` is [`SERVICE_UNAVAILABLE`].
fn outage(errors: &[ServerError]) -> bool {
    let code = async_graphql::Value::String(SERVICE_UNAVAILABLE.to_owned());
    errors.iter().any(|e| e.extensions.as_ref().and_then(|x| x.get("code")) == Some(&code))
}

/// 503 with `Retry-After`, whatever the media type: a legacy client's 200 would hide an outage from load balancers
/// and retrying clients.
fn unavailable(errors: Vec<ServerError>, media: Media) -> Response {
    let mut response = refusal(StatusCode::SERVICE_UNAVAILABLE, errors, media);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// The media type an answer is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Json,
    GraphqlResponse,
}

impl Media {
    /// `application/graphql-response+json` when the `Accept` header names it, else `application/json`.
    pub fn of(headers: &HeaderMap) -> Self {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let named = accept.split(',').any(|part| {
            let mut params = part.split(';');
            let essence = params.next().unwrap_or_default().trim();
            // `q=0` means "not this one".
            essence.eq_ignore_ascii_case(GRAPHQL_RESPONSE) && !params.any(|p| p.trim().replace(' ', "") == "q=0")
        });
        if named { Media::GraphqlResponse } else { Media::Json }
    }

    fn content_type(self) -> HeaderValue {
        match self {
            Media::Json => HeaderValue::from_static("application/json; charset=utf-8"),
            Media::GraphqlResponse => HeaderValue::from_static("application/graphql-response+json; charset=utf-8"),
        }
    }
}

/// An error with a `code` extension.
pub fn error(code: &'static str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// `{"errors": [...]}` with `status`.
pub fn refusal(status: StatusCode, errors: Vec<ServerError>, media: Media) -> Response {
    let body = json!({ "errors": errors }).to_string();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    response.extensions_mut().insert(codes(&errors));
    response
}

/// Each error's `code` extension, for the error counter; an error without one (a document that does not parse or
/// validate) counts as `GRAPHQL_VALIDATION_FAILED`.
fn codes(errors: &[ServerError]) -> ErrorCodes {
    let code = |e: &ServerError| match e.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(async_graphql::Value::String(code)) => crate::metrics::label(code),
        _ => "GRAPHQL_VALIDATION_FAILED".to_owned(),
    };
    ErrorCodes(errors.iter().map(code).collect())
}

/// Errors raised before execution: 400 for `graphql-response+json`, 200 for `application/json`.
pub fn request_errors(errors: Vec<ServerError>, media: Media) -> Response {
    if outage(&errors) {
        return unavailable(errors, media);
    }
    let status = match media {
        Media::GraphqlResponse => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    };
    refusal(status, errors, media)
}

/// The answer to an executed request. One that failed before execution (no data, and no error at a path) is
/// [`request_errors`].
pub fn answer(response: async_graphql::Response, media: Media) -> Response {
    let before_execution = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    if before_execution {
        return request_errors(response.errors, media);
    }
    if outage(&response.errors) {
        // Partial data from a database that went away mid-request is not worth a 200.
        return unavailable(response.errors, media);
    }
    let mut headers = response.http_headers.clone();
    let body = match serde_json::to_string(&response) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "serializing a GraphQL answer");
            return refusal(StatusCode::INTERNAL_SERVER_ERROR, vec![error("INTERNAL", "internal error")], media);
        }
    };
    if let Some(cache_control) = response.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&cache_control)
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(header::CONTENT_TYPE, media.content_type());
    let mut out = (StatusCode::OK, body).into_response();
    out.headers_mut().extend(headers);
    out.extensions_mut().insert(codes(&response.errors));
    out
}
