//! Webhook ingestion: 10 senders post signed batches of 100 events, mixed as a busy portal's traffic is
//! ([`traffic::MIX`]), at a gateway whose mirror and upstream (the simulator) hold the same generated portal; what
//! the gateway acknowledges per second and how fast, then how fast its applier works the log off, how late, and the
//! rescoring and HubSpot reads the events caused.

mod traffic;

use std::{fmt::Write as _, process::Stdio, sync::Arc, time::Duration, time::Instant};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use entities::webhook_event;
use hubspot::ObjectType;
use rand::{SeedableRng, rngs::StdRng};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use server::{
    sync,
    webhooks::{log::state, signature},
};
use tests::load::{self, LoadReport};

use self::traffic::{BATCH, Kind, MIX, Traffic};
use super::{Args, PORTAL, Running, metric, prepare_database};

const SENDERS: usize = 10;
const SECRET: &str = "bench-secret";
/// The portal the mirror and the simulator hold.
const CONTACTS: usize = 20_000;
const COMPANIES: usize = 2_000;
const DEALS: usize = 5_000;
/// Contacts, companies and deals made in the simulator beforehand, per second of the run, for creation events to
/// announce: [`MIX`]'s creations at 60,000 events/s acknowledged. Past them, creations announce records again.
const CREATED_PER_SECOND: [usize; 3] = [3_600, 900, 1_500];

/// Receipt to applied, from the log's own times (the histogram's buckets are too coarse for a p99).
#[derive(Clone, Copy, Default)]
struct Lag {
    p50: f64,
    p99: f64,
    mean: f64,
}

pub struct Run {
    backend: &'static str,
    report: LoadReport,
    /// Events applied per second, from the first delivery until the log was worked off.
    applied_per_second: f64,
    lag: Lag,
    /// Events sent, by [`Kind`].
    sent: [u64; Kind::ALL.len()],
    received: u64,
    applied: u64,
    dead: u64,
    unknown: u64,
    /// Clients rescored after the events (`gateway_health_clients_rescored_total`).
    rescored: u64,
    /// Seconds from the first delivery until every client the events touched was rescored.
    scored_after: f64,
    /// Calls the gateway made to HubSpot (the simulator) while it applied the events.
    hubspot_calls: u64,
    /// SQL statements per applied event, acknowledging included.
    statements_per_event: f64,
    creations_reused: u64,
}

/// A gateway on `url` that takes webhooks signed with [`SECRET`], with `env` besides, started and healthy; its base
/// URL.
pub async fn start_gateway(
    args: &Args,
    url: &str,
    port: u16,
    env: &[(&str, String)],
) -> anyhow::Result<(tokio::process::Child, String)> {
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(&args.server)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("PORT", port.to_string())
        .env("PUBLIC_URL", &base)
        .env("HUBSPOT_CLIENT_SECRET", SECRET)
        .env("AUTH", "off")
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the gateway")?;
    super::wait_healthy(&base).await?;
    Ok((child, base))
}

/// A delivery of `events` to `target`, signed (v3) as HubSpot signs it.
pub fn delivery(http: &reqwest::Client, target: &str, events: &[Value]) -> reqwest::RequestBuilder {
    let body = serde_json::to_vec(events).expect("events serialise");
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let request = signature::Request { method: "POST", uri: target, body: &body };
    let signed = STANDARD.encode(signature::v3(SECRET, &request, &timestamp));
    http.post(target)
        .header("content-type", "application/json")
        .header("X-HubSpot-Signature-v3", signed)
        .header("X-HubSpot-Request-Timestamp", timestamp)
        .body(body)
}

/// Marks the seeded portal backfilled, its sweeps' place a day ahead: the gateway neither copies the simulator's
/// portal again nor sweeps up the records made there for creation events before their events arrive.
async fn mark_synced(url: &str) -> anyhow::Result<()> {
    let db = Database::connect(url).await?;
    let ahead = Utc::now() + chrono::Duration::days(1);
    for object_type in ObjectType::BUILT_IN {
        sync::state::save(&db, PORTAL, object_type, None, 0).await?;
        sync::state::save_reconcile(&db, PORTAL, object_type, ahead).await?;
    }
    db.close().await?;
    Ok(())
}

