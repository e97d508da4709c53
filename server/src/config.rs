//! Configuration: every setting is a `--flag` and an environment variable; a bad value stops start-up with a
//! message that names the variable.

use std::net::IpAddr;

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Where the mirror lives: `sqlite://…` (embedded default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/mirror.db?mode=rwc", value_parser = database_url)]
    pub database_url: String,

    /// Redis, shared by replicas for the read cache and HubSpot's rate budget; unset means both stay in process.
    #[arg(long, env = "REDIS_URL", value_parser = redis_url)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key the gateway writes, so gateways for different HubSpot accounts can share a Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "hsgw")]
    pub redis_key_prefix: String,

    /// TCP port of the HTTP server.
    #[arg(long, env = "PORT", default_value_t = 4000, value_parser = port)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1", value_parser = bind)]
    pub bind: IpAddr,

    /// Threads serving HTTP, each with its own database pool; by default one per core.
    #[arg(long, env = "WORKERS", default_value_t = default_workers(), value_parser = workers)]
    pub workers: usize,

    /// Connections to the database this process opens at most, all its pools together: a third for background work
    /// (webhook appliers, sync, scoring, writes), the rest split evenly among the HTTP workers. By default 32 on
    /// Postgres and 8 on SQLite (at least 4 plus 2 a worker). Replicas times this must stay under Postgres's
    /// `max_connections`.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub database_max_connections: Option<u32>,

    /// Seconds a stop (SIGTERM or SIGINT) may take to finish open requests and the webhook applier's pass, close
    /// sockets and stop background work; past them the gateway exits non-zero, naming what was still running.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub shutdown_grace_secs: u64,

    /// The gateway's public address as HubSpot calls it (`https://crm.example.com`): webhook signatures cover it and
    /// the OAuth redirect starts with it; by default `http://BIND:PORT`.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Seconds an applier holds the webhook events it took before another may take them (it died meanwhile).
    #[arg(long, env = "WEBHOOK_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_lease_secs: u64,

    /// Seconds a replica holds the lease on singleton work (a portal's backfill and sweeps, the full scoring pass,
    /// the purge, retention) without renewing it; renewed every third of it, taken over within it when the holder dies.
    #[arg(long, env = "LEASE_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..))]
    pub lease_secs: u64,

    /// Webhook appliers in this process, sharing the event log as replicas do; by default 2 on Postgres (a pass
    /// mostly waits on the database; more take the database from the receiver and thin the backlog a pass
    /// coalesces) and 1 on SQLite (one writer at a time: more would only queue, and delay the
    /// receiver's writes).
    #[arg(long, env = "WEBHOOK_APPLIERS", value_parser = appliers)]
    pub webhook_appliers: Option<usize>,

    /// Weights of the health score's dimensions in the overall score: `crm=0.3,payment=0.25,engagement=0.25,support=0.2`.
    #[arg(long, env = "HEALTH_WEIGHTS", default_value = "crm=0.3,payment=0.25,engagement=0.25,support=0.2")]
    pub health_weights: crate::health::Weights,

    /// Thresholds of the insight rules, e.g. `inactive_days=30,high_value_revenue=10000`; see the README for all.
    #[arg(long, env = "INSIGHT_THRESHOLDS", default_value = "")]
    pub insight_thresholds: crate::health::Thresholds,

    /// Seconds between full passes that score every client again (recency and the 90-day windows move with time).
    #[arg(long, env = "HEALTH_RESCORE_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub health_rescore_secs: u64,

    /// Days an applied (or ignored) webhook event is kept, payload and all; then it is deleted. At least 2: the
    /// dedupe key must outlive HubSpot's retries (24 hours). Pending and dead events are kept however old.
    #[arg(long, env = "WEBHOOK_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(2..=36_500))]
    pub webhook_retention_days: u32,

    /// Days every change of a health score is kept; before them, only each client's last change of a UTC day.
    #[arg(long, env = "HEALTH_HISTORY_DETAIL_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub health_history_detail_days: u32,

    /// Seconds between retention passes (expired webhook events, OAuth states, idempotency keys; history compaction).
    #[arg(long, env = "RETENTION_PASS_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub retention_pass_secs: u64,

    /// `any`: webhook deliveries signed v3, v2 or v1; `v3`: v3 only (v1 and v2 sign no time, so a captured
    /// delivery could be replayed for ever). Use `v3` in production.
    #[arg(long, env = "WEBHOOK_SIGNATURES", default_value = "any")]
    pub webhook_signatures: crate::webhooks::signature::Versions,

    /// Events one webhook delivery may hold (HubSpot sends at most 100); a larger one is refused with 413.
    #[arg(long, env = "WEBHOOK_MAX_EVENTS", default_value_t = crate::webhooks::DEFAULT_MAX_EVENTS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub webhook_max_events: usize,

    /// Seconds an event's `occurredAt` may be ahead of this clock; a later one is stored dead with its reason.
    #[arg(long, env = "WEBHOOK_MAX_SKEW_SECS", default_value_t = crate::webhooks::screen::DEFAULT_MAX_SKEW_SECS)]
    pub webhook_max_skew_secs: u64,

    /// Seconds a request waits for a database connection before it is answered 503 (`SERVICE_UNAVAILABLE`).
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_secs: u64,

    /// `/readyz` answers 503 while more webhook events than this wait to be applied; 0 turns the check off.
    #[arg(long, env = "READY_MAX_WEBHOOK_BACKLOG", default_value_t = crate::readiness::Thresholds::DEFAULT.max_webhook_backlog)]
    pub ready_max_webhook_backlog: u64,

    /// `/readyz` answers 503 while the oldest event waiting to be applied was received longer ago than this; 0
    /// turns the check off.
    #[arg(long, env = "READY_MAX_WEBHOOK_LAG_SECS", default_value_t = crate::readiness::Thresholds::DEFAULT.max_webhook_lag_secs)]
    pub ready_max_webhook_lag_secs: u64,

    /// `fail`: `/readyz` answers 503 while a portal's sync is failing; `report` (the default): it names the portal
    /// and kind but stays ready, since the mirror still answers reads and every replica shares the failure.
    #[arg(long, env = "READY_SYNC_ERRORS", default_value = "report", value_parser = sync_errors)]
    pub ready_sync_errors_fail: bool,

    /// `text` (the default) or `json`: one JSON object per log line, for a log collector.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = log_format)]
    pub log_format_json: bool,

    /// `on`: every caller needs a credential (an API key). `off`: anyone who reaches the port is an admin of every
    /// portal; only on a loopback address, and logged at every start.
    #[arg(long, env = "AUTH", default_value = "on", value_parser = auth_mode)]
    pub auth: bool,

    /// `on`: serve GraphiQL at GET /graphql and answer introspection; `off`: neither. By default on for a loopback
    /// BIND, off for any other.
    #[arg(long, env = "GRAPHIQL", value_parser = auth_mode)]
    pub graphiql: Option<bool>,

    /// `any`: any valid operation runs, sent as text or as an Apollo persisted query's hash. `safelist`: only
    /// operations registered with `server operations add` run, so a production frontend's gateway runs no other.
    #[arg(long, env = "OPERATIONS", default_value = "any")]
    pub operations: crate::operations::Mode,

    /// On a loopback address, where the local admin key is kept (made on first start, shown in the log and sent by
    /// GraphiQL).
    #[arg(long, env = "LOCAL_KEY_FILE", default_value = "data/local-admin-key")]
    pub local_key_file: std::path::PathBuf,

    #[command(flatten)]
    pub jwt: JwtArgs,

    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub hubspot: HubSpotConfig,

    #[command(flatten)]
    pub oauth: OAuthConfig,
}

