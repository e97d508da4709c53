//! The one client every call to HubSpot goes through: auth per portal, the rate budget, timeouts, retries with
//! exponential backoff and jitter on 429, 423, 477, 5xx and timeouts (honouring `Retry-After`), never on other 4xx,
//! and a circuit breaker per portal that fails calls at once while HubSpot is down. A create is not re-sent when
//! its outcome is unknown: the caller looks for the record first.

use std::{sync::Arc, time::Duration};

use backon::{ExponentialBuilder, Retryable};
use futures::future::BoxFuture;
use reqwest::{Method, header::HeaderMap};
use serde_json::Value;
use tracing::Instrument;

use super::{
    cache::{CacheStats, Cached, ReadCache},
    circuit::{CircuitSettings, Circuits},
    error::HubSpotError,
    limiter::{Budget, Limiter},
};
use crate::{metrics::Sink, shared_redis::SharedRedis};

/// Where a portal's bearer token comes from: a private app's fixed token, or OAuth tokens that refresh.
pub trait TokenSource: Send + Sync {
    fn token(&self, portal: i64) -> BoxFuture<'_, Result<String, HubSpotError>>;
}

/// A private app: one token for its portal.
pub struct PrivateApp(pub String);

impl TokenSource for PrivateApp {
    fn token(&self, _portal: i64) -> BoxFuture<'_, Result<String, HubSpotError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// How the client talks to HubSpot.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// `https://api.hubapi.com`, or the simulator.
    pub base_url: String,
    /// Calls per window, per portal (HubSpot: 100 per 10 s on Free/Starter, 190 on Professional/Enterprise).
    pub rate_limit: usize,
    pub rate_window: Duration,
    pub searches_per_second: usize,
    /// Each attempt's limit.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The first backoff; it doubles, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a cached read stays fresh.
    pub cache_ttl: Duration,
    /// Replicas share the rate budget and the read cache here; without it both stay in this process.
    pub redis: Option<SharedRedis>,
    /// When calls stop going to a failing HubSpot, and for how long.
    pub circuit: CircuitSettings,
}

impl ClientSettings {
    /// The longest one [`HubSpot::send`] can take: every attempt waiting out a rate window and its timeout, and
    /// the longest backoff between them. HubSpot's `Retry-After` (honoured in place of a shorter backoff) stays
    /// within its rate window.
    pub fn longest_call(&self) -> Duration {
        let attempts = self.max_retries as u32 + 1;
        (self.rate_window + self.timeout) * attempts + self.max_backoff * self.max_retries as u32
    }
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.hubapi.com".to_owned(),
            rate_limit: 100,
            rate_window: Duration::from_secs(10),
            searches_per_second: 5,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(300),
            redis: None,
            circuit: CircuitSettings::default(),
        }
    }
}

/// One call: method, path (with its query), optional JSON body.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    /// Sending it twice could make two records (a create): it is retried only after failures that say HubSpot did
    /// nothing, never after a timeout or a 5xx ([`HubSpotError::outcome_unknown`]).
    pub once: bool,
}

impl Call {
    fn new(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        Self { method, path: path.into(), body, once: false }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path, None)
    }

    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, path, Some(body))
    }

    /// A POST that makes records: see [`Call::once`].
    pub fn create(path: impl Into<String>, body: Value) -> Self {
        Self { once: true, ..Self::post(path, body) }
    }

    pub fn patch(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::PATCH, path, Some(body))
    }

    pub fn put(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::PUT, path, Some(body))
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path, None)
    }

    /// The read cache's key: portal, method, path and query, and a digest of the body (a search's filters).
    fn cache_key(&self, portal: i64) -> String {
        use sha2::{Digest, Sha256};
        let mut key = format!("read:{portal}:{} {}", self.method, self.path);
        if let Some(body) = &self.body {
            let digest = Sha256::digest(body.to_string().as_bytes());
            key.push('#');
            key.extend(digest.iter().map(|b| format!("{b:02x}")));
        }
        key
    }

    /// Search spends from its own, smaller budget as well.
    fn budget(&self) -> Budget {
        if self.path.split('?').next().is_some_and(|p| p.ends_with("/search")) {
            Budget::Search
        } else {
            Budget::General
        }
    }
}

/// Answers the in-process read cache holds at most.
const CACHE_CAPACITY: u64 = 10_000;

#[derive(Clone)]
pub struct HubSpot {
    http: reqwest::Client,
    settings: ClientSettings,
    limiter: Limiter,
    cache: ReadCache,
    circuits: Circuits,
    tokens: Arc<dyn TokenSource>,
    /// Where each call's endpoint, outcome and duration are recorded.
    sink: Sink,
}

