//! One access line per request, with the request's id (the caller's `x-request-id`, or one made here, sent back in
//! the answer's `x-request-id`), its GraphQL operation, status and duration; and the per-operation latency and
//! error counts that `/metrics` shows. Every log line written while the request runs carries its id, and so does
//! every HubSpot call it makes (see [`current_request_id`]). The request's span is the root of its trace.

use std::time::Instant;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use metrics::{counter, histogram};
use tracing::Instrument;

use crate::metrics::Metrics;

/// The header carrying a request's id both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The id of the request being served, for calls made on its behalf; `None` outside a request (sync, appliers).
pub use schema::request_id::current as current_request_id;

/// The GraphQL operation a response answered, named for the access line and the latency histogram.
#[derive(Clone, Debug)]
pub struct Operation(pub String);

/// The `code`s of the errors a GraphQL response carries, one per error.
#[derive(Clone, Debug, Default)]
pub struct ErrorCodes(pub Vec<String>);

/// Times `request`, logs its access line and records its operation's latency and errors.
pub async fn observe(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        operation = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let response = schema::request_id::scope(id, next.run(request)).instrument(span.clone()).await;
    let took = started.elapsed();
    let operation = response.extensions().get::<Operation>().map(|o| o.0.as_str());
    let codes = response.extensions().get::<ErrorCodes>().map(|c| c.0.as_slice()).unwrap_or_default();
    metrics.sink.record(|| {
        if let Some(operation) = operation {
            let operation = metrics.operation_label(operation);
            histogram!("gateway_graphql_request_duration_seconds", "operation" => operation).record(took.as_secs_f64());
        }
        for code in codes {
            counter!("gateway_graphql_errors_total", "code" => code.clone()).increment(1);
        }
    });
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            %method,
            path,
            status = response.status().as_u16(),
            operation = operation.unwrap_or_default(),
            duration_ms = took.as_secs_f64() * 1000.0,
            "request"
        );
    });
    // Recorded after the access line, which has them as its own fields: for the trace.
    span.record("status", response.status().as_u16());
    if let Some(operation) = operation {
        span.record("operation", operation);
    }
    response
}