impl Config {
    /// What `/readyz` tolerates.
    pub fn readiness(&self) -> crate::readiness::Thresholds {
        crate::readiness::Thresholds {
            max_webhook_backlog: self.ready_max_webhook_backlog,
            max_webhook_lag_secs: self.ready_max_webhook_lag_secs,
            sync_errors_fail: self.ready_sync_errors_fail,
        }
    }

    /// `PUBLIC_URL` without a trailing slash, or `http://BIND:PORT`.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{}", self.bind, self.port))
            .trim_end_matches('/')
            .to_owned()
    }

    /// How the process's database connections are shared among its pools (`DATABASE_MAX_CONNECTIONS`).
    pub fn database_budget(&self) -> Result<crate::db::Budget, String> {
        let total = self.database_max_connections.unwrap_or_else(|| {
            crate::db::default_max_connections(&self.database_url).max(crate::db::Budget::least(self.workers))
        });
        crate::db::Budget::split(total, self.workers)
    }

    /// The webhook receiver, when a client secret is set.
    pub fn webhooks(&self) -> Option<crate::webhooks::Receiver> {
        let secrets = self.oauth.hubspot_client_secret.clone();
        (!secrets.is_empty()).then(|| crate::webhooks::Receiver {
            secrets,
            public_url: self.public_url(),
            signatures: self.webhook_signatures,
            limits: crate::webhooks::DeliveryLimits {
                max_events: self.webhook_max_events,
                max_skew_secs: self.webhook_max_skew_secs,
            },
        })
    }

    /// The Redis replicas share, when configured; it connects on first use.
    pub fn redis(&self) -> Result<Option<crate::shared_redis::SharedRedis>, String> {
        self.redis_url
            .as_deref()
            .map(|url| crate::shared_redis::SharedRedis::lazy(url, &self.redis_key_prefix))
            .transpose()
            .map_err(|e| format!("REDIS_URL: {e}"))
    }

    /// Installed portals' tokens, when the public app is configured (their token calls recorded in `sink`); a
    /// half-done configuration is an error.
    pub fn oauth_tokens(
        &self,
        db: &sea_orm::DatabaseConnection,
        redis: Option<crate::shared_redis::SharedRedis>,
        sink: &crate::metrics::Sink,
    ) -> Result<Option<std::sync::Arc<crate::oauth::OAuthTokens>>, String> {
        let o = &self.oauth;
        let (id, secret, key) = match (&o.hubspot_client_id, o.hubspot_client_secret.first(), &o.token_encryption_key) {
            // A secret alone verifies webhooks (a private app's); installs need the client id and a key too.
            (None, _, None) => return Ok(None),
            (Some(id), Some(secret), Some(key)) => (id, secret, key),
            _ => {
                return Err(
                    "HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and TOKEN_ENCRYPTION_KEY go together for OAuth installs: set all three, or neither the id nor the key"
                        .to_owned(),
                );
            }
        };
        let keys = crate::oauth::crypto::Keys::new(key, &o.token_encryption_old_keys).map_err(|e| e.to_string())?;
        let base = self.public_url();
        let app = crate::oauth::OAuthApp {
            client_id: id.clone(),
            client_secret: secret.clone(),
            redirect_uri: format!("{base}/oauth/hubspot/callback"),
            scopes: o.hubspot_oauth_scopes.split_whitespace().map(str::to_owned).collect(),
        };
        let settings = self.hubspot.settings(redis);
        let tokens = crate::oauth::OAuthTokens::new(
            db.clone(),
            std::sync::Arc::new(keys),
            app,
            crate::hubspot::HubSpot::anonymous(settings.clone()).with_sink(sink.clone()),
        );
        Ok(Some(std::sync::Arc::new(tokens)))
    }
}

