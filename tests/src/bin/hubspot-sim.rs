//! `hubspot-sim`: the HubSpot simulator on its own, for the demo and for frontend developers without a HubSpot
//! account. Point the gateway at it with `HUBSPOT_API_BASE=http://127.0.0.1:4010` and the `--token` below.

use std::{net::SocketAddr, time::Duration};

use chrono::Utc;
use clap::Parser;
use tests::{
    generator::PortalSpec,
    sim::{
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN, Running, SimConfig, limits::Chaos,
        webhooks::WebhookSettings,
    },
};

#[derive(Parser, Debug)]
#[command(about = "A HubSpot simulator: CRM, associations, pipelines, owners, marketing and OAuth endpoints")]
struct Args {
    #[arg(long, env = "SIM_PORT", default_value_t = 4010)]
    port: u16,
    #[arg(long, env = "SIM_BIND", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Private-app tokens it accepts: the first for the first portal, the next for the next (repeat the flag).
    #[arg(long = "token", env = "SIM_TOKEN", default_value = DEFAULT_TOKEN)]
    tokens: Vec<String>,
    /// How many portals; their ids are 100001, 100002, …
    #[arg(long, default_value_t = 1)]
    portals: usize,
    #[arg(long, default_value_t = 2_000)]
    contacts: usize,
    #[arg(long, default_value_t = 400)]
    companies: usize,
    #[arg(long, default_value_t = 1_000)]
    deals: usize,
    /// Seed of the generator: the same seed gives the same portals.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// API calls per rolling 10 s, per token (HubSpot: 100 on Free/Starter, 190 on Professional/Enterprise).
    #[arg(long, default_value_t = 100)]
    rate_limit: usize,
    #[arg(long, default_value_t = 5)]
    search_per_second: usize,
    #[arg(long, default_value_t = 250_000)]
    daily_limit: u64,
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    #[arg(long, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Lifetime of OAuth access tokens, in seconds.
    #[arg(long, default_value_t = 1800)]
    token_ttl_secs: u64,
    /// Chaos: milliseconds added to every API call.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Chaos: the share (0–1) of API calls answered 502/503/504.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Chaos: answer every API call 503 for this many seconds after start.
    #[arg(long, default_value_t = 0)]
    outage_secs: u64,
    /// Deliver webhooks of every change here (the gateway's `PUBLIC_URL/webhooks/hubspot`), signed with
    /// `--client-secret`.
    #[arg(long)]
    webhook_target: Option<String>,
    /// Scales webhook retry delays (HubSpot's first retry comes after a minute; 0.001 makes it 60 ms).
    #[arg(long, default_value_t = 1.0)]
    webhook_retry_scale: f64,
    /// The share (0–1) of webhook events sent twice.
    #[arg(long, default_value_t = 0.0)]
    webhook_duplicates: f64,
    /// Deliver webhook events in random order.
    #[arg(long)]
    webhook_shuffle: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let now = Utc::now();
    let portals = (0..args.portals.max(1))
        .map(|i| {
            let id = 100_001 + i as i64;
            PortalSpec::sized(id, args.seed + i as u64, args.contacts, args.companies, args.deals, now)
        })
        .collect::<Vec<_>>();
    let mut tokens = args.tokens.clone();
    while tokens.len() < portals.len() {
        tokens.push(format!("{}-{}", args.tokens[0], tokens.len() + 1));
    }
    let webhooks = args.webhook_target.map(|target| WebhookSettings {
        retry_base: Duration::from_secs(60).mul_f64(args.webhook_retry_scale.max(0.0)),
        duplicate_rate: args.webhook_duplicates,
        shuffle: args.webhook_shuffle,
        ..WebhookSettings::new(target, args.client_secret.clone())
    });
    let config = SimConfig {
        tokens: tokens.clone(),
        token_scopes: Default::default(),
        portals,
        rate_limit: args.rate_limit,
        rate_window: Duration::from_secs(10),
        daily_limit: args.daily_limit,
        search_per_second: args.search_per_second,
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_ttl: Duration::from_secs(args.token_ttl_secs),
        chaos: Chaos {
            latency_ms: args.latency_ms,
            error_rate: args.error_rate,
            outage_ms: args.outage_secs * 1000,
            ..Chaos::default()
        },
        webhooks,
    };
    let running = Running::bind(config, SocketAddr::new(args.bind, args.port)).await?;
    eprintln!("hubspot-sim listening on {}", running.base_url());
    for (i, token) in tokens.iter().enumerate().take(args.portals.max(1)) {
        eprintln!("  portal {} — token {token}", 100_001 + i);
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
