//! HubSpot's OAuth 2.0: authorize (auto-approves and redirects with a code), token (`authorization_code` and
//! `refresh_token`), access-token info and refresh-token revoke.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{delete, get, post},
};
use serde_json::json;

use super::{Shared, error::correlation_id, scopes::PRIVATE_APP_SCOPES};

/// What a token grants: a portal, until when, with which scopes.
#[derive(Clone, Debug)]
pub struct Grant {
    pub portal_id: i64,
    pub expires_at: Option<Instant>,
    pub scopes: Vec<String>,
    pub private_app: bool,
}

impl Grant {
    /// A private app's token: `scopes`, or when `None` the simulator's defaults (`scopes::PRIVATE_APP_SCOPES`).
    pub fn private(portal_id: i64, scopes: Option<&Vec<String>>) -> Self {
        let scopes = scopes.cloned().unwrap_or_else(|| PRIVATE_APP_SCOPES.iter().map(|s| (*s).to_owned()).collect());
        Self { portal_id, expires_at: None, scopes, private_app: true }
    }
}

/// An authorization code waiting to be exchanged once.
#[derive(Clone, Debug)]
pub struct Code {
    pub portal_id: i64,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
}

const CODE_TTL: Duration = Duration::from_secs(600);
const APP_ID: i64 = 4_242_424;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/v1/token", post(token))
        .route("/oauth/v1/access-tokens/{token}", get(token_info))
        .route("/oauth/v1/refresh-tokens/{token}", delete(revoke).get(refresh_info))
}

fn oauth_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, Json(json!({ "status": kind, "message": message, "correlationId": correlation_id() }))).into_response()
}

/// Long random tokens, as HubSpot's are (up to 512 characters).
fn random_token(prefix: &str, bytes: usize) -> String {
    let mut out = String::from(prefix);
    for _ in 0..bytes {
        out.push_str(&format!("{:02x}", rand::random::<u8>()));
    }
    out
}

/// Approves at once: the first portal, or `portal_id` when given (the account a user would pick).
async fn authorize(State(sim): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("client_id") != Some(&sim.config.client_id) {
        return (StatusCode::BAD_REQUEST, "Invalid client_id: the app does not exist").into_response();
    }
    let Some(redirect_uri) = q.get("redirect_uri") else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is required").into_response();
    };
    let mut world = sim.world.lock().expect("simulator state");
    let portal_id = match q.get("portal_id").map(|p| p.parse::<i64>()) {
        Some(Ok(id)) if world.portals.contains_key(&id) => id,
        Some(_) => return (StatusCode::BAD_REQUEST, "Unknown portal_id").into_response(),
        None => *world.portals.keys().next().expect("the simulator has a portal"),
    };
    let scopes = q.get("scope").map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
    let code = random_token("", 18);
    world.codes.insert(
        code.clone(),
        Code { portal_id, redirect_uri: redirect_uri.clone(), scopes, expires_at: Instant::now() + CODE_TTL },
    );
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut target = format!("{redirect_uri}{sep}code={code}");
    if let Some(state) = q.get("state") {
        target.push_str(&format!("&state={}", urlencode(state)));
    }
    Redirect::to(&target).into_response()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn token(State(sim): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("client_id") != sim.config.client_id || field("client_secret") != sim.config.client_secret {
        return oauth_error(StatusCode::BAD_REQUEST, "BAD_CLIENT_ID", "missing or invalid client_id or client_secret");
    }
    let mut world = sim.world.lock().expect("simulator state");
    let now = Instant::now();
    let (grant, refresh_token) = match field("grant_type") {
        "authorization_code" => {
            let Some(code) = world.codes.remove(field("code")).filter(|c| c.expires_at > now) else {
                return oauth_error(StatusCode::BAD_REQUEST, "BAD_AUTH_CODE", "missing or unknown auth code");
            };
            if code.redirect_uri != field("redirect_uri") {
                return oauth_error(StatusCode::BAD_REQUEST, "BAD_REDIRECT_URI", "redirect_uri does not match");
            }
            world.stats.token_exchanges += 1;
            let grant = Grant { portal_id: code.portal_id, expires_at: None, scopes: code.scopes, private_app: false };
            let refresh = random_token("na1-", 18);
            world.refresh_tokens.insert(refresh.clone(), grant.clone());
            (grant, refresh)
        }
        "refresh_token" => {
            let refresh = field("refresh_token").to_owned();
            let Some(grant) = world.refresh_tokens.get(&refresh).cloned() else {
                return oauth_error(StatusCode::BAD_REQUEST, "BAD_REFRESH_TOKEN", "missing or unknown refresh token");
            };
            world.stats.token_refreshes += 1;
            (grant, refresh)
        }
        other => {
            return oauth_error(StatusCode::BAD_REQUEST, "BAD_GRANT_TYPE", &format!("unsupported grant_type {other}"));
        }
    };
    let ttl = sim.config.token_ttl;
    let access = random_token("CK", 150);
    world.tokens.insert(access.clone(), Grant { expires_at: Some(now + ttl), ..grant });
    Json(json!({
        "access_token": access,
        "refresh_token": refresh_token,
        "expires_in": ttl.as_secs(),
        "token_type": "bearer",
    }))
    .into_response()
}

async fn token_info(State(sim): State<Shared>, Path(token): Path<String>) -> Response {
    let world = sim.world.lock().expect("simulator state");
    let now = Instant::now();
    match world.tokens.get(&token).filter(|g| g.expires_at.is_none_or(|at| at > now)) {
        Some(grant) => Json(json!({
            "token": token,
            "user": "sim-user@example.com",
            "hub_domain": format!("portal-{}.example.com", grant.portal_id),
            "scopes": grant.scopes,
            "hub_id": grant.portal_id,
            "app_id": APP_ID,
            "expires_in": grant.expires_at.map_or(0, |at| at.duration_since(now).as_secs()),
            "user_id": 7_000_001,
            "token_type": "access",
        }))
        .into_response(),
        None => oauth_error(StatusCode::NOT_FOUND, "error", "The token is invalid, expired or revoked."),
    }
}

async fn refresh_info(State(sim): State<Shared>, Path(token): Path<String>) -> Response {
    let world = sim.world.lock().expect("simulator state");
    match world.refresh_tokens.get(&token) {
        Some(grant) => Json(json!({
            "token": token, "user": "sim-user@example.com", "hub_id": grant.portal_id, "scopes": grant.scopes,
            "client_id": sim.config.client_id, "token_type": "refresh",
        }))
        .into_response(),
        None => oauth_error(StatusCode::NOT_FOUND, "error", "The refresh token is invalid or revoked."),
    }
}

/// Revoking a refresh token also ends the access tokens it issued, as HubSpot uninstalls the app.
async fn revoke(State(sim): State<Shared>, Path(token): Path<String>) -> Response {
    let mut world = sim.world.lock().expect("simulator state");
    match world.refresh_tokens.remove(&token) {
        Some(grant) => {
            world.tokens.retain(|_, g| g.private_app || g.portal_id != grant.portal_id);
            StatusCode::NO_CONTENT.into_response()
        }
        None => oauth_error(StatusCode::NOT_FOUND, "error", "The refresh token is invalid or revoked."),
    }
}