/// What bounds each HTTP request and connection.
#[derive(Args, Clone, Debug)]
pub struct HttpArgs {
    /// The largest request body `/graphql` reads, in bytes (413 past it).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 262_144, value_parser = clap::value_parser!(u64).range(1024..))]
    pub max_body_bytes: u64,

    /// Seconds a client may take to send a request's headers before its connection is closed.
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,

    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Requests this process serves at once; more are answered 503 with Retry-After.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_concurrent_requests: u64,

    /// Requests a credential may send a minute, in a burst or spread out (one every 60 s / n once spent); shared
    /// by replicas through Redis when REDIS_URL is set. Not counted with AUTH=off.
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", default_value_t = crate::http::rate::DEFAULT_PER_MINUTE)]
    pub rate_limit_per_minute: std::num::NonZeroU32,

    /// Subscriptions one WebSocket may hold open at once.
    #[arg(long, env = "MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_subscriptions_per_connection: u64,

    /// Subscriptions one credential may hold open at once over all its WebSockets to a process.
    #[arg(long, env = "MAX_SUBSCRIPTIONS_PER_CREDENTIAL", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_subscriptions_per_credential: u64,

    /// Browser origins allowed to call the API from their pages (`https://app.example.com`, comma-separated);
    /// none by default, so only pages the gateway serves itself may.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', value_parser = origin)]
    pub cors_origins: Vec<axum::http::HeaderValue>,
}