/// Contacts, companies and deals made in the simulator alone, `per_type` of each: their ids.
async fn create_in_hubspot(sim: &Running, per_type: [usize; 3]) -> anyhow::Result<[Vec<i64>; 3]> {
    let http = reqwest::Client::new();
    let mut made: [Vec<i64>; 3] = Default::default();
    for ((plural, count), ids) in ["contacts", "companies", "deals"].into_iter().zip(per_type).zip(&mut made) {
        for batch in 0..count.div_ceil(100) {
            let inputs: Vec<Value> = (batch * 100..(batch + 1) * 100)
                .map(|n| {
                    let properties = match plural {
                        "contacts" => json!({ "email": format!("made{n}@bench.example"), "firstname": "Made" }),
                        "companies" => json!({ "name": format!("Made {n}"), "domain": format!("made{n}.example") }),
                        _ => json!({ "dealname": format!("Made {n}"), "pipeline": "default",
                                     "dealstage": "appointmentscheduled", "amount": "1000" }),
                    };
                    json!({ "properties": properties })
                })
                .collect();
            let answer: Value = http
                .post(format!("{}/crm/v3/objects/{plural}/batch/create", sim.base_url()))
                .bearer_auth(sim.token())
                .json(&json!({ "inputs": inputs }))
                .send()
                .await?
                .error_for_status()
                .with_context(|| format!("making {plural} in the simulator"))?
                .json()
                .await?;
            ids.extend(
                answer["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["id"].as_str()?.parse::<i64>().ok()),
            );
        }
    }
    Ok(made)
}

/// Receipt-to-applied lags of the applied events in the log at `url`.
async fn lag(url: &str) -> anyhow::Result<Lag> {
    let db = Database::connect(url).await?;
    let rows: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::ReceivedAt)
        .column(webhook_event::Column::AppliedAt)
        .filter(webhook_event::Column::State.eq(state::APPLIED))
        .into_tuple()
        .all(&db)
        .await?;
    db.close().await?;
    let mut lags: Vec<f64> =
        rows.into_iter().filter_map(|(received, applied)| Some((applied? - received).as_seconds_f64())).collect();
    if lags.is_empty() {
        return Ok(Lag::default());
    }
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
    Ok(Lag { p50: at(0.5), p99: at(0.99), mean: lags.iter().sum::<f64>() / lags.len() as f64 })
}

pub async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Run> {
    // One portal for the mirror and for HubSpot: creations, merges and association changes read it there.
    let spec = generator::PortalSpec::sized(PORTAL, 42, CONTACTS, COMPANIES, DEALS, Utc::now());
    let portal = generator::generate(&spec);
    let sim = super::unlimited_simulator(spec).await?;
    let url = prepare_database(backend, "gw_webhooks", false).await?;
    super::seed_portal(&url, &portal).await?;
    mark_synced(&url).await?;
    let seconds = args.secs as usize + 1;
    let created = create_in_hubspot(&sim, CREATED_PER_SECOND.map(|n| n * seconds)).await?;
    let traffic = Arc::new(Traffic::new(&portal, created));
    drop(portal);
    let upstream = [
        ("HUBSPOT_API_BASE", sim.base_url()),
        ("HUBSPOT_ACCESS_TOKEN", sim.token().to_owned()),
        ("HUBSPOT_RATE_LIMIT", "100000000".to_owned()),
        ("SYNC_RECONCILE_SECS", "86400".to_owned()),
        ("REFERENCE_REFRESH_SECS", "86400".to_owned()),
    ];
    let (mut child, base) = start_gateway(args, &url, args.port + 1, &upstream).await?;
    let calls_before = sim.sim.stats().requests;
    let rescored_before = metric(&base, "gateway_health_clients_rescored_total").await?;
    let statements_before = metric(&base, "gateway_sql_statements_total").await?;
    let target = format!("{base}/webhooks/hubspot");
    let started = Instant::now();
    let session = |sender: usize| {
        let (traffic, target) = (traffic.clone(), target.clone());
        let http = reqwest::Client::new();
        let mut rng = StdRng::seed_from_u64(sender as u64);
        move || {
            let send = delivery(&http, &target, &traffic.batch(&mut rng));
            async move { send.send().await.is_ok_and(|r| r.status().is_success()) }
        }
    };
    let report = load::drive(SENDERS, Duration::from_secs(args.secs), session).await;
    if report.failures > 0 {
        bail!("{} of {} webhook deliveries failed", report.failures, report.requests);
    }
    let count = |name: &'static str| {
        let base = base.clone();
        async move { metric(&base, name).await.map(|v| v as u64) }
    };
    let received = count("gateway_webhook_events_received_total").await?;
    let (mut applied, mut dead) = (0, 0);
    // Until every event is applied or dead: events failing a HubSpot read wait out their backoff first. Each look
    // renders `/metrics`, whose backlog gauge counts the log's work list: looking ten times a second took a tenth
    // of Postgres's time.
    let poll = Duration::from_millis(250);
    for _ in 0..2400 {
        (applied, dead) =
            (count("gateway_webhook_events_applied_total").await?, count("gateway_webhook_events_dead_total").await?);
        if applied + dead >= received {
            break;
        }
        tokio::time::sleep(poll).await;
    }
    let worked_off = started.elapsed().as_secs_f64();
    // The appliers' rescoring loop follows them: the scores are current once it holds no record.
    for _ in 0..2400 {
        if count("gateway_health_pending_records").await? == 0 {
            break;
        }
        tokio::time::sleep(poll).await;
    }
    let scored_after = started.elapsed().as_secs_f64();
    let unknown = count("gateway_webhook_events_unknown_total").await?;
    let rescored = metric(&base, "gateway_health_clients_rescored_total").await? - rescored_before;
    let statements = metric(&base, "gateway_sql_statements_total").await? - statements_before;
    let hubspot_calls = sim.sim.stats().requests - calls_before;
    let _ = child.kill().await;
    let _ = child.wait().await;
    let sent = Kind::ALL.map(|kind| traffic.sent(kind));
    if sent.iter().sum::<u64>() != received {
        eprintln!("[{backend}] webhooks: {} events sent, {received} received", sent.iter().sum::<u64>());
    }
    let run = Run {
        backend,
        applied_per_second: applied as f64 / worked_off,
        lag: lag(&url).await?,
        sent,
        received,
        applied,
        dead,
        unknown,
        rescored: rescored as u64,
        scored_after,
        hubspot_calls,
        statements_per_event: statements / applied.max(1) as f64,
        creations_reused: traffic.creations_reused(),
        report,
    };
    eprintln!(
        "[{backend}] webhooks: {:.0} events/s acknowledged (p50 {:.1} ms, p99 {:.1} ms), {:.0} events/s applied \
         ({applied} of {received}, {dead} dead, {unknown} unknown), lag p50 {:.2} s p99 {:.2} s mean {:.2} s, \
         scores current after {:.1} s, \
         {} clients rescored, {hubspot_calls} HubSpot calls, {:.1} SQL/event, {} creations of records announced before",
        run.report.per_second() * BATCH as f64,
        run.report.percentile_ms(0.5),
        run.report.percentile_ms(0.99),
        run.applied_per_second,
        run.lag.p50,
        run.lag.p99,
        run.lag.mean,
        run.scored_after,
        run.rescored,
        run.statements_per_event,
        run.creations_reused,
    );
    Ok(run)
}

