//! A HubSpot simulator: the REST endpoints of `shared/HUBSPOT.md` over in-memory portals made by the generator, with
//! HubSpot's shapes, status codes, error bodies, rate limits and OAuth, plus chaos on demand. Tests and the demo run
//! the gateway against it; `hubspot-sim` serves it on its own.
//!
//! Controls outside HubSpot's API, without a token: `GET /_sim/stats` (counts, and the last calls that named a gateway
//! request by `x-request-id`), `POST /_sim/chaos`, `GET /_sim/webhooks`,
//! `POST /_sim/mutate` (random changes), and `POST /_sim/owners`, `/_sim/properties/{type}` and
//! `/_sim/pipelines/{type}/{id}/stages` and
//! `/_sim/association-labels/{from}/{to}` to change a portal's reference data at run time (see `control`).

mod assoc;
mod assoc_labels;
mod control;
mod crm;
pub mod error;
pub mod labels;
pub mod limits;
pub mod mutate;
mod oauth;
mod properties;
mod reference;
mod schema_input;
mod schemas;
pub mod scopes;
mod search;
pub mod store;
pub mod webhooks;

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::ServiceExt;
use axum::{
    Json, Router,
    extract::State,
    middleware,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use generator::{PortalSpec, generate};
use serde::Serialize;
use serde_json::{Value, json};
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use self::{
    limits::{Chaos, Window},
    oauth::{Code, Grant},
    store::PortalState,
};

/// How the simulator behaves. `Default` is one small portal, HubSpot's default limits and no chaos.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Private-app tokens: the first belongs to the first portal, the second to the second, …
    pub tokens: Vec<String>,
    /// The scopes of a private-app token named here, instead of `scopes::PRIVATE_APP_SCOPES`: a test gives a token
    /// fewer to see HubSpot's 403 `MISSING_SCOPES`. Tokens not named keep the defaults.
    pub token_scopes: HashMap<String, Vec<String>>,
    /// The generated portals.
    pub portals: Vec<PortalSpec>,
    /// Calls per rolling window, per token.
    pub rate_limit: usize,
    /// HubSpot's window is ten seconds; tests shorten it.
    pub rate_window: Duration,
    pub daily_limit: u64,
    pub search_per_second: usize,
    /// The OAuth app the simulator accepts.
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of OAuth access tokens (HubSpot: 1800 s).
    pub token_ttl: Duration,
    pub chaos: Chaos,
    /// Where to deliver the webhooks of changes; none are sent without it.
    pub webhooks: Option<webhooks::WebhookSettings>,
}

pub const DEFAULT_TOKEN: &str = "pat-na1-00000000-0000-4000-8000-000000000000";
pub const DEFAULT_CLIENT_ID: &str = "sim-client-id";
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            tokens: vec![DEFAULT_TOKEN.to_owned()],
            token_scopes: HashMap::new(),
            portals: vec![PortalSpec::sized(100_001, 42, 200, 40, 100, Utc::now())],
            rate_limit: 100,
            rate_window: Duration::from_secs(10),
            daily_limit: 250_000,
            search_per_second: 5,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            token_ttl: Duration::from_secs(1800),
            chaos: Chaos::default(),
            webhooks: None,
        }
    }
}

/// What the simulator has seen, for tests and `GET /_sim/stats`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Every API call, refused ones included.
    pub requests: u64,
    /// The calls among them that change something (not a GET, search or batch read).
    pub writes: u64,
    pub rate_limited: u64,
    pub searches: u64,
    pub daily: u64,
    pub token_exchanges: u64,
    pub token_refreshes: u64,
    /// Requests refused with 414 because their path and query were longer than HubSpot takes.
    pub uri_too_long: u64,
    pub by_token: BTreeMap<String, u64>,
    /// The last calls (at most [`Stats::REQUESTS_KEPT`]) that named the gateway's request they were made for.
    pub requests_named: std::collections::VecDeque<NamedCall>,
}

impl Stats {
    pub const REQUESTS_KEPT: usize = 64;
}

/// An API call that carried the gateway's `x-request-id`, and its W3C `traceparent` if it had one.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedCall {
    pub request_id: String,
    pub traceparent: Option<String>,
    pub method: String,
    pub path: String,
}

/// Everything that changes, behind one lock: calls are short and never wait while holding it.
pub struct World {
    pub portals: BTreeMap<i64, PortalState>,
    pub tokens: HashMap<String, Grant>,
    pub codes: HashMap<String, Code>,
    /// Refresh token → portal and scopes.
    pub refresh_tokens: HashMap<String, Grant>,
    pub windows: HashMap<String, Window>,
    pub search_windows: HashMap<String, Window>,
    pub chaos: Chaos,
    pub chaos_set: Option<Instant>,
    pub stats: Stats,
}

impl World {
    /// The portal a request's token belongs to.
    pub fn portal_mut(&mut self, portal: limits::PortalId) -> &mut PortalState {
        self.portals.get_mut(&portal.0).expect("tokens only name known portals")
    }
}

pub struct Sim {
    pub config: SimConfig,
    pub world: Mutex<World>,
    pub sender: Arc<webhooks::SenderStats>,
    /// Random changes made by `/_sim/mutate` so far.
    pub changes_made: std::sync::atomic::AtomicU64,
}

pub type Shared = Arc<Sim>;