impl HttpArgs {
    pub fn bounds(&self) -> crate::http::bounds::HttpBounds {
        crate::http::bounds::HttpBounds {
            max_body: self.max_body_bytes as usize,
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs),
            request_timeout: std::time::Duration::from_secs(self.request_timeout_secs),
            max_in_flight: self.max_concurrent_requests as usize,
            cors_origins: self.cors_origins.clone(),
            subscriptions_per_connection: self.max_subscriptions_per_connection as usize,
            subscriptions_per_credential: self.max_subscriptions_per_credential as usize,
        }
    }
}

fn origin(value: &str) -> Result<axum::http::HeaderValue, String> {
    let value = value.trim().trim_end_matches('/');
    let valid = value
        .split_once("://")
        .is_some_and(|(scheme, host)| matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/'));
    match axum::http::HeaderValue::from_str(value) {
        Ok(header) if valid => Ok(header),
        _ => Err(format!(
            "CORS_ORIGINS takes origins such as https://app.example.com (scheme and host, no path), got {value:?}"
        )),
    }
}

/// JWTs from the frontend's own identity provider: HS256 with a shared secret, or RS256/ES256 against a JWKS.
#[derive(Args, Clone)]
pub struct JwtArgs {
    /// HS256 shared secret (at least 32 bytes).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// The identity provider's JWKS (RS256, ES256 keys by `kid`; fetched again for an unknown `kid`).
    #[arg(long, env = "JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,

    /// The `iss` a token must carry, when set.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The `aud` a token must carry, when set.
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// The claim naming the portals a token may read (numbers or numeric strings).
    #[arg(long, env = "JWT_PORTALS_CLAIM", default_value = "portals")]
    pub jwt_portals_claim: String,

    /// The claim naming the token's role (reader, writer or admin).
    #[arg(long, env = "JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,
}

// By hand, so the secret never reaches Debug output.
impl std::fmt::Debug for JwtArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtArgs")
            .field("jwt_secret", &redacted(&self.jwt_secret))
            .field("jwt_jwks_url", &self.jwt_jwks_url)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_portals_claim", &self.jwt_portals_claim)
            .field("jwt_role_claim", &self.jwt_role_claim)
            .finish()
    }
}

impl JwtArgs {
    /// The verifier, when a secret or a JWKS URL is set.
    pub fn verifier(&self) -> Option<crate::auth::JwtVerifier> {
        let config = crate::auth::JwtConfig {
            secret: self.jwt_secret.clone(),
            jwks_url: self.jwt_jwks_url.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            portals_claim: self.jwt_portals_claim.clone(),
            role_claim: self.jwt_role_claim.clone(),
        };
        config.is_enabled().then(|| crate::auth::JwtVerifier::new(config, reqwest::Client::new()))
    }
}

/// How the gateway reaches HubSpot.
#[derive(Args, Clone)]
pub struct HubSpotConfig {
    /// HubSpot's REST API, or the simulator (`http://127.0.0.1:4010`).
    #[arg(long, env = "HUBSPOT_API_BASE", default_value = "https://api.hubapi.com", value_parser = api_base)]
    pub hubspot_api_base: String,

