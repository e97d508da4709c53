//! What stands in front of every API call: chaos (latency, outages, 5xx, 429 bursts), the bearer token and its
//! scopes, and the rate limits per token (a rolling window, ten seconds at HubSpot, and search's own 5 per second).

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{Shared, error::SimError, scopes};

const SEARCH_WINDOW: Duration = Duration::from_secs(1);

/// The longest path and query HubSpot's edge takes; a longer one is `414 URI Too Long` before anything else, so a
/// client reading many properties must chunk them or use a batch read's body.
pub const MAX_URI_BYTES: usize = 16_384;

/// Misbehaviour on demand. Set at start by flags, or at run time by `POST /_sim/chaos`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Chaos {
    /// Added to every API call.
    pub latency_ms: u64,
    /// The share (0–1) of API calls answered with a 502, 503 or 504.
    pub error_rate: f64,
    /// This many API calls pass untouched before `failNext` and `throttleNext` apply.
    pub pass_next: u32,
    /// The next this many API calls get a 503.
    pub fail_next: u32,
    /// The next this many API calls get a 429 (a burst), with `Retry-After: 1`.
    pub throttle_next: u32,
    /// Every API call is answered 503 until this many milliseconds from the moment the chaos was set.
    pub outage_ms: u64,
    /// The next this many writes (calls that change something; searches and batch reads are reads) are carried
    /// out, but their answer is lost: HubSpot's edge answers `524` (its origin timed out) after the work was done,
    /// as a timeout or a dropped connection would leave a client not knowing.
    pub lose_next: u32,
}

/// A rolling window of call times.
#[derive(Debug, Default)]
pub struct Window(VecDeque<Instant>);

impl Window {
    /// Counts a call if the window has room; otherwise how long until it has.
    fn admit(&mut self, now: Instant, span: Duration, max: usize) -> Result<usize, Duration> {
        while self.0.front().is_some_and(|t| now.duration_since(*t) >= span) {
            self.0.pop_front();
        }
        if self.0.len() >= max {
            return Err(span - now.duration_since(self.0[0]));
        }
        self.0.push_back(now);
        Ok(max - self.0.len())
    }
}

/// The portal a request's token belongs to.
#[derive(Clone, Copy, Debug)]
pub struct PortalId(pub i64);

/// Refuses a request whose path and query exceed [`MAX_URI_BYTES`], as HubSpot's edge does (no JSON body: the
/// API behind it never sees the request). Counted in the stats.
pub async fn uri_limit(State(sim): State<Shared>, request: Request, next: Next) -> Response {
    let length = request.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if length > MAX_URI_BYTES {
        let mut world = sim.world.lock().expect("simulator state");
        world.stats.requests += 1;
        record_request_id(&mut world.stats, &request);
        world.stats.uri_too_long += 1;
        return (StatusCode::URI_TOO_LONG, "414 Request-URI Too Large").into_response();
    }
    next.run(request).await
}

/// Keeps the request id (and trace context) a call names, the last few.
fn record_request_id(stats: &mut super::Stats, request: &Request) {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(request_id) = header("x-request-id") else { return };
    if stats.requests_named.len() == super::Stats::REQUESTS_KEPT {
        stats.requests_named.pop_front();
    }
    stats.requests_named.push_back(super::NamedCall {
        request_id,
        traceparent: header("traceparent"),
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    });
}