pub fn render(out: &mut String, args: &Args, runs: &[Run]) {
    let Some(first) = runs.first() else { return };
    let mix: Vec<String> = MIX.iter().map(|(kind, n)| format!("{n} {}", kind.label())).collect();
    let sent: u64 = first.sent.iter().sum();
    let _ = writeln!(
        out,
        "\n\n## Webhook ingestion\n\n{SENDERS} senders post signed (v3) batches of {BATCH} events for {} s, closed \
         loop, mixed as a busy portal's traffic is: per batch {}. Changes and links pick records by a Zipf spread \
         (exponent 1: the hottest 1% of each type's records draw 40-55% of its events); deletions and merges pick \
         among a cold fifth of the records. The mirror and its upstream, the simulator in the benchmark's process \
         (no added latency, its rate limit lifted), hold the same portal of {CONTACTS} contacts, {COMPANIES} \
         companies and {DEALS} deals; the records the creation events announce were made in the simulator \
         beforehand, so a creation, merge or association change makes the applier read HubSpot. Acknowledged: \
         events in deliveries answered 200 (stored in the log), per second, and the answer's latency. Applied: \
         events applied per second from the first delivery until the applier had worked off the log; lag: receipt \
         to applied, from the log's times. Rescored: clients whose health score the events made the gateway \
         recompute (`gateway_health_clients_rescored_total`), and seconds from the first delivery until the last \
         of them was (the appliers mark the records; a rescoring loop beside them waits until they have caught \
         up, 5 s at most, and rescores each once for all the passes that marked it meanwhile); HubSpot calls: the \
         reads the events caused. Goals: 20,000 events/s acknowledged and 15,000 applied on Postgres, ack p99 \
         under 100 ms (SQLite: 250 ms), lag p99 under 5 s.\n",
        args.secs,
        mix.join(", ")
    );
    let _ = writeln!(
        out,
        "| backend | acknowledged events/s | ack p50 ms | ack p99 ms | applied events/s | lag p50 s | lag p99 s | \
         mean lag s | clients rescored | scores current after s | HubSpot calls | SQL statements/event | not \
         applied |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {} | {:.1} | {} |",
            run.backend,
            run.report.per_second() * BATCH as f64,
            run.report.percentile_ms(0.5),
            run.report.percentile_ms(0.99),
            run.applied_per_second,
            run.lag.p50,
            run.lag.p99,
            run.lag.mean,
            run.rescored,
            run.scored_after,
            run.hubspot_calls,
            run.statements_per_event,
            not_applied(run)
        );
    }
    let kinds: Vec<String> = Kind::ALL.iter().zip(first.sent).map(|(k, n)| format!("{n} {}", k.label())).collect();
    let _ = writeln!(out, "\nEvents sent to {}: {sent} ({}).", first.backend, kinds.join(", "));
    for run in runs.iter().filter(|r| r.creations_reused > 0) {
        let _ = writeln!(
            out,
            "{}: {} creation events announced a record an earlier one had (the records made beforehand ran out).",
            run.backend, run.creations_reused
        );
    }
}

/// Received events not applied: dead, unknown or still pending when the wait ended; `0` when all were applied.
fn not_applied(run: &Run) -> String {
    let pending = run.received.saturating_sub(run.applied + run.dead + run.unknown);
    if run.received == run.applied {
        "0".to_owned()
    } else {
        format!("{} dead, {} unknown, {pending} pending", run.dead, run.unknown)
    }
}
