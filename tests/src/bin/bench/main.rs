//! `make bench`: seeds large mirrors on SQLite and Postgres, starts the release gateway on each, drives it over
//! loopback and writes the figures to BENCHMARKS.md.

use std::{
    fmt::Write as _,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tests::{
    load::{self, LoadReport},
    sim::{Running, SimConfig},
};

mod auth;
mod hostile;
mod peer;
mod subscriptions;
mod webhooks;
mod writes;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    contacts: usize,
    #[arg(long, default_value_t = 20_000)]
    companies: usize,
    #[arg(long, default_value_t = 50_000)]
    deals: usize,
    /// Seconds each scenario runs (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    backend: String,
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    #[arg(long, default_value = "target/release/server")]
    server: PathBuf,
    #[arg(long, default_value_t = 4100)]
    port: u16,
    /// Keep the mirror a previous run seeded (same sizes) instead of seeding anew.
    #[arg(long)]
    reuse: bool,
    /// The database (SQLite file under target/bench) the query scenarios and the race seed: another name lets a
    /// trial run leave the last run's mirror alone.
    #[arg(long, default_value = "gw_bench")]
    database: String,
    /// Run only the scenarios whose name contains this text (`backfill` for the backfill alone).
    #[arg(long)]
    only: Option<String>,
    /// Contacts of the portal the backfill scenario syncs from the simulator (a fifth as many companies, half as
    /// many deals).
    #[arg(long, default_value_t = 10_000)]
    backfill_contacts: usize,
    /// Multiples of `--contacts`, `--companies` and `--deals` to run the query scenarios at, one after the other
    /// (`1,10`). A scale other than 1 has its own database, `{database}_x{scale}`, so the 1× mirror stays for
    /// `--reuse`.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    scale: Vec<usize>,
}

const PORTAL: i64 = 100_001;

const NESTED: &str = "query Nested { companies(first: 50, orderBy: [{field: NAME}]) { edges { node { name \
    contacts(first: 20) { nodes { email firstName lastName } } \
    deals(first: 20) { nodes { name amount stage { label probability } owner { email } } } } } } }";

/// Where BENCHMARKS.md's notes by hand start; a run keeps them.
const NOTES_HEADING: &str = "## Where the time goes";

/// The backfill scenario's name, for `--only`.
const BACKFILL: &str = "backfill";
/// The webhook scenario's name, for `--only`.
const WEBHOOKS: &str = "webhooks";
/// The writes and fallback reads scenario's name, for `--only`.
const WRITES: &str = "writes";
/// The subscriptions and rescoring scenario's name, for `--only`.
const SUBSCRIPTIONS: &str = "subscriptions";

/// The baseline row: the nested query's SQL, run without the gateway.
const SQL_ALONE: &str = "nested: its SQL alone, hand-written client, no gateway";
/// The yardstick row: the nested query's answer as PostGraphile's one statement, run without a server.
const ONE_STATEMENT: &str = "nested: as one PostGraphile-style statement, no server";

struct Scenario {
    name: &'static str,
    body: String,
}

struct Row {
    scenario: &'static str,
    report: LoadReport,
    statements_per_request: f64,
}

struct BackendRun {
    backend: &'static str,
    /// The multiple of the default sizes the mirror held.
    scale: usize,
    /// Seconds the seeding took, and the bench process's peak resident memory (MiB) after it; `None` when a
    /// mirror was reused.
    seeded: Option<(f64, f64)>,
    startup: Startup,
    peak_rss_mib: f64,
    rows: Vec<Row>,
    /// The race against PostGraphile (Postgres only).
    race: Option<peer::Run>,
}

fn body(query: &str, variables: Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

/// The answer of the GraphQL server at `url` to `body`, which must have no errors.
async fn answer(url: &str, body: &str) -> anyhow::Result<Value> {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    let value: Value = response.json().await?;
    if value.get("errors").is_some() {
        bail!("query to {url} failed: {value}");
    }
    Ok(value)
}

/// The simulator serving `spec` with HubSpot's rate limits lifted: for the scenarios that measure the gateway, not
/// how it keeps to HubSpot's budget.
async fn unlimited_simulator(spec: generator::PortalSpec) -> anyhow::Result<Running> {
    Running::start(SimConfig {
        portals: vec![spec],
        rate_limit: 100_000_000,
        daily_limit: u64::MAX,
        ..SimConfig::default()
    })
    .await
    .context("starting the simulator")
}

/// The value of the counter `name` in the gateway's `/metrics` at `base`.
async fn metric(base: &str, name: &str) -> anyhow::Result<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await?.text().await?;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{name} in /metrics"))
}

/// Waits for the gateway at `base` to answer `/healthz`, then for its first health-scoring pass to end (it rescores
/// every client, seeded or reused, for some seconds of CPU), so that pass does not weigh on what is measured.
async fn wait_healthy(base: &str) -> anyhow::Result<()> {
    wait_up(base).await?;
    wait_scored(base).await
}

/// Waits for the gateway at `base` to answer `/healthz`.
async fn wait_up(base: &str) -> anyhow::Result<()> {
    let mut healthy = false;
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !healthy {
        bail!("the gateway did not become healthy");
    }
    Ok(())
}