    /// A private app's access token; unset means no upstream (or OAuth installs, per portal).
    #[arg(long, env = "HUBSPOT_ACCESS_TOKEN", hide_env_values = true)]
    pub hubspot_access_token: Option<String>,

    /// Calls per 10 s per portal (HubSpot: 100 on Free/Starter, 190 on Professional/Enterprise); HubSpot's
    /// rate-limit headers correct it.
    #[arg(long, env = "HUBSPOT_RATE_LIMIT", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub hubspot_rate_limit: u32,

    /// Seconds between reconcile sweeps (search by last-modified date for what webhooks missed).
    #[arg(long, env = "SYNC_RECONCILE_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_reconcile_secs: u64,

    /// Seconds between re-reads of the reference data (owners, pipelines, property definitions, campaigns), which
    /// HubSpot sends no webhooks for; an id the mirror does not know triggers one at once.
    #[arg(long, env = "REFERENCE_REFRESH_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub reference_refresh_secs: u64,

    /// Seconds a disconnected portal's mirror is kept (a reinstall within them keeps it); then every row of the
    /// portal but the audit log and API keys is deleted.
    #[arg(long, env = "DISCONNECT_GRACE_SECS", default_value_t = 604_800)]
    pub disconnect_grace_secs: u64,

    /// Seconds before a call to HubSpot is abandoned (and retried).
    #[arg(long, env = "HUBSPOT_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub hubspot_timeout_secs: u64,

    /// Seconds a read answered by HubSpot stays cached (in Redis when REDIS_URL is set).
    #[arg(long, env = "HUBSPOT_CACHE_TTL_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub hubspot_cache_ttl_secs: u64,

    /// Calls to a portal failing in a row as an outage does (no answer, or a 5xx) that open its circuit: calls
    /// then fail at once with UPSTREAM_UNAVAILABLE.
    #[arg(long, env = "HUBSPOT_CIRCUIT_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub hubspot_circuit_failures: u32,

    /// Seconds an open circuit refuses calls before letting them try again (doubling, up to 8 times, while they
    /// keep failing).
    #[arg(long, env = "HUBSPOT_CIRCUIT_OPEN_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub hubspot_circuit_open_secs: u64,
}

/// The scopes an install asks for unless `HUBSPOT_OAUTH_SCOPES` says otherwise.
pub const DEFAULT_OAUTH_SCOPES: &str = "oauth crm.objects.contacts.read crm.objects.contacts.write \
    crm.objects.companies.read crm.objects.companies.write crm.objects.deals.read crm.objects.deals.write tickets \
    crm.objects.owners.read crm.schemas.contacts.read crm.schemas.companies.read crm.schemas.deals.read \
    crm.schemas.custom.read crm.objects.custom.read crm.objects.custom.write marketing.campaigns.read content";

/// The public app (OAuth installs); all of client id, secret and encryption key, or none.
#[derive(Args, Clone)]
pub struct OAuthConfig {
    #[arg(long, env = "HUBSPOT_CLIENT_ID")]
    pub hubspot_client_id: Option<String>,

    /// The app's client secret: the OAuth exchange uses the first; webhook signatures may match any, so a secret
    /// can rotate (comma-separated).
    #[arg(long, env = "HUBSPOT_CLIENT_SECRET", hide_env_values = true, value_delimiter = ',')]
    pub hubspot_client_secret: Vec<String>,

