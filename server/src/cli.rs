//! The `server` command: `serve` (default), `migrate`, `schema`, `sync`, `keys`, `operations`.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand};
use schema::{
    ApiError,
    audit::{Entry, write},
};
use sea_orm::DatabaseConnection;

use crate::{config::Config, db, http, hubspot::credentials::Credentials, metrics::Metrics, stopping::Stopping};

#[derive(Parser, Debug)]
#[command(name = "server", about = "HubSpot CRM behind one GraphQL API")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Copy a portal from HubSpot into the mirror (resumes an interrupted backfill unless --full).
    Sync {
        /// The portal; by default the one the access token belongs to.
        #[arg(long)]
        portal: Option<i64>,
        /// Start every object type again from the first page.
        #[arg(long)]
        full: bool,
    },
    /// Manage API keys: `keys create --portal P --role reader --name "web app"`, `keys list`, `keys revoke ID`.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage registered operations (the only ones that run with OPERATIONS=safelist): `operations add FILE.graphql…`,
    /// `operations list`, `operations remove SHA256`.
    Operations {
        #[command(subcommand)]
        action: OperationsAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Make a key and print it: the only time it is shown (only its hash is stored).
    Create {
        /// The portals it may read: ids, comma-separated or the flag repeated, or `*` for every portal.
        #[arg(long, required = true, value_delimiter = ',')]
        portal: Vec<String>,
        /// reader (queries, subscriptions), writer (also mutations) or admin (also webhook log, replays, OAuth,
        /// keys, audit log).
        #[arg(long, value_parser = |v: &str| v.parse::<schema::Role>())]
        role: schema::Role,
        /// What the key is for.
        #[arg(long)]
        name: String,
    },
    /// List keys (ids, names, roles, portals; never secrets).
    List,
    /// Revoke a key by its id; serving gateways refuse it within seconds.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum OperationsAction {
    /// Register the document in each file and print its SHA-256, the hash a client may send instead of its text.
    /// A file is one document, its text without leading and trailing whitespace: what the client must send. Each
    /// operation in it is checked against the schema first (nothing runs); one refused registers no file.
    Add {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// List registered operations: SHA-256, operation names, when registered.
    List,
    /// Remove a registered operation by its SHA-256; serving gateways refuse it within seconds.
    Remove { sha256: String },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let traces = crate::traces::init(cli.config.log_format_json)?;
    db::set_acquire_timeout(std::time::Duration::from_secs(cli.config.db_acquire_timeout_secs));
    let done = match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => {
            print!("{}", schema::sdl());
            Ok(())
        }
        Command::Migrate => migrate(&cli.config).await,
        Command::Sync { portal, full } => sync(&cli.config, portal, full).await,
        Command::Keys { action } => keys(&cli.config, action).await,
        Command::Operations { action } => operations(&cli.config, action).await,
        Command::Serve => serve(cli.config, &traces).await,
    };
    // What the exporter still holds goes out before the exit.
    traces.flush();
    done
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = db::connect(&config.database_url).await.context("connecting to DATABASE_URL")?;
    crate::migrate::run(&config.database_url, &db).await.context("migrating")?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn keys(config: &Config, action: KeysAction) -> anyhow::Result<()> {
    let db = db::connect_and_migrate(&config.database_url).await.context("connecting to DATABASE_URL")?;
    manage_keys(&db, action).await
}

/// `server keys …` against `db`. A create or revoke leaves audit rows naming the caller `cli` (an attempt to revoke
/// a key that is not live, one row of no portal), and never the key's secret.
pub async fn manage_keys(db: &DatabaseConnection, action: KeysAction) -> anyhow::Result<()> {
    use crate::{
        audit::{CLI, key_changed},
        auth::{Grant, keys},
    };
    match action {
        KeysAction::Create { portal, role, name } => {
            let grant: Grant = portal.join(",").parse().map_err(anyhow::Error::msg).context("--portal")?;
            let (key, info) = keys::create(db, &name, role, &grant).await.context("storing the key")?;
            key_changed(db, CLI, "keys create", "createApiKey", &info).await;
            println!("{key}");
            eprintln!("key {} ({role}, portals {grant}): shown once; send it as Authorization: Bearer <key>", info.id);
        }
        KeysAction::List => {
            for key in keys::list(db).await.context("listing keys")? {
                let state = if key.revoked { "revoked" } else { "live" };
                println!("{}\t{}\t{}\t{}\t{}\t{}", key.id, key.role, key.portals, state, key.created_at, key.name);
            }
        }
        KeysAction::Revoke { id } => {
            // Read first: the rows name the portals the key granted.
            let live = keys::list(db).await.context("listing keys")?.into_iter().find(|k| k.id == id && !k.revoked);
            let revoked = keys::revoke(db, &id).await.context("revoking")?;
            let entry = Entry::new(CLI, None, "keys revoke").operation("revokeApiKey");
            match (revoked, live) {
                (true, Some(info)) => key_changed(db, CLI, "keys revoke", "revokeApiKey", &info).await,
                // Made and revoked between the two reads: its portals are unknown, its id is a key's.
                (true, None) => write(db, entry.target(format!("key {id}"))).await,
                // What was typed is not a live key's id, and may be a whole key pasted by mistake: it is not kept.
                (false, _) => write(db, entry.failed(&ApiError::invalid("id", "names no live key"))).await,
            }
            anyhow::ensure!(revoked, "no live key {id}");
            eprintln!("key {id} revoked");
        }
    }
    Ok(())
}

async fn operations(config: &Config, action: OperationsAction) -> anyhow::Result<()> {
    use crate::operations::registered;
    let db = db::connect_and_migrate(&config.database_url).await.context("connecting to DATABASE_URL")?;
    match action {
        OperationsAction::Add { files } => {
            for (document, new) in registered::add_files(&db, &files).await? {
                println!("{}\t{}", document.sha256, document.names.join(", "));
                if !new {
                    eprintln!("{} was registered already", document.sha256);
                }
            }
        }
        OperationsAction::List => {
            for operation in registered::list(&db).await.context("listing operations")? {
                println!("{}\t{}\t{}", operation.sha256, operation.name, operation.created_at);
            }
        }
        OperationsAction::Remove { sha256 } => {
            anyhow::ensure!(registered::remove(&db, &sha256).await.context("removing")?, "no operation {sha256}");
            eprintln!("operation {sha256} removed");
        }
    }
    Ok(())
}

/// How callers are checked, and the local admin key GraphiQL sends on a loopback address. A public address needs
/// a way in: AUTH=off is refused there, and so is a gateway no key could call.
async fn authenticator(
    config: &Config,
    db: &sea_orm::DatabaseConnection,
) -> anyhow::Result<(Arc<crate::auth::Authenticator>, Option<String>)> {
    use crate::auth::{Authenticator, KeyStore, local};
    let loopback = config.bind.is_loopback();
    if !config.auth {
        anyhow::ensure!(
            loopback,
            "AUTH=off is only allowed on a loopback BIND (127.0.0.1, ::1); BIND is {}: keep AUTH=on and create an API key with `server keys create`",
            config.bind
        );
        tracing::warn!("AUTH=off: every caller that reaches this loopback port is an admin of every portal");
        return Ok((Arc::new(Authenticator::Off), None));
    }
    let local_key = match loopback {
        true => Some(local::admin_key(db, &config.local_key_file).await.context("the local admin key")?),
        false => None,
    };
    let keys = KeyStore::load(db).await.context("loading API keys")?;
    let auth = Authenticator::On { keys, jwt: config.jwt.verifier() };
    anyhow::ensure!(
        auth.has_a_way_in(),
        "BIND {} is not a loopback address and no caller could authenticate: create an API key with `server keys create --portal P --role reader|writer|admin --name NAME`, or set JWT_SECRET or JWT_JWKS_URL",
        config.bind
    );
    Ok((Arc::new(auth), local_key))
}

/// The upstream client for every portal, each calling with its own credential (the private app's token for its
/// portal, OAuth tokens for the installed ones), and the OAuth tokens; `None` without either.
type Upstream = (crate::hubspot::HubSpot, Arc<Credentials>, Option<Arc<crate::oauth::OAuthTokens>>);

fn upstream(
    config: &Config,
    db: &sea_orm::DatabaseConnection,
    redis: Option<crate::shared_redis::SharedRedis>,
    sink: &crate::metrics::Sink,
) -> anyhow::Result<Option<Upstream>> {
    let oauth =
        config.oauth_tokens(db, redis.clone(), sink).map_err(anyhow::Error::msg).context("OAuth configuration")?;
    let private_app = config.hubspot.hubspot_access_token.clone();
    if private_app.is_none() && oauth.is_none() {
        return Ok(None);
    }
    let installs = oauth.clone().map(|t| t as Arc<dyn crate::hubspot::TokenSource>);
    let credentials = Arc::new(Credentials::new(private_app, installs));
    let client =
        crate::hubspot::HubSpot::new(config.hubspot.settings(redis), credentials.clone()).with_sink(sink.clone());
    Ok(Some((client, credentials, oauth)))
}

async fn sync(config: &Config, portal: Option<i64>, full: bool) -> anyhow::Result<()> {
    let redis = config.redis().map_err(anyhow::Error::msg)?;
    // A backfill and its scoring pass are the background work `Serves::Background` keeps few statements for.
    let url = &config.database_url;
    let db = db::connect_and_migrate_sized(url, db::pool_size(url), db::Serves::Background)
        .await
        .context("connecting to DATABASE_URL")?;
    let (hubspot, credentials, _) = upstream(config, &db, redis, &crate::metrics::Sink::default())?
        .context("neither HUBSPOT_ACCESS_TOKEN nor an OAuth app is set: there is no HubSpot to sync from")?;
    if let Some(token) = credentials.private_app() {
        let owner = crate::sync::token_portal(&hubspot, token).await.context("finding the token's portal")?;
        credentials.private_portal_is(owner);
    }
    let portal = portal
        .or(credentials.private_portal())
        .context("--portal is needed: there is no private app's token to tell the portal by")?;
    let started = std::time::Instant::now();
    let report = crate::sync::backfill(&db, &hubspot, portal, full, &crate::sync::Progress::for_terminal())
        .await
        .context("backfilling")?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        portal,
        objects = report.objects,
        associations = report.associations,
        calls = report.calls,
        secs,
        "backfill done"
    );
    Ok(())
}