impl Sim {
    pub fn new(config: SimConfig) -> Shared {
        let portals: BTreeMap<i64, PortalState> = config
            .portals
            .iter()
            .map(|spec| {
                let mut state = PortalState::new(generate(spec));
                state.sends_webhooks = config.webhooks.is_some();
                (spec.portal_id, state)
            })
            .collect();
        let tokens = config
            .tokens
            .iter()
            .zip(portals.keys())
            .map(|(token, portal)| (token.clone(), Grant::private(*portal, config.token_scopes.get(token))))
            .collect();
        let world = World {
            portals,
            tokens,
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            windows: HashMap::new(),
            search_windows: HashMap::new(),
            chaos_set: Some(Instant::now()),
            chaos: config.chaos.clone(),
            stats: Stats::default(),
        };
        Arc::new(Self { config, world: Mutex::new(world), sender: Arc::default(), changes_made: Default::default() })
    }

    pub fn stats(&self) -> Stats {
        self.world.lock().expect("simulator state").stats.clone()
    }

    /// Webhook events of changes not yet handed to the sender.
    pub fn unsent(&self) -> usize {
        self.world.lock().expect("simulator state").portals.values().map(|p| p.outbox.len()).sum()
    }

    pub fn set_chaos(&self, chaos: Chaos) {
        let mut world = self.world.lock().expect("simulator state");
        world.chaos = chaos;
        world.chaos_set = Some(Instant::now());
    }
}

/// The simulator's routes: HubSpot's API behind the guard, OAuth and the `/_sim` controls outside it.
pub fn router(sim: Shared) -> Router {
    let api = Router::new()
        .merge(crm::routes())
        .merge(assoc::routes())
        .merge(assoc_labels::routes())
        .merge(reference::routes())
        .merge(properties::routes())
        .merge(schemas::routes())
        .route_layer(middleware::from_fn_with_state(sim.clone(), limits::guard));
    Router::new()
        .merge(api)
        .merge(oauth::routes())
        .merge(control::routes())
        .route("/_sim/stats", get(stats))
        .route("/_sim/chaos", post(chaos))
        .route("/_sim/webhooks", get(sender_stats))
        .route("/_sim/mutate", post(start_mutating))
        .layer(middleware::from_fn_with_state(sim.clone(), limits::uri_limit))
        .with_state(sim)
}

async fn stats(State(sim): State<Shared>) -> Json<Stats> {
    Json(sim.stats())
}

/// `POST /_sim/mutate`: random changes in the first portal, in the background.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutateRequest {
    changes: usize,
    #[serde(default = "default_rate")]
    per_second: f64,
    #[serde(default)]
    seed: u64,
}

fn default_rate() -> f64 {
    100.0
}

async fn start_mutating(State(sim): State<Shared>, Json(request): Json<MutateRequest>) -> Json<Value> {
    let portal = *sim.world.lock().expect("simulator state").portals.keys().next().expect("a portal");
    tokio::spawn(mutate::run(sim, portal, request.changes, request.per_second, request.seed));
    Json(json!({ "status": "started", "portal": portal, "changes": request.changes }))
}

async fn sender_stats(State(sim): State<Shared>) -> Json<webhooks::SenderSnapshot> {
    Json(sim.sender.snapshot())
}

async fn chaos(State(sim): State<Shared>, Json(chaos): Json<Chaos>) -> Json<Value> {
    sim.set_chaos(chaos);
    Json(json!({ "status": "ok" }))
}

/// A simulator serving on a free loopback port until dropped.
pub struct Running {
    pub sim: Shared,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    sender: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        Self::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn bind(config: SimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let sim = Sim::new(config);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        // HubSpot's clients ask for `/crm/v3/owners/` as often as `/crm/v3/owners`.
        let app = NormalizePathLayer::trim_trailing_slash().layer(router(sim.clone()));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(app)).await;
        });
        let sender = sim
            .config
            .webhooks
            .clone()
            .map(|settings| tokio::spawn(webhooks::run(sim.clone(), settings, sim.sender.clone())));
        Ok(Self { sim, addr, task, sender })
    }

    /// One small portal, with a rate limit out of the way, delivering its changes' webhooks as `webhooks` says.
    pub async fn delivering(portal: i64, webhooks: webhooks::WebhookSettings) -> Self {
        let config = SimConfig {
            portals: vec![crate::small_spec(portal)],
            rate_limit: 100_000,
            webhooks: Some(webhooks),
            ..SimConfig::default()
        };
        Self::start(config).await.expect("simulator starts")
    }

    /// Starts `changes` random changes at `per_second` through `POST /_sim/mutate` (its HTTP API, as a script would);
    /// returns once the simulator has taken them on.
    pub async fn mutate(&self, changes: u64, per_second: f64, seed: u64) {
        let started: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/_sim/mutate", self.base_url()))
            .json(&serde_json::json!({ "changes": changes, "perSecond": per_second, "seed": seed }))
            .send()
            .await
            .expect("the simulator answers")
            .json()
            .await
            .expect("a JSON answer");
        assert_eq!(started["changes"], changes, "the simulator took the changes on");
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.sim.config.tokens[0]
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(sender) = &self.sender {
            sender.abort();
        }
    }
}

/// The `startedAt`/`completedAt` pair batch answers carry.
pub(crate) fn batch_times(now: DateTime<Utc>) -> (String, String) {
    (hubspot::iso(now), hubspot::iso(Utc::now()))
}