    /// Scopes asked for at install, space-separated: by default everything the gateway reads and writes (records,
    /// owners, property definitions, campaigns and marketing emails). A kind whose scope is missing is reported in
    /// `syncStatus` (`missingScopes`) and the rest of the sync goes on.
    #[arg(
        long,
        env = "HUBSPOT_OAUTH_SCOPES",
        default_value = DEFAULT_OAUTH_SCOPES
    )]
    pub hubspot_oauth_scopes: String,

    /// HubSpot's authorize page (the simulator's is `{HUBSPOT_API_BASE}/oauth/authorize`).
    #[arg(long, env = "HUBSPOT_AUTHORIZE_URL", default_value = "https://app.hubspot.com/oauth/authorize")]
    pub hubspot_authorize_url: String,

    /// `key-id:base64 of 32 bytes`: encrypts stored OAuth tokens (AES-256-GCM).
    #[arg(long, env = "TOKEN_ENCRYPTION_KEY", hide_env_values = true)]
    pub token_encryption_key: Option<String>,

    /// Earlier keys, comma-separated, still used to decrypt tokens stored under them.
    #[arg(long, env = "TOKEN_ENCRYPTION_OLD_KEYS", hide_env_values = true, value_delimiter = ',')]
    pub token_encryption_old_keys: Vec<String>,
}

/// A secret as Debug output shows it: whether it is set, never its value.
fn redacted<T>(secret: &Option<T>) -> Option<&'static str> {
    secret.as_ref().map(|_| "[redacted]")
}

// By hand, so the private app's token never reaches Debug output.
impl std::fmt::Debug for HubSpotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotConfig")
            .field("hubspot_api_base", &self.hubspot_api_base)
            .field("hubspot_access_token", &redacted(&self.hubspot_access_token))
            .field("hubspot_rate_limit", &self.hubspot_rate_limit)
            .field("sync_reconcile_secs", &self.sync_reconcile_secs)
            .field("reference_refresh_secs", &self.reference_refresh_secs)
            .field("disconnect_grace_secs", &self.disconnect_grace_secs)
            .field("hubspot_timeout_secs", &self.hubspot_timeout_secs)
            .field("hubspot_cache_ttl_secs", &self.hubspot_cache_ttl_secs)
            .field("hubspot_circuit_failures", &self.hubspot_circuit_failures)
            .field("hubspot_circuit_open_secs", &self.hubspot_circuit_open_secs)
            .finish()
    }
}

// By hand, so the client secrets and encryption keys never reach Debug output.
impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("hubspot_client_id", &self.hubspot_client_id)
            .field("hubspot_client_secret", &format!("[{} redacted]", self.hubspot_client_secret.len()))
            .field("hubspot_oauth_scopes", &self.hubspot_oauth_scopes)
            .field("hubspot_authorize_url", &self.hubspot_authorize_url)
            .field("token_encryption_key", &redacted(&self.token_encryption_key))
            .field("token_encryption_old_keys", &format!("[{} redacted]", self.token_encryption_old_keys.len()))
            .finish()
    }
}

impl HubSpotConfig {
    pub fn settings(&self, redis: Option<crate::shared_redis::SharedRedis>) -> crate::hubspot::ClientSettings {
        crate::hubspot::ClientSettings {
            base_url: self.hubspot_api_base.clone(),
            rate_limit: self.hubspot_rate_limit as usize,
            timeout: std::time::Duration::from_secs(self.hubspot_timeout_secs),
            cache_ttl: std::time::Duration::from_secs(self.hubspot_cache_ttl_secs),
            redis,
            circuit: crate::hubspot::CircuitSettings {
                failures: self.hubspot_circuit_failures,
                open_for: std::time::Duration::from_secs(self.hubspot_circuit_open_secs),
            },
            ..Default::default()
        }
    }

    /// The reconcile sweep's and the reference data's schedule.
    pub fn schedule(&self) -> crate::sync::Schedule {
        crate::sync::Schedule {
            reconcile: std::time::Duration::from_secs(self.sync_reconcile_secs),
            reference: std::time::Duration::from_secs(self.reference_refresh_secs),
            ..Default::default()
        }
    }
}

fn api_base(value: &str) -> Result<String, String> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(format!("HUBSPOT_API_BASE must be an http(s):// URL, got {value:?}"))
    }
}

fn database_url(value: &str) -> Result<String, String> {
    if ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| value.starts_with(p)) {
        Ok(value.to_owned())
    } else {
        Err(format!("DATABASE_URL must start with sqlite: or postgres://, got {value:?}"))
    }
}