async fn serve(config: Config, traces: &crate::traces::Traces) -> anyhow::Result<()> {
    let budget = config.database_budget().map_err(anyhow::Error::msg)?;
    let stopping = Stopping::default();
    let mut metrics = Metrics::default();
    let mut db = db::connect_and_migrate_sized(&config.database_url, budget.background, db::Serves::Background)
        .await
        .context("connecting to DATABASE_URL")?;
    db::count_statements(&mut db, Arc::clone(&metrics.sql_statements));
    let redis = config.redis().map_err(anyhow::Error::msg)?;
    let notifier = match (&config.redis_url, &redis) {
        (Some(url), Some(shared)) => crate::health::notify::Notifier::through_redis(url, shared.clone())
            .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?,
        _ => crate::health::notify::Notifier::in_process(),
    };
    let scoring = crate::health::Scoring { weights: config.health_weights, thresholds: config.insight_thresholds };
    let health = crate::health::Health {
        notifier: Some(notifier.clone()),
        rescored: metrics.health_clients_rescored.clone(),
        ..crate::health::Health::new(db.clone(), scoring)
    };
    metrics.health_pending_records = health.pending.gauge();
    let leases = crate::leases::Leases::for_database(&db, std::time::Duration::from_secs(config.lease_secs));
    tracing::info!(holder = leases.holder(), "this replica's name in the leases table");
    let hubspot = upstream(&config, &db, redis.clone(), &metrics.sink)?;
    let supervisor = match &hubspot {
        Some((client, credentials, _)) => {
            metrics.read_cache = client.cache_stats().clone();
            let schedule = config.hubspot.schedule();
            let supervisor = crate::sync::Supervisor::new(db.clone(), client.clone(), Some(health.clone()), schedule)
                .stopped_by(stopping.clone())
                .with_leases(leases.clone());
            supervisor.start(credentials.clone()).await;
            Some(supervisor)
        }
        None => None,
    };
    let oauth = hubspot.as_ref().and_then(|(_, _, oauth)| oauth.clone());
    let install = match (oauth, &supervisor) {
        (Some(tokens), Some(supervisor)) => Some(crate::oauth::Install {
            tokens,
            authorize_url: config.oauth.hubspot_authorize_url.clone(),
            public_url: config.public_url(),
            supervisor: supervisor.clone(),
        }),
        _ => None,
    };
    let hubspot = hubspot.map(|(client, _, _)| client);
    // Applied webhooks and checked mutations that meet an unknown owner, stage or property share one re-read.
    let reference = Arc::new(crate::sync::reference::OnMiss::default());
    let webhooks = config.webhooks();
    if webhooks.is_some() {
        let applier = crate::webhooks::apply::Applier {
            db: db.clone(),
            hubspot: hubspot.clone(),
            stats: metrics.webhooks.clone(),
            settings: crate::webhooks::apply::ApplierSettings {
                lease: std::time::Duration::from_secs(config.webhook_lease_secs),
                ..Default::default()
            },
            health: Some(health.clone()),
            reference: reference.clone(),
        };
        let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
        for _ in 0..config.webhook_appliers.unwrap_or(if postgres { 2 } else { 1 }) {
            stopping.spawn("webhook applier", applier.clone().run_until(stopping.token()));
        }
    }
    // Singleton work: each runs on whichever replica holds its lease.
    let grace = std::time::Duration::from_secs(config.hubspot.disconnect_grace_secs);
    // Each purge is one transaction, and scores are derived data a full pass at every start recomputes: both may be
    // cut anywhere.
    let every = std::time::Duration::from_secs(60);
    let purge_db = db.clone();
    let purge = leases.clone();
    let purging =
        async move { purge.run("purge", || crate::mirror::purge::keep_purging(purge_db.clone(), grace, every)).await };
    stopping.spawn_until_stopped("purging disconnected portals", purging);
    let every = std::time::Duration::from_secs(config.health_rescore_secs);
    let (score, scored_health, passes) = (leases.clone(), health.clone(), metrics.health_full_passes.clone());
    let scoring = async move {
        score.run("health:full-pass", || crate::health::keep_scored(scored_health.clone(), every, passes.clone())).await
    };
    stopping.spawn_until_stopped("health scoring", scoring);
    let policy = crate::retention::Policy {
        webhook_days: config.webhook_retention_days,
        history_detail_days: config.health_history_detail_days,
    };
    // Each batch commits by itself: a pass may be cut anywhere, and the next finishes it.
    let retaining = crate::retention::run(
        db.clone(),
        policy,
        leases.clone(),
        std::time::Duration::from_secs(config.retention_pass_secs),
        metrics.retention_passes.clone(),
    );
    stopping.spawn_until_stopped("retention", retaining);
    let upstream = hubspot.map(|hubspot| {
        let keys = crate::idempotency::Keys::new(db.clone(), hubspot.settings().longest_call());
        let health = Some(health.clone());
        Arc::new(crate::upstream::HubSpotUpstream {
            db: db.clone(),
            hubspot,
            keys,
            health,
            reference: reference.clone(),
            search_lag: crate::upstream::SEARCH_LAG,
        }) as Arc<dyn schema::upstream::Upstream>
    });
    let (auth, local_key) = authenticator(&config, &db).await?;
    stopping.spawn_until_stopped("reloading API keys", auth.clone().keep_reloading(db.clone()));
    let operations = crate::operations::Operations::load(&db, config.operations, redis.clone())
        .await
        .context("loading registered operations")?;
    if operations.mode() == crate::operations::Mode::Safelist {
        let registered = operations.registered().len();
        match registered {
            0 => tracing::warn!("OPERATIONS=safelist and no operation is registered: every request will be refused"),
            _ => tracing::info!(registered, "OPERATIONS=safelist: only registered operations run"),
        }
    }
    stopping.spawn_until_stopped("reloading registered operations", operations.clone().keep_reloading());
    let state = http::AppState::new(db, metrics)
        .await
        .context("loading portals")?
        .with_install(install.map(Arc::new))
        .with_webhooks(webhooks)
        .with_upstream(upstream)
        .with_feed(Some(Arc::new(notifier)))
        .with_auth(auth, local_key.clone())
        .with_operations(operations)
        .with_graphiql(config.graphiql.unwrap_or(config.bind.is_loopback()))
        .with_bounds(config.http.bounds())
        .with_rates(crate::http::rate::CallerRates::new(config.http.rate_limit_per_minute, redis.clone()))
        .with_stopping(stopping.child())
        .with_readiness(crate::readiness::Readiness {
            thresholds: config.readiness(),
            redis: redis.clone(),
            ..Default::default()
        });
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr} (BIND, PORT)"))?;
    let connections = budget.total(config.workers);
    tracing::info!(workers = config.workers, connections, "GraphQL and GraphiQL at http://{addr}/graphql");
    if let Some(key) = local_key {
        // Shown on the terminal, not in the log: the loopback admin key GraphiQL already sends.
        println!("Local admin key (also in {}): Authorization: Bearer {key}", config.local_key_file.display());
    }
    let signal = crate::stopping::signals().context("listening for SIGTERM and SIGINT")?;
    let running = Running { http: state.stopping.clone(), in_flight: state.in_flight.clone(), reference };
    let workers = http::workers::Workers::new(config.workers, &config.database_url).with_pool(budget.per_worker);
    // The workers stop when `stopping` does (the state's is its child).
    let serving = http::workers::serve(listener, state, workers, std::future::pending());
    tokio::pin!(serving);
    let signal = tokio::select! {
        served = &mut serving => return served,
        signal = signal => signal,
    };
    let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);
    tracing::info!(signal, ?grace, "stopping: refusing new connections, finishing open requests and passes");
    stopping.stop();
    let everything = async {
        let (served, (), ()) = tokio::join!(serving, stopping.finished(), running.reference.finished());
        served
    };
    match tokio::time::timeout(grace, everything).await {
        Ok(served) => {
            served?;
            // A clean stop hands the singleton work to another replica at once rather than when the leases run out.
            leases.release_all().await;
            tracing::info!("stopped");
            flush_logs();
            Ok(())
        }
        Err(_) => {
            running.log_cut_off(&stopping, config.http.max_concurrent_requests);
            traces.flush();
            flush_logs();
            // Not a return: the runtime's drop would wait for the worker threads still serving.
            std::process::exit(STOP_OVERRAN);
        }
    }
}

/// The exit status when the stop's grace ran out.
const STOP_OVERRAN: i32 = 1;

/// What a stop waits for besides the background tasks, to name what is left when the grace runs out.
struct Running {
    http: Stopping,
    in_flight: http::bounds::InFlight,
    reference: Arc<crate::sync::reference::OnMiss>,
}

impl Running {
    fn log_cut_off(&self, background: &Stopping, max_in_flight: u64) {
        let permits = self.in_flight.0.available_permits() as u64;
        tracing::error!(
            requests_in_flight = max_in_flight.saturating_sub(permits),
            sockets = ?self.http.still_running(),
            background = ?background.still_running(),
            "the stop's grace (SHUTDOWN_GRACE_SECS) ran out; exiting with these cut off"
        );
    }
}

/// Log lines are written as they come; what the standard streams still buffer goes out before the exit.
fn flush_logs() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
