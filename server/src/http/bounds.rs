//! What bounds every HTTP request before a handler runs: how many run at once (503 with `Retry-After` past it), how
//! long one may take, which browser origins may call cross-site (CORS, and the WebSocket's `Origin`), and, read by
//! the handlers and the connection loop, the largest body and how long a client may take to send its headers.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The HTTP bounds of one process.
#[derive(Clone, Debug)]
pub struct HttpBounds {
    /// The largest request body `/graphql` reads.
    pub max_body: usize,
    /// How long a client may take to send a request's headers; the connection is closed past it.
    pub header_timeout: Duration,
    /// How long a request may take; answered 503 past it.
    pub request_timeout: Duration,
    /// Requests served at once.
    pub max_in_flight: usize,
    /// Browser origins (`https://app.example.com`) allowed to call cross-site; none by default.
    pub cors_origins: Vec<HeaderValue>,
    /// Subscriptions one socket may hold open at once.
    pub subscriptions_per_connection: usize,
    /// Subscriptions one credential may hold open at once over all its sockets to this process.
    pub subscriptions_per_credential: usize,
}

impl Default for HttpBounds {
    fn default() -> Self {
        Self {
            max_body: 256 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 256,
            cors_origins: Vec::new(),
            subscriptions_per_connection: 20,
            subscriptions_per_credential: 200,
        }
    }
}

impl HttpBounds {
    /// The CORS layer for the allowed origins; `None` when there are none (same-origin only: no CORS headers, so a
    /// browser page elsewhere can neither read an answer nor send the JSON a request needs).
    pub fn cors(&self) -> Option<CorsLayer> {
        if self.cors_origins.is_empty() {
            return None;
        }
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.cors_origins.clone()))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::ACCEPT,
                    header::HeaderName::from_static(super::portal::PORTAL_HEADER),
                ])
                .max_age(Duration::from_secs(600)),
        )
    }

    /// Whether a request with these headers may open a WebSocket: no `Origin` (not a browser), the page's own origin
    /// (its host is the `Host` it calls), or an allowed one. Browsers let any page open a socket anywhere, so this is
    /// the socket's only cross-site check.
    pub fn socket_origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        if self.cors_origins.iter().any(|allowed| allowed == origin) {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, host)| host);
        matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
    }
}

/// Each credential's subscription slots in this process, shared by its sockets.
#[derive(Clone, Default)]
pub struct CredentialSubscriptions(Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>>);

impl CredentialSubscriptions {
    /// A new socket's slots: its own, and its credential's.
    pub fn slots(&self, bounds: &HttpBounds, credential: &str) -> schema::slots::SubscriptionSlots {
        let per_credential = bounds.subscriptions_per_credential;
        let shared = match self.0.lock() {
            Ok(mut credentials) => Arc::clone(
                credentials.entry(credential.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(per_credential))),
            ),
            // A poisoned map (a panic elsewhere while it was held) still bounds the socket by itself.
            Err(_) => Arc::new(Semaphore::new(per_credential)),
        };
        schema::slots::SubscriptionSlots::new(bounds.subscriptions_per_connection, shared, per_credential)
    }

    /// Subscriptions open in this process, over every credential: the slots taken from each one's share.
    pub fn open(&self, bounds: &HttpBounds) -> usize {
        let Ok(credentials) = self.0.lock() else { return 0 };
        credentials
            .values()
            .map(|slots| bounds.subscriptions_per_credential.saturating_sub(slots.available_permits()))
            .sum()
    }
}

/// Requests in flight in this process, shared by the HTTP workers.
#[derive(Clone)]
pub struct InFlight(pub Arc<Semaphore>);

impl InFlight {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

/// Lets a request run while fewer than the bound are in flight; else 503 with `Retry-After: 1`. Refusing at once,
/// rather than queueing, keeps a saturated gateway's answers fast and leaves the retry to the client.
pub async fn admit(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    let Ok(_permit) = in_flight.0.clone().try_acquire_owned() else {
        let mut response =
            (StatusCode::SERVICE_UNAVAILABLE, "the gateway is at its bound of requests in flight; retry")
                .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_from_its_own_or_an_allowed_origin_is_let_in() {
        let bounds = HttpBounds {
            cors_origins: vec![HeaderValue::from_static("https://app.example.com")],
            ..HttpBounds::default()
        };
        let headers = |origin: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("gw.example.com"));
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            }
            headers
        };
        assert!(bounds.socket_origin_allowed(&headers(None)));
        assert!(bounds.socket_origin_allowed(&headers(Some("https://gw.example.com"))));
        assert!(bounds.socket_origin_allowed(&headers(Some("https://app.example.com"))));
        assert!(!bounds.socket_origin_allowed(&headers(Some("https://evil.example.com"))));
        assert!(!bounds.socket_origin_allowed(&headers(Some("null"))));
    }
}