fn redis_url(value: &str) -> Result<String, String> {
    if value.starts_with("redis://") || value.starts_with("rediss://") {
        Ok(value.to_owned())
    } else {
        Err(format!("REDIS_URL must start with redis:// or rediss://, got {value:?}"))
    }
}

fn port(value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("PORT must be a port number from 1 to 65535, got {value:?}"))
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn workers(value: &str) -> Result<usize, String> {
    count(value, "WORKERS", "threads", 256)
}

fn appliers(value: &str) -> Result<usize, String> {
    count(value, "WEBHOOK_APPLIERS", "appliers", 64)
}

fn count(value: &str, name: &str, what: &str, max: usize) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{name} must be a number of {what} from 1 to {max}, got {value:?}"))
}

/// `on` or `off` (AUTH, GRAPHIQL).
fn auth_mode(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("AUTH and GRAPHIQL are on or off, got {value:?}")),
    }
}

fn bind(value: &str) -> Result<IpAddr, String> {
    value.parse().map_err(|_| format!("BIND must be an IP address such as 127.0.0.1 or 0.0.0.0, got {value:?}"))
}

fn sync_errors(value: &str) -> Result<bool, String> {
    match value {
        "fail" => Ok(true),
        "report" => Ok(false),
        _ => Err(format!("READY_SYNC_ERRORS must be `fail` or `report`, not {value:?}")),
    }
}

fn log_format(value: &str) -> Result<bool, String> {
    match value {
        "json" => Ok(true),
        "text" => Ok(false),
        _ => Err(format!("LOG_FORMAT must be `text` or `json`, not {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_variable() {
        assert!(port("0").unwrap_err().contains("PORT"));
        assert!(port("http").unwrap_err().contains("PORT"));
        assert!(bind("localhost:1").unwrap_err().contains("BIND"));
        assert!(workers("0").unwrap_err().contains("WORKERS"));
        assert!(workers("many").unwrap_err().contains("WORKERS"));
        assert_eq!(workers("3"), Ok(3));
        assert!(appliers("0").unwrap_err().contains("WEBHOOK_APPLIERS"));
        assert_eq!(appliers("4"), Ok(4));
        assert!(database_url("mysql://x").unwrap_err().contains("DATABASE_URL"));
        assert!(redis_url("localhost").unwrap_err().contains("REDIS_URL"));
        assert!(api_base("api.hubapi.com").unwrap_err().contains("HUBSPOT_API_BASE"));
        assert_eq!(port("4000"), Ok(4000));
        assert!(auth_mode("maybe").unwrap_err().contains("AUTH"));
        let jwt = JwtArgs {
            jwt_secret: Some("s3cret-value-of-some-length".into()),
            jwt_jwks_url: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_portals_claim: "portals".into(),
            jwt_role_claim: "role".into(),
        };
        assert!(!format!("{jwt:?}").contains("s3cret"), "Debug never shows the JWT secret");
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "server",
            "--hubspot-access-token",
            "pat-na1-s3cret",
            "--hubspot-client-id",
            "app-1",
            "--hubspot-client-secret",
            "s3cret-one,s3cret-two",
            "--token-encryption-key",
            "k1:s3cret-key",
        ])
        .unwrap();
        let shown = format!("{:?}", cli.config);
        assert!(!shown.contains("s3cret"), "Debug never shows a HubSpot secret: {shown}");
        assert!(shown.contains("app-1") && shown.contains("[2 redacted]"), "{shown}");
        assert_eq!(auth_mode("OFF"), Ok(false));
        assert!(origin("app.example.com").unwrap_err().contains("CORS_ORIGINS"));
        assert!(origin("https://app.example.com/path").is_err());
        assert_eq!(origin("https://app.example.com/").unwrap(), "https://app.example.com");
        assert!("all".parse::<crate::operations::Mode>().unwrap_err().contains("OPERATIONS"));
        assert_eq!("Safelist".parse(), Ok(crate::operations::Mode::Safelist));
    }
}