pub async fn guard(State(sim): State<Shared>, mut request: Request, next: Next) -> Response {
    let search = request.uri().path().ends_with("/search");
    let (delay, verdict) = {
        let mut world = sim.world.lock().expect("simulator state");
        world.stats.requests += 1;
        record_request_id(&mut world.stats, &request);
        if super::scopes::verb(request.method(), request.uri().path()) == super::scopes::Verb::Write {
            world.stats.writes += 1;
        }
        let delay = Duration::from_millis(world.chaos.latency_ms);
        let call = (request.method(), request.uri().path());
        let verdict = admit(&sim, &mut world, request.headers(), call, search);
        let write = super::scopes::verb(request.method(), request.uri().path()) == super::scopes::Verb::Write;
        let lose = verdict.is_ok() && write && world.chaos.lose_next > 0;
        if lose {
            world.chaos.lose_next -= 1;
        }
        (delay, verdict.map(|(portal, headers)| (portal, headers, lose)))
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match verdict {
        Err(error) => {
            if error.status == StatusCode::TOO_MANY_REQUESTS {
                sim.world.lock().expect("simulator state").stats.rate_limited += 1;
            }
            error.into_response()
        }
        Ok((portal, headers, lose)) => {
            request.extensions_mut().insert(portal);
            let mut response = next.run(request).await;
            if lose {
                let timed_out = StatusCode::from_u16(524).expect("524 is a status code");
                return SimError::server(timed_out).into_response();
            }
            response.headers_mut().extend(headers);
            response
        }
    }
}

/// Chaos first (HubSpot's edge fails before it looks at the token), then the token and its scopes, then the limits.
fn admit(
    sim: &Shared,
    world: &mut super::World,
    headers: &HeaderMap,
    (method, path): (&Method, &str),
    search: bool,
) -> Result<(PortalId, HeaderMap), SimError> {
    let now = Instant::now();
    let chaos = &mut world.chaos;
    if world.chaos_set.is_some_and(|at| now.duration_since(at) < Duration::from_millis(chaos.outage_ms)) {
        return Err(SimError::server(StatusCode::SERVICE_UNAVAILABLE));
    }
    if chaos.pass_next > 0 {
        chaos.pass_next -= 1;
    } else if chaos.fail_next > 0 {
        chaos.fail_next -= 1;
        return Err(SimError::server(StatusCode::SERVICE_UNAVAILABLE));
    } else if chaos.throttle_next > 0 {
        chaos.throttle_next -= 1;
        return Err(SimError::rate_limited("TEN_SECONDLY_ROLLING", 1));
    }
    if chaos.error_rate > 0.0 && rand::random::<f64>() < chaos.error_rate {
        let status = [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT]
            [rand::random_range(0..3)];
        return Err(SimError::server(status));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| SimError::unauthorized("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"))?
        .to_owned();
    let grant = world
        .tokens
        .get(&token)
        .ok_or_else(|| SimError::unauthorized("The access token provided is invalid, expired or revoked."))?;
    if grant.expires_at.is_some_and(|at| at <= now) {
        return Err(SimError::expired());
    }
    scopes::check(&grant.scopes, method, path)?;
    let portal = PortalId(grant.portal_id);
    *world.stats.by_token.entry(token.clone()).or_default() += 1;
    if search {
        world.stats.searches += 1;
        let window = world.search_windows.entry(token).or_default();
        window
            .admit(now, SEARCH_WINDOW, sim.config.search_per_second)
            .map_err(|_| SimError::rate_limited("SECONDLY", 1))?;
        // Search answers carry no rate-limit headers.
        return Ok((portal, HeaderMap::new()));
    }
    let (max, span) = (sim.config.rate_limit, sim.config.rate_window);
    let window = world.windows.entry(token).or_default();
    let remaining = window
        .admit(now, span, max)
        .map_err(|wait| SimError::rate_limited("TEN_SECONDLY_ROLLING", wait.as_secs_f64().ceil().max(1.0) as u64))?;
    world.stats.daily += 1;
    let mut out = HeaderMap::new();
    let daily = sim.config.daily_limit;
    for (name, value) in [
        ("x-hubspot-ratelimit-max", max as u64),
        ("x-hubspot-ratelimit-remaining", remaining as u64),
        ("x-hubspot-ratelimit-interval-milliseconds", span.as_millis() as u64),
        ("x-hubspot-ratelimit-daily", daily),
        ("x-hubspot-ratelimit-daily-remaining", daily.saturating_sub(world.stats.daily)),
    ] {
        out.insert(name, HeaderValue::from(value));
    }
    Ok((portal, out))
}