/// Waits for the first health-scoring pass of the gateway at `base` to end.
async fn wait_scored(base: &str) -> anyhow::Result<()> {
    for _ in 0..600 {
        if metric(base, "gateway_health_full_passes_total").await? > 0.0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("the gateway's first health-scoring pass did not end within 5 minutes")
}

/// How long the gateway took to come up.
#[derive(Clone, Copy, Default)]
struct Startup {
    /// From spawning `server serve` to the first answer of a small GraphQL query.
    first_answer: Duration,
    /// From that answer to the end of the first health-scoring pass over every client.
    first_pass: Duration,
}

/// A query small enough that its answer times the start-up, not the query.
const FIRST_QUERY: &str = "query First { contacts(first: 1) { nodes { email } } }";

/// Times the gateway at `base`, spawned at `spawned`: until it answers [`FIRST_QUERY`], then until its first
/// health-scoring pass ended (after which it is measured, that pass no longer weighing on it).
async fn time_startup(base: &str, spawned: Instant) -> anyhow::Result<Startup> {
    let url = format!("{base}/graphql");
    let first = body(FIRST_QUERY, json!({}));
    let limit = Duration::from_secs(60);
    while answer(&url, &first).await.is_err() {
        if spawned.elapsed() > limit {
            bail!("the gateway did not answer a query within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first_answer = spawned.elapsed();
    let answered = Instant::now();
    while metric(base, "gateway_health_full_passes_total").await? == 0.0 {
        if answered.elapsed() > Duration::from_secs(600) {
            bail!("the gateway's first health-scoring pass did not end within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Startup { first_answer, first_pass: answered.elapsed() })
}

struct Gateway {
    child: Child,
    base: String,
    startup: Startup,
}

impl Gateway {
    async fn start(args: &Args, database_url: &str) -> anyhow::Result<Self> {
        let spawned = Instant::now();
        let child = Command::new(&args.server)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORT", args.port.to_string())
            // Loopback, measured without a credential.
            .env("AUTH", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the gateway")?;
        let mut gateway = Self { child, base: format!("http://127.0.0.1:{}", args.port), startup: Startup::default() };
        gateway.startup = time_startup(&gateway.base, spawned).await?;
        Ok(gateway)
    }

    async fn statements(&self) -> anyhow::Result<f64> {
        metric(&self.base, "gateway_sql_statements_total").await
    }

    async fn query(&self, body: &str) -> anyhow::Result<Value> {
        answer(&format!("{}/graphql", self.base), body).await
    }

    /// Peak resident memory of the gateway process (VmHWM), in MiB.
    fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id())
    }
}

/// Peak resident memory of the process `pid` (VmHWM), in MiB; 0 when it is gone.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cursor deep in the filtered contacts list: the benchmark asks for the page after it.
async fn deep_cursor(gateway: &Gateway, filter: &Value, pages: usize) -> anyhow::Result<Option<String>> {
    let query = "query Walk($where: ContactWhere, $after: String) { contacts(where: $where, \
        orderBy: [{field: CREATED_AT, direction: DESC}], first: 100, after: $after) { pageInfo { endCursor hasNextPage } } }";
    let mut after: Option<String> = None;
    for _ in 0..pages {
        let page = gateway.query(&body(query, json!({ "where": filter, "after": after }))).await?;
        let info = &page["data"]["contacts"]["pageInfo"];
        if info["hasNextPage"] != json!(true) {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    Ok(after)
}

async fn scenarios(gateway: &Gateway) -> anyhow::Result<Vec<Scenario>> {
    let filter = json!({ "lifecycleStage": { "in": ["lead", "opportunity", "customer", "subscriber"] } });
    // 250 pages of 100: the page asked for starts past row 25,000 (page 500 at 50 a page).
    let cursor = deep_cursor(gateway, &filter, 250).await?;
    let deep = "query Deep($where: ContactWhere, $after: String) { contacts(where: $where, \
        orderBy: [{field: CREATED_AT, direction: DESC}], first: 50, after: $after) { \
        edges { cursor node { email firstName lastName lifecycleStage createdAt } } pageInfo { hasNextPage } } }";
    let search = "query Search($q: String) { contacts(search: $q, first: 20) { totalCount nodes { email fullName companyName } } }";
    let capped = "query Search($q: String) { contacts(search: $q, first: 20) { totalCount(upTo: 1000) nodes { email fullName companyName } } }";
    // Custom properties (set on about 30% of contacts): a list page filtered on two of them and sorted by a third.
    let custom = "query Custom { contacts(first: 50, where: { properties: [
        { name: \"tier\", in: [\"gold\", \"silver\"] }, { name: \"renewal_date\", gte: \"2026-01-01\" }] },
        orderBy: [{ property: \"custom_score\", direction: DESC }]) {
        nodes { email score: property(name: \"custom_score\") { value } tier: property(name: \"tier\") { label } } } }";
    Ok(vec![
        Scenario { name: "nested: 50 companies → contacts, deals → stage, owner", body: body(NESTED, json!({})) },
        Scenario {
            name: "filtered, sorted contacts page past row 25,000",
            body: body(deep, json!({ "where": filter, "after": cursor })),
        },
        Scenario { name: "text search (\"smith\", with totalCount)", body: body(search, json!({ "q": "smith" })) },
        Scenario {
            name: "text search (\"smith\", totalCount up to 1,000)",
            body: body(capped, json!({ "q": "smith" })),
        },
        Scenario {
            name: "custom properties: 2 property filters, sorted by a third (50 contacts)",
            body: body(custom, json!({})),
        },
    ])
}

/// The URL of the database called `name` on `backend`: emptied, unless `reuse`.
async fn prepare_database(backend: &str, name: &str, reuse: bool) -> anyhow::Result<String> {
    match backend {
        "sqlite" => {
            let dir = PathBuf::from("target/bench");
            std::fs::create_dir_all(&dir)?;
            if !reuse {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(dir.join(format!("{name}.db{suffix}")));
                }
            }
            Ok(format!("sqlite://{}/{name}.db?mode=rwc", dir.display()))
        }
        _ if reuse => Ok(tests::postgres_url(name)),
        _ => {
            let admin_url = tests::postgres_admin_url();
            let admin = Database::connect(&admin_url).await.context("connecting to Postgres")?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            Ok(tests::postgres_url(name))
        }
    }
}

/// Whether `--only` lets the scenario named `name` run: its text, or one of its `|`-separated texts, is in the name.
fn wanted(args: &Args, name: &str) -> bool {
    args.only.as_deref().is_none_or(|only| only.split('|').any(|o| name.contains(o)))
}

/// Seeds the database at `url` with a generated portal of `contacts`, `companies` and `deals` (generator seed 42).
async fn seed(url: &str, [contacts, companies, deals]: [usize; 3]) -> anyhow::Result<()> {
    let spec = generator::PortalSpec::sized(PORTAL, 42, contacts, companies, deals, chrono::Utc::now());
    seed_portal(url, &generator::generate(&spec)).await
}

/// Seeds the database at `url` with `portal`: Postgres by `COPY` (the rows `write_portal` writes, see
/// `server::mirror::copy_portal`), SQLite by `write_portal`'s inserts in one transaction. On Postgres a checkpoint
/// follows, so that every run is measured from the same point of the checkpoint cycle: the seed's write-ahead log
/// otherwise decided whether a checkpoint (and the full-page images every page's next change then logs) fell inside
/// the measured seconds, and the webhook figures of one binary ranged over a half.
async fn seed_portal(url: &str, portal: &hubspot::Portal) -> anyhow::Result<()> {
    eprintln!("seeding {}/{}/{} …", portal.contacts.len(), portal.companies.len(), portal.deals.len());
    let db = server::db::connect_and_migrate(url).await.context("connecting to the bench database")?;
    if url.starts_with("postgres") {
        server::mirror::copy_portal(&db, portal).await.context("seeding")?;
    } else {
        server::mirror::write_portal(&db, portal).await.context("seeding")?;
    }
    db.close().await?;
    if url.starts_with("postgres") {
        Database::connect(tests::postgres_admin_url()).await?.execute_unprepared("CHECKPOINT").await?;
    }
    Ok(())
}

/// Whether the mirror at `url` holds the portal's `contacts` (live or not), so that `--reuse` may keep it.
async fn holds(url: &str, contacts: usize) -> bool {
    let Ok(db) = Database::connect(url).await else { return false };
    let count = sea_orm::Statement::from_string(
        db.get_database_backend(),
        format!("SELECT count(*) AS n FROM contacts WHERE portal_id = {PORTAL}"),
    );
    let held = db.query_one_raw(count).await.ok().flatten().and_then(|row| row.try_get::<i64>("", "n").ok());
    let _ = db.close().await;
    held == Some(contacts as i64)
}

async fn run_backend(args: &Args, backend: &'static str, scale: usize) -> anyhow::Result<BackendRun> {
    let sizes = [args.contacts * scale, args.companies * scale, args.deals * scale];
    let database = if scale == 1 { args.database.clone() } else { format!("{}_x{scale}", args.database) };
    let mut url = prepare_database(backend, &database, true).await?;
    let seeded = if args.reuse && holds(&url, sizes[0]).await {
        None
    } else {
        if args.reuse {
            eprintln!("[{database}] does not hold {} contacts: seeding it", sizes[0]);
        }
        url = prepare_database(backend, &database, false).await?;
        let started = Instant::now();
        seed(&url, sizes).await?;
        Some((started.elapsed().as_secs_f64(), peak_rss_mib(std::process::id())))
    };

    let gateway = Gateway::start(args, &url).await?;
    eprintln!(
        "[{backend} {scale}×] first answer {:.0} ms after spawning, first scoring pass {:.1} s after that",
        gateway.startup.first_answer.as_secs_f64() * 1000.0,
        gateway.startup.first_pass.as_secs_f64()
    );
    let graphql = format!("{}/graphql", gateway.base);
    let mut rows = Vec::new();
    for scenario in scenarios(&gateway).await?.into_iter().filter(|s| wanted(args, s.name)) {
        for clients in [1, 16] {
            load::run(&graphql, scenario.body.clone(), clients, Duration::from_secs(1)).await;
            let before = gateway.statements().await?;
            let report = load::run(&graphql, scenario.body.clone(), clients, Duration::from_secs(args.secs)).await;
            let after = gateway.statements().await?;
            if report.failures > 0 {
                bail!("{} of {} requests failed in {}", report.failures, report.requests, scenario.name);
            }
            let statements_per_request = (after - before) / report.requests as f64;
            eprintln!(
                "[{backend} {scale}×] {} ×{clients}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} SQL/request",
                scenario.name,
                report.per_second(),
                report.percentile_ms(0.5),
                report.percentile_ms(0.99),
                statements_per_request
            );
            rows.push(Row { scenario: scenario.name, report, statements_per_request });
        }
    }
    if backend == "postgres" {
        let pool = sql_alone::pool(&url).await?;
        for (scenario, statements) in [(SQL_ALONE, sql_alone::STATEMENTS), (ONE_STATEMENT, 1.0)] {
            if !wanted(args, scenario) {
                continue;
            }
            for clients in [1, 16] {
                let session = |_| {
                    let pool = pool.clone();
                    move || {
                        let pool = pool.clone();
                        async move {
                            match scenario {
                                SQL_ALONE => sql_alone::nested(&pool, PORTAL).await,
                                _ => sql_alone::one_statement(&pool, PORTAL).await,
                            }
                        }
                    }
                };
                load::drive(clients, Duration::from_secs(1), session).await;
                let report = load::drive(clients, Duration::from_secs(args.secs), session).await;
                if report.failures > 0 {
                    bail!("{} of {} runs of {scenario} failed", report.failures, report.requests);
                }
                eprintln!(
                    "[{backend} {scale}×] {scenario} ×{clients}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                    report.per_second(),
                    report.percentile_ms(0.5),
                    report.percentile_ms(0.99),
                );
                rows.push(Row { scenario, report, statements_per_request: statements });
            }
        }
    }
    let race = if backend == "postgres" && scale == 1 && wanted(args, peer::RACE) {
        Some(peer::run(args, &url, &gateway).await?)
    } else {
        None
    };
    let startup = gateway.startup;
    Ok(BackendRun { backend, scale, seeded, startup, peak_rss_mib: gateway.peak_rss_mib(), rows, race })
}

/// The runs of the scenarios besides the queries.
struct Scenarios {
    backfills: Vec<backfill::Run>,
    webhooks: Vec<webhooks::Run>,
    writes: Vec<writes::Run>,
    subscriptions: Vec<subscriptions::Run>,
    auths: Vec<auth::Run>,
    hostiles: Vec<hostile::Run>,
}

fn render(args: &Args, runs: &[BackendRun], scenarios: &Scenarios) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Produced by `make bench` (`scripts/bench`, i.e. `target/release/bench --contacts {} --companies {} --deals {} \
         --secs {}{}`) on {} with {} cores; the load generator runs on the same machine, over loopback, closed loop \
         (each client sends its next request when the last one answered). Compare ratios within one run: the machine \
         is noisy.\n",
        args.contacts,
        args.companies,
        args.deals,
        args.secs,
        if args.scale == [1] { String::new() } else { format!(" --scale {}", scales(&args.scale)) },
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    // A run of the race alone (`--only race`) has no rows of its own to show.
    for run in runs.iter().filter(|r| !r.rows.is_empty()) {
        let _ = writeln!(out, "## {}\n", heading(run));
        let seeded = match run.seeded {
            Some((secs, _)) => format!("Seeding the mirror took {secs:.1} s"),
            None => "The mirror of an earlier run was reused".to_owned(),
        };
        let _ = writeln!(
            out,
            "{seeded}; the gateway answered its first query {:.0} ms after it was spawned and ended its first health-scoring \
             pass {:.1} s after that; its peak resident memory over the run was {:.0} MiB.\n",
            run.startup.first_answer.as_secs_f64() * 1000.0,
            run.startup.first_pass.as_secs_f64(),
            run.peak_rss_mib
        );
        let _ = writeln!(out, "| scenario | clients | req/s | p50 ms | p99 ms | SQL statements / request |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for row in &run.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.1} |",
                row.scenario,
                row.report.clients,
                row.report.per_second(),
                row.report.percentile_ms(0.5),
                row.report.percentile_ms(0.99),
                row.statements_per_request
            );
        }
        let _ = writeln!(out);
    }
    scale::render(&mut out, args, runs);
    peer::render(&mut out, args, runs.iter().find_map(|r| r.race.as_ref()));
    backfill::render(&mut out, args, &scenarios.backfills);
    webhooks::render(&mut out, args, &scenarios.webhooks);
    writes::render(&mut out, args, &scenarios.writes);
    subscriptions::render(&mut out, &scenarios.subscriptions);
    auth::render(&mut out, args, &scenarios.auths);
    hostile::render(&mut out, &scenarios.hostiles);
    out
}

/// `1,10` for scales 1 and 10.
fn scales(scales: &[usize]) -> String {
    scales.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

/// A query run's section heading: the backend, and the scale when it is not 1 (the 1× sections keep their names).
fn heading(run: &BackendRun) -> String {
    match run.scale {
        1 => run.backend.to_owned(),
        scale => format!("{} at {scale}× the data", run.backend),
    }
}

/// The `## ` sections of a Markdown text, each with its heading line, after the text before the first one.
fn sections(text: &str) -> (&str, Vec<&str>) {
    let starts: Vec<usize> = text.match_indices("\n## ").map(|(at, _)| at + 1).collect();
    let Some(&first) = starts.first() else { return (text, Vec::new()) };
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    (&text[..first], starts.iter().zip(ends).map(|(&start, end)| &text[start..end]).collect())
}

/// BENCHMARKS.md after a run: the run's sections replace those of the same heading, sections of scenarios that did
/// not run (`--only`) keep their last figures, and the notes by hand stay last. A partial run (`partial`: its
/// command and date) keeps the intro of the run the rest comes from and adds which sections it rewrote.
fn merge(previous: &str, fresh: &str, partial: Option<&str>) -> String {
    let heading = |section: &str| section.lines().next().unwrap_or_default().to_owned();
    let (old_intro, old) = sections(previous);
    let (intro, new) = sections(fresh);
    let (notes, old): (Vec<&str>, Vec<&str>) = old.into_iter().partition(|s| s.starts_with(NOTES_HEADING));
    let mut out = match partial {
        Some(run) if !old.is_empty() => {
            let rewritten: Vec<String> = new.iter().map(|n| heading(n).trim_start_matches("## ").to_owned()).collect();
            let line = format!("{run} rewrote: {}.", rewritten.join(", "));
            // The same command again on the same day says nothing new.
            if old_intro.lines().any(|l| l == line) {
                old_intro.trim_end().to_owned()
            } else {
                format!("{}\n\n{line}", old_intro.trim_end())
            }
        }
        _ => intro.trim_end().to_owned(),
    };
    let mut push = |section: &str| {
        let _ = write!(out, "\n\n{}", section.trim_end());
    };
    for section in &old {
        match new.iter().find(|n| heading(n) == heading(section)) {
            Some(fresh) if partial.is_some() => push(&keep_rows_not_run(section, fresh)),
            Some(fresh) => push(fresh),
            None => push(section),
        }
    }
    for section in new.iter().filter(|n| old.iter().all(|o| heading(o) != heading(n))) {
        push(section);
    }
    notes.iter().for_each(|n| push(n));
    out.push('\n');
    out
}

/// `fresh`, with the table rows of `previous` whose first cell no row of `fresh` has: a run of one backend keeps
/// the other's rows, a run of some scenarios (`--only`) the rows of the rest. Rows keep the order they had. A table
/// whose header changed keeps none.
fn keep_rows_not_run(previous: &str, fresh: &str) -> String {
    let is_row = |line: &&str| line.starts_with('|');
    let key = |line: &str| line.split('|').nth(1).unwrap_or_default().trim().to_owned();
    let lines: Vec<&str> = fresh.lines().collect();
    let (Some(first), Some(last)) = (lines.iter().position(is_row), lines.iter().rposition(is_row)) else {
        return fresh.to_owned();
    };
    let ran = &lines[first..=last];
    let old: Vec<&str> = previous.lines().filter(is_row).collect();
    // A table of another layout (its header changed) has no rows to keep.
    if old.first() != ran.first() {
        return fresh.to_owned();
    }
    let mut keys: Vec<String> = Vec::new();
    for row in old.iter().chain(ran) {
        if !keys.contains(&key(row)) {
            keys.push(key(row));
        }
    }
    let rows = keys.iter().flat_map(|k| {
        let from = if ran.iter().any(|r| key(r) == *k) { ran } else { &old[..] };
        from.iter().copied().filter(move |r| key(r) == *k)
    });
    let merged: Vec<&str> =
        lines[..first].iter().copied().chain(rows).chain(lines[last + 1..].iter().copied()).collect();
    merged.join("\n") + if fresh.ends_with('\n') { "\n" } else { "" }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backends: Vec<&'static str> = match args.backend.as_str() {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        "both" => vec!["sqlite", "postgres"],
        other => bail!("--backend must be sqlite, postgres or both, got {other:?}"),
    };
    let (mut runs, mut backfills, mut webhooks, mut writes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut subscriptions, mut auths, mut hostiles) = (Vec::new(), Vec::new(), Vec::new());
    for backend in backends {
        // The race runs on Postgres only: `--only race` seeds no SQLite mirror.
        let race_alone = args.only.as_deref() == Some(peer::RACE) && backend == "sqlite";
        if !race_alone
            && args.only.as_deref().is_none_or(|only| {
                [BACKFILL, WEBHOOKS, WRITES, SUBSCRIPTIONS, auth::AUTH, hostile::HOSTILE]
                    .iter()
                    .all(|s| !s.contains(only))
            })
        {
            for &scale in &args.scale {
                runs.push(run_backend(&args, backend, scale).await?);
            }
        }
        if wanted(&args, BACKFILL) {
            backfills.push(backfill::run(&args, backend).await?);
        }
        if wanted(&args, WEBHOOKS) {
            webhooks.push(webhooks::run(&args, backend).await?);
        }
        if wanted(&args, WRITES) {
            writes.push(writes::run(&args, backend).await?);
        }
        if wanted(&args, SUBSCRIPTIONS) {
            subscriptions.push(subscriptions::run(&args, backend).await?);
        }
        if wanted(&args, auth::AUTH) {
            auths.push(auth::run(&args, backend).await?);
        }
        if wanted(&args, hostile::HOSTILE) {
            hostiles.push(hostile::run(&args, backend).await?);
        }
    }
    let previous = std::fs::read_to_string(&args.out).unwrap_or_default();
    let scenarios = Scenarios { backfills, webhooks, writes, subscriptions, auths, hostiles };
    let fresh = render(&args, &runs, &scenarios);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let partial = (args.only.is_some() || args.backend != "both")
        .then(|| format!("`{command}` on {}", chrono::Utc::now().format("%Y-%m-%d")));
    std::fs::write(&args.out, merge(&previous, &fresh, partial.as_deref()))?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// A full `server sync` of a simulated portal, paced by the limit the simulator enforces: objects a second, and
/// how much of the budget the sync used (the limit, not our code, should be the bottleneck).
mod backfill {
    use std::{
        fmt::Write as _,
        process::Stdio,
        sync::{Arc, Mutex},
        time::{Duration, Instant},
    };

    use anyhow::{Context, bail};

    use super::{Args, PORTAL, Running, SimConfig, prepare_database};

    /// HubSpot's limit for a private app on Free/Starter, which the simulator enforces.
    const LIMIT: usize = 100;
    const WINDOW: Duration = Duration::from_secs(10);

    pub struct Run {
        backend: &'static str,
        objects: u64,
        calls: u64,
        rate_limited: u64,
        secs: f64,
        /// Calls in each whole window since the sync started, as a share of the limit.
        window_shares: Vec<f64>,
    }

    pub async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Run> {
        let contacts = args.backfill_contacts;
        let spec = generator::PortalSpec::sized(PORTAL, 7, contacts, contacts / 5, contacts / 2, chrono::Utc::now());
        let sim = Running::start(SimConfig {
            portals: vec![spec],
            rate_limit: LIMIT,
            rate_window: WINDOW,
            ..SimConfig::default()
        })
        .await?;
        let url = prepare_database(backend, "gw_backfill", false).await?;
        eprintln!("[{backend}] backfilling {contacts} contacts from the simulator at {LIMIT} calls per {WINDOW:?} …");
        let sync = tokio::process::Command::new(&args.server)
            .args(["sync", "--portal", &PORTAL.to_string()])
            .env("DATABASE_URL", &url)
            .env("HUBSPOT_API_BASE", sim.base_url())
            .env("HUBSPOT_ACCESS_TOKEN", sim.token())
            .env("HUBSPOT_RATE_LIMIT", LIMIT.to_string())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting server sync")?;
        let started = Instant::now();
        // The simulator's count of calls, sampled often, so calls can be counted per window.
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sampler = tokio::spawn({
            let (sim, samples) = (sim.sim.clone(), samples.clone());
            async move {
                loop {
                    samples.lock().unwrap().push((started.elapsed(), sim.stats().requests));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        let output = sync.wait_with_output().await?;
        let secs = started.elapsed().as_secs_f64();
        sampler.abort();
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            bail!("server sync failed:\n{log}");
        }
        let objects = log
            .lines()
            .find(|l| l.contains("backfill done"))
            .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("objects=")))
            .and_then(|v| v.parse().ok())
            .context("objects= in the sync's \"backfill done\" line")?;
        let stats = sim.sim.stats();
        let window_shares = shares(&samples.lock().unwrap());
        let run =
            Run { backend, objects, calls: stats.requests, rate_limited: stats.rate_limited, secs, window_shares };
        eprintln!(
            "[{backend}] backfill: {} objects in {secs:.1} s, {} calls, {} refused with 429, windows used {:?}",
            run.objects, run.calls, run.rate_limited, run.window_shares
        );
        Ok(run)
    }

    /// Calls made in each whole window `[k·WINDOW, (k+1)·WINDOW)`, divided by the limit. HubSpot's window rolls, so
    /// no stretch of one window's length may hold more than the limit: 1.0 is the most a sync can use.
    fn shares(samples: &[(Duration, u64)]) -> Vec<f64> {
        let count_at = |t: Duration| samples.iter().take_while(|(at, _)| *at <= t).last().map_or(0, |(_, n)| *n);
        let end = samples.last().map_or(Duration::ZERO, |(at, _)| *at);
        let whole = (end.as_secs_f64() / WINDOW.as_secs_f64()).floor() as u32;
        (0..whole).map(|k| (count_at(WINDOW * (k + 1)) - count_at(WINDOW * k)) as f64 / LIMIT as f64).collect()
    }

    pub fn render(out: &mut String, args: &Args, runs: &[Run]) {
        if runs.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n\n## Backfill from the simulator\n\n`server sync` of a simulated portal with {} contacts, {} companies \
             and {} deals (plus tickets, owners, pipelines, campaigns and every association), against the simulator \
             enforcing HubSpot's {LIMIT} calls per {} s. \"Budget used\" is the calls in each whole {} s window since \
             the start, as a share of the limit (the window rolls, so 1.00 is the most possible); the goal is within \
             10% of the budget and no 429.\n",
            args.backfill_contacts,
            args.backfill_contacts / 5,
            args.backfill_contacts / 2,
            WINDOW.as_secs(),
            WINDOW.as_secs()
        );
        let _ = writeln!(
            out,
            "| backend | objects | seconds | objects/s | calls | calls/s | budget used (mean, lowest) | 429s |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for run in runs {
            let mean = run.window_shares.iter().sum::<f64>() / run.window_shares.len().max(1) as f64;
            let lowest = run.window_shares.iter().copied().fold(f64::INFINITY, f64::min);
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.0} | {} | {:.1} | {mean:.2}, {lowest:.2} | {} |",
                run.backend,
                run.objects,
                run.secs,
                run.objects as f64 / run.secs,
                run.calls,
                run.calls as f64 / run.secs,
                run.rate_limited
            );
        }
    }
}

/// The nested query's SQL run straight against Postgres by a hand-written client: the same three levels (companies;
/// their contacts and deals; the deals' owners and stages), only the columns the query shows, decoded by position.
/// The floor the gateway is measured against, as the "Postgres alone" figure.
mod scale {
    use std::fmt::Write as _;

    use super::{Args, BackendRun};

    /// One figure of a run, if it has it.
    type Figure = fn(&BackendRun) -> Option<f64>;

    /// Per backend run at more than one scale, each scenario's p50 and the start-up at every scale side by side.
    pub fn render(out: &mut String, args: &Args, runs: &[BackendRun]) {
        let mut backends: Vec<&str> = runs.iter().map(|r| r.backend).collect();
        backends.dedup();
        for backend in backends {
            let runs: Vec<&BackendRun> = runs.iter().filter(|r| r.backend == backend && !r.rows.is_empty()).collect();
            let (Some(base), true) = (runs.first(), runs.len() > 1) else { continue };
            let _ = writeln!(
                out,
                "## {backend}, the scales side by side\n\nThe query scenarios ({}×) over mirrors of {} contacts, {} companies and \
                 {} deals times each scale; p50 in ms, and the ratio of each scale's to the first's. The goals at 10×: \
                 nested and deep-page p50 within 1.3× of the 1× figures, search p50 under 10 ms, start-up to the first \
                 answer under 3 s, the gateway's peak resident memory under 250 MiB.\n",
                super::scales(&args.scale),
                args.contacts,
                args.companies,
                args.deals
            );
            let header: String = runs.iter().skip(1).map(|r| format!(" p50 {}× | ratio |", r.scale)).collect();
            let _ = writeln!(out, "| scenario | clients | p50 {}× |{header}", base.scale);
            let _ = writeln!(out, "|---|---:|---:|{}", "---:|---:|".repeat(runs.len() - 1));
            for row in &base.rows {
                let cells: String = runs
                    .iter()
                    .skip(1)
                    .map(|r| {
                        let p50 = r
                            .rows
                            .iter()
                            .find(|o| o.scenario == row.scenario && o.report.clients == row.report.clients)
                            .map(|o| o.report.percentile_ms(0.5));
                        match p50 {
                            Some(p50) => format!(" {p50:.2} | {:.2} |", p50 / row.report.percentile_ms(0.5)),
                            None => " – | – |".to_owned(),
                        }
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} |{cells}",
                    row.scenario,
                    row.report.clients,
                    row.report.percentile_ms(0.5)
                );
            }
            let figures: [(&str, Figure); 5] = [
                ("start-up to the first answer, ms", |r| Some(r.startup.first_answer.as_secs_f64() * 1000.0)),
                ("first health-scoring pass after it, s", |r| Some(r.startup.first_pass.as_secs_f64())),
                ("gateway peak resident memory, MiB", |r| Some(r.peak_rss_mib)),
                ("seeding, s", |r| r.seeded.map(|s| s.0)),
                ("bench process peak resident memory after seeding, MiB", |r| r.seeded.map(|s| s.1)),
            ];
            // A figure no run has (seeding, when every mirror was reused) keeps the row an earlier run wrote.
            for (name, figure) in figures.into_iter().filter(|(_, f)| runs.iter().any(|r| f(r).is_some())) {
                let show = |r: &BackendRun| figure(r).map_or("reused".to_owned(), |v| format!("{v:.1}"));
                let cells: String = runs
                    .iter()
                    .skip(1)
                    .map(|r| match (figure(r), figure(base)) {
                        (Some(v), Some(b)) if b > 0.0 => format!(" {} | {:.2} |", show(r), v / b),
                        _ => format!(" {} | – |", show(r)),
                    })
                    .collect();
                let _ = writeln!(out, "| {name} | – | {} |{cells}", show(base));
            }
            let _ = writeln!(out);
        }
    }
}

mod sql_alone {
    use sea_orm::sqlx::{self, PgPool, postgres::PgPoolOptions};

    const COMPANIES: &str = "SELECT hubspot_id, name FROM companies WHERE portal_id = $1 AND archived_at IS NULL \
        ORDER BY name NULLS LAST, hubspot_id LIMIT 50";
    const CONTACTS: &str = "SELECT e.from_id, c.hubspot_id, c.email, c.firstname, c.lastname FROM (SELECT DISTINCT \
        from_id, to_id FROM associations WHERE portal_id = $1 AND from_type = 'company' AND from_id = ANY($2) \
        AND to_type = 'contact') e JOIN contacts c ON c.portal_id = $1 AND c.hubspot_id = e.to_id";
    const DEALS: &str = "SELECT e.from_id, d.hubspot_id, d.dealname, d.amount, d.pipeline, d.dealstage, d.owner_id \
        FROM (SELECT DISTINCT from_id, to_id FROM associations WHERE portal_id = $1 AND from_type = 'company' \
        AND from_id = ANY($2) AND to_type = 'deal') e JOIN deals d ON d.portal_id = $1 AND d.hubspot_id = e.to_id";
    const OWNERS: &str = "SELECT hubspot_id, email FROM owners WHERE portal_id = $1 AND hubspot_id = ANY($2)";
    const STAGES: &str = "SELECT pipeline_id, hubspot_id, label, probability FROM pipeline_stages \
        WHERE portal_id = $1 AND pipeline_id = ANY($2)";

    type Deal = (i64, i64, Option<String>, Option<f64>, Option<String>, Option<String>, Option<i64>);

    /// The whole answer in one statement, as PostGraphile v5 plans it: to-one relations joined inline, each nested
    /// list an `array(…)` subquery of text tuples, one more row than asked for `hasNextPage`. The issue's "Postgres
    /// alone" figures are for SQL of this shape, so it is the yardstick of this machine's speed against the
    /// reference machine's.
    const ONE_STATEMENT: &str = "SELECT c.hubspot_id::text, c.name, \
        array(SELECT array[ct.hubspot_id::text, ct.email, ct.firstname, ct.lastname] FROM associations a \
          JOIN contacts ct ON ct.portal_id = a.portal_id AND ct.hubspot_id = a.to_id \
          WHERE a.portal_id = c.portal_id AND a.from_type = 'company' AND a.from_id = c.hubspot_id \
            AND a.to_type = 'contact' AND ct.archived_at IS NULL ORDER BY ct.hubspot_id LIMIT 21)::text, \
        array(SELECT array[d.hubspot_id::text, d.dealname, d.amount::text, s.label, s.probability::text, o.email] \
          FROM associations a JOIN deals d ON d.portal_id = a.portal_id AND d.hubspot_id = a.to_id \
          LEFT JOIN pipeline_stages s ON s.portal_id = d.portal_id AND s.pipeline_id = d.pipeline \
            AND s.hubspot_id = d.dealstage \
          LEFT JOIN owners o ON o.portal_id = d.portal_id AND o.hubspot_id = d.owner_id \
          WHERE a.portal_id = c.portal_id AND a.from_type = 'company' AND a.from_id = c.hubspot_id \
            AND a.to_type = 'deal' AND d.archived_at IS NULL ORDER BY d.hubspot_id LIMIT 21)::text \
        FROM companies c WHERE c.portal_id = $1 AND c.archived_at IS NULL \
        ORDER BY c.name NULLS LAST, c.hubspot_id LIMIT 51";

    /// One run of [`ONE_STATEMENT`]; `true` when it came back.
    pub async fn one_statement(pool: &PgPool, portal: i64) -> bool {
        sqlx::query_as::<_, (String, Option<String>, String, String)>(ONE_STATEMENT)
            .bind(portal)
            .fetch_all(pool)
            .await
            .is_ok_and(|rows| !rows.is_empty())
    }

    /// The statements of one run: companies, contacts, deals, owners, stages.
    pub const STATEMENTS: f64 = 5.0;

    pub async fn pool(url: &str) -> anyhow::Result<PgPool> {
        Ok(PgPoolOptions::new().max_connections(16).connect(url).await?)
    }

    /// One run of the three levels; `true` when every level came back.
    pub async fn nested(pool: &PgPool, portal: i64) -> bool {
        run(pool, portal).await.is_ok()
    }

    async fn run(pool: &PgPool, portal: i64) -> sqlx::Result<usize> {
        let companies: Vec<(i64, Option<String>)> = sqlx::query_as(COMPANIES).bind(portal).fetch_all(pool).await?;
        let ids: Vec<i64> = companies.iter().map(|c| c.0).collect();
        let contacts = sqlx::query_as::<_, (i64, i64, Option<String>, Option<String>, Option<String>)>(CONTACTS)
            .bind(portal)
            .bind(&ids)
            .fetch_all(pool);
        let deals = sqlx::query_as::<_, Deal>(DEALS).bind(portal).bind(&ids).fetch_all(pool);
        let (contacts, deals) = futures::try_join!(contacts, deals)?;
        let mut owners: Vec<i64> = deals.iter().filter_map(|d| d.6).collect();
        owners.sort_unstable();
        owners.dedup();
        let mut pipelines: Vec<String> = deals.iter().filter_map(|d| d.4.clone()).collect();
        pipelines.sort_unstable();
        pipelines.dedup();
        let owners = sqlx::query_as::<_, (i64, Option<String>)>(OWNERS).bind(portal).bind(&owners).fetch_all(pool);
        let stages = sqlx::query_as::<_, (String, String, Option<String>, Option<f64>)>(STAGES)
            .bind(portal)
            .bind(&pipelines)
            .fetch_all(pool);
        let (owners, stages) = futures::try_join!(owners, stages)?;
        Ok(companies.len() + contacts.len() + deals.len() + owners.len() + stages.len())
    }
}

#[cfg(test)]
mod merging {
    use super::{NOTES_HEADING, merge};

    #[test]
    fn a_partial_run_keeps_the_sections_it_did_not_run_and_the_notes() {
        let previous = format!(
            "# Benchmarks\n\nold intro\n\n## sqlite\n\nold sqlite\n\n## postgres\n\nold postgres\n\n{NOTES_HEADING}\n\nmine\n"
        );
        let fresh = "# Benchmarks\n\nnew intro\n\n## postgres\n\nnew postgres\n\n## Webhook ingestion\n\nnew hooks\n";
        assert_eq!(
            merge(&previous, fresh, None),
            format!(
                "# Benchmarks\n\nnew intro\n\n## sqlite\n\nold sqlite\n\n## postgres\n\nnew postgres\n\n\
                 ## Webhook ingestion\n\nnew hooks\n\n{NOTES_HEADING}\n\nmine\n"
            )
        );
        assert_eq!(merge("", fresh, None), fresh);
        let partial = merge(&previous, fresh, Some("`bench --only webhooks` on 2026-12-03"));
        assert!(
            partial.starts_with(
                "# Benchmarks\n\nold intro\n\n`bench --only webhooks` on 2026-12-03 rewrote: postgres, Webhook ingestion.\n\n## sqlite"
            ),
            "{partial}"
        );
        let again = merge(&partial, fresh, Some("`bench --only webhooks` on 2026-12-03"));
        assert_eq!(again.matches("rewrote").count(), 1, "{again}");
    }

    #[test]
    fn a_partial_run_keeps_the_rows_of_what_it_did_not_run() {
        let table = |rows: &str| {
            format!("# Benchmarks\n\nintro\n\n## Webhook ingestion\n\n| backend | x |\n|---|---:|\n{rows}\ntext\n")
        };
        let previous = table("| sqlite | 1 |\n| postgres | 2 |\n");
        // The section, after the intro (which a partial run adds its command to).
        let section = |text: String| text[text.find("## ").expect("a section")..].to_owned();
        let partial = |fresh: &str| section(merge(&previous, &table(fresh), Some("run")));
        assert_eq!(partial("| postgres | 3 |\n"), section(table("| sqlite | 1 |\n| postgres | 3 |\n")));
        assert_eq!(partial("| sqlite | 4 |\n"), section(table("| sqlite | 4 |\n| postgres | 2 |\n")));
        // A full run drops rows it no longer writes.
        assert_eq!(merge(&previous, &table("| sqlite | 5 |\n"), None), table("| sqlite | 5 |\n"));
        // `--only` of one scenario: the other scenarios' rows stay, in their places.
        let scenarios = |rows: &str| format!("# B\n\n## postgres\n\n| scenario | clients |\n|---|---:|\n{rows}");
        let previous = scenarios("| nested | 1 |\n| nested | 16 |\n| search | 1 |\n");
        assert_eq!(
            section(merge(&previous, &scenarios("| nested | 2 |\n| nested | 32 |\n"), Some("run"))),
            section(scenarios("| nested | 2 |\n| nested | 32 |\n| search | 1 |\n"))
        );
        // A table of a new layout replaces the old one whole.
        let relaid = "# B\n\n## postgres\n\n| workers | clients |\n|---:|---:|\n| 1 | 16 |\n";
        assert_eq!(section(merge(&previous, relaid, Some("run"))), section(relaid.to_owned()));
    }
}