impl HubSpot {
    pub fn new(settings: ClientSettings, tokens: Arc<dyn TokenSource>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("hubspot-graphql-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls");
        let limiter = Limiter::new(
            settings.rate_limit,
            settings.rate_window,
            settings.searches_per_second,
            settings.redis.clone(),
        );
        let cache = ReadCache::new(settings.cache_ttl, settings.redis.clone(), CACHE_CAPACITY);
        let circuits = Circuits::new(settings.circuit);
        Self { http, settings, limiter, cache, circuits, tokens, sink: Sink::default() }
    }

    /// The same client, recording its calls in `sink`.
    pub fn with_sink(self, sink: Sink) -> Self {
        Self { sink, ..self }
    }

    /// A client for HubSpot's OAuth endpoints, which take no bearer token.
    pub fn anonymous(settings: ClientSettings) -> Self {
        Self::new(settings, Arc::new(PrivateApp(String::new())))
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    pub fn cache_stats(&self) -> &CacheStats {
        self.cache.stats()
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.settings.min_backoff)
            .with_max_delay(self.settings.max_backoff)
            .with_max_times(self.settings.max_retries)
            .with_jitter()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.settings.base_url.trim_end_matches('/'), path)
    }

    /// A call without a bearer token, retried like any other: OAuth's token endpoint (a form POST) and its
    /// refresh-token revoke.
    pub async fn unauthenticated(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<Value, HubSpotError> {
        let url = self.url(path);
        (|| async {
            let mut request = self.http.request(method.clone(), &url);
            if let Some(form) = form {
                request = request.form(form);
            }
            let started = std::time::Instant::now();
            let response = request.send().await.map_err(|err| {
                self.record(&method, path, "error", started.elapsed());
                HubSpotError::transport(err)
            })?;
            let status = response.status().as_u16();
            let outcome = read(response).await;
            self.record(&method, path, &status.to_string(), started.elapsed());
            outcome
        })
        .retry(self.backoff())
        .when(HubSpotError::retryable)
        .await
    }

    /// Makes `call` for `portal`, retrying what is worth retrying; the JSON answer (`null` for 204).
    pub async fn send(&self, portal: i64, call: Call) -> Result<Value, HubSpotError> {
        (|| self.attempt(portal, &call))
            .retry(self.backoff())
            .when(|err| err.retryable() && !(call.once && err.outcome_unknown()))
            .adjust(|err, next| next.map(|backoff| err.retry_after.map_or(backoff, |wait| wait.max(backoff))))
            .notify(|err, wait| {
                tracing::warn!(portal, path = %call.path, status = ?err.status, category = %err.category, ?wait, "retrying a HubSpot call");
            })
            .await
    }

    /// Like [`HubSpot::send`] for a call that changes nothing (a GET, or a search POST), answered from the read
    /// cache when it can be.
    pub async fn read(&self, portal: i64, call: Call) -> Result<Cached, HubSpotError> {
        let key = call.cache_key(portal);
        let hubspot = self.clone();
        self.cache.get_or_fetch(key, Box::pin(async move { hubspot.send(portal, call).await })).await
    }

    /// Like [`HubSpot::read`] for a batch read of one record, cached under `record` (`contacts/1001`) whatever
    /// properties it names, so a write can drop it: `None` when HubSpot does not hold the record (404, or no result),
    /// which the cache remembers for a short while.
    pub async fn read_record(&self, portal: i64, record: &str, call: Call) -> Result<Option<Cached>, HubSpotError> {
        let hubspot = self.clone();
        let fetch = async move {
            match hubspot.send(portal, call).await {
                Err(err) if err.status == Some(404) => Ok(Value::Null),
                Ok(answer) => Ok(answer["results"].get(0).cloned().unwrap_or(Value::Null)),
                other => other,
            }
        };
        let answer = self.cache.get_or_fetch(record_key(portal, record), Box::pin(fetch)).await?;
        Ok((!answer.value.is_null()).then_some(answer))
    }

    /// Drops the cached answer about `record`, after a write changed it.
    pub async fn forget(&self, portal: i64, record: &str) {
        self.cache.forget(&record_key(portal, record)).await;
    }

    async fn attempt(&self, portal: i64, call: &Call) -> Result<Value, HubSpotError> {
        if let Err(refused) = self.circuits.admit(portal) {
            let (method, endpoint) = (call.method.as_str().to_owned(), endpoint(&call.path));
            self.sink.record(|| {
                let labels = [("method", method), ("endpoint", endpoint)];
                metrics::counter!("gateway_hubspot_circuit_refused_total", &labels).increment(1);
            });
            return Err(refused);
        }
        let outcome = self.attempt_now(portal, call).await;
        if !outcome.as_ref().is_err_and(HubSpotError::is_local) {
            self.circuits.record(portal, outcome.as_ref().map(drop));
        }
        outcome
    }

    async fn attempt_now(&self, portal: i64, call: &Call) -> Result<Value, HubSpotError> {
        let token = self.tokens.token(portal).await?;
        let slot = self.limiter.acquire(portal, call.budget()).await;
        let url = self.url(&call.path);
        // A span for traces only (log lines keep the request's): the call as it went, limiter's wait aside.
        let span = tracing::info_span!(
            target: "otel::hubspot",
            "hubspot call",
            method = call.method.as_str(),
            endpoint = endpoint(&call.path),
            portal,
            status = tracing::field::Empty,
        );
        let mut request = self.http.request(call.method.clone(), url).bearer_auth(token);
        if let Some(id) = crate::http::access::current_request_id() {
            request = request.header(crate::http::access::REQUEST_ID, id);
        }
        for (name, value) in span.in_scope(crate::traces::propagation_headers) {
            request = request.header(name, value);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let started = std::time::Instant::now();
        let response = request.send().instrument(span.clone()).await;
        self.limiter.settle(portal, call.budget(), slot).await;
        let response = response.map_err(|err| {
            span.record("status", "error");
            self.record(&call.method, &call.path, "error", started.elapsed());
            HubSpotError::transport(err)
        })?;
        self.observe(portal, response.headers()).await;
        let status = response.status().as_u16();
        span.record("status", status);
        let outcome = read(response).instrument(span).await;
        self.record(&call.method, &call.path, &status.to_string(), started.elapsed());
        if let Err(err) = &outcome
            && err.status == Some(429)
        {
            self.limiter.exhausted(portal, err.retry_after.unwrap_or(Duration::from_secs(1))).await;
        }
        outcome
    }

    /// One attempt's endpoint (ids left out), status (`error` without an answer) and duration; 429s counted apart.
    fn record(&self, method: &Method, path: &str, status: &str, took: Duration) {
        let (method, endpoint) = (method.as_str().to_owned(), endpoint(path));
        self.sink.record(|| {
            let labels = [("method", method), ("endpoint", endpoint), ("status", status.to_owned())];
            metrics::histogram!("gateway_hubspot_call_duration_seconds", &labels).record(took.as_secs_f64());
            if status == "429" {
                metrics::counter!("gateway_hubspot_rate_limited_total", &labels[..2]).increment(1);
            }
        });
    }

    async fn observe(&self, portal: i64, headers: &HeaderMap) {
        let max = header(headers, "x-hubspot-ratelimit-max").map(|v| v as usize);
        let interval = header(headers, "x-hubspot-ratelimit-interval-milliseconds").map(Duration::from_millis);
        let remaining = header(headers, "x-hubspot-ratelimit-remaining").map(|v| v as usize);
        if max.is_some() || remaining.is_some() {
            self.limiter.observe(portal, max, interval, remaining).await;
        }
    }
}

/// A call's path as a label, with few values and no secrets: no query; a token (after `access-tokens/` or
/// `refresh-tokens/`) written `{token}`; any other segment but a version (`v3`) or a plain name of lowercase letters,
/// `_` and `-` (`contacts`, `batch`) written `{id}`: record ids, object type ids, fully qualified names.
fn endpoint(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let mut previous = "";
    let mut labelled = Vec::new();
    for segment in path.split('/') {
        let version = segment.len() > 1 && segment.starts_with('v') && segment[1..].bytes().all(|b| b.is_ascii_digit());
        let plain = segment.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-');
        labelled.push(match () {
            () if matches!(previous, "access-tokens" | "refresh-tokens") => "{token}",
            () if version || plain => segment,
            () => "{id}",
        });
        previous = segment;
    }
    labelled.join("/")
}

/// An answer's JSON (`null` when empty), or HubSpot's error.
async fn read(response: reqwest::Response) -> Result<Value, HubSpotError> {
    let status = response.status().as_u16();
    let retry_after = header(response.headers(), "retry-after").map(Duration::from_secs);
    let body = response.bytes().await.map_err(HubSpotError::transport)?;
    if !(200..300).contains(&status) {
        return Err(HubSpotError::from_response(status, retry_after, &body));
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| HubSpotError::bad_response(format!("HubSpot's answer is not JSON: {e}")))
}

fn header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The read cache's key of one record's answer.
fn record_key(portal: i64, record: &str) -> String {
    format!("record:{portal}:{record}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_keep_no_ids_and_no_tokens() {
        assert_eq!(super::endpoint("/crm/v3/objects/contacts/1001?archived=false"), "/crm/v3/objects/contacts/{id}");
        assert_eq!(super::endpoint("/crm/v3/objects/2-1234/batch/read"), "/crm/v3/objects/{id}/batch/read");
        assert_eq!(super::endpoint("/oauth/v1/access-tokens/abcdef"), "/oauth/v1/access-tokens/{token}");
        assert_eq!(super::endpoint("/crm/v3/objects/p_machines"), "/crm/v3/objects/p_machines");
    }
}
