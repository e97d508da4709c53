//! Webhook ingestion: 10 senders post signed batches of 100 property changes for mirrored contacts, as HubSpot
//! does; what the gateway acknowledges per second and how fast, then how fast the applier works the log off.

use std::{
    fmt::Write as _,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::json;
use server::webhooks::signature;
use tests::load::{self, LoadReport};

use super::{Args, PORTAL, metric, prepare_database};

const SENDERS: usize = 10;
const BATCH: usize = 100;
const SECRET: &str = "bench-secret";
/// Contacts of the mirrored portal the events change.
const CONTACTS: usize = 20_000;

pub struct Run {
    backend: &'static str,
    report: LoadReport,
    /// Events applied per second, from the first delivery until the log was worked off.
    applied_per_second: f64,
    mean_lag_secs: f64,
}

/// A gateway on `url` that takes webhooks signed with [`SECRET`], started and healthy; its base URL.
pub async fn start_gateway(args: &Args, url: &str, port: u16) -> anyhow::Result<(tokio::process::Child, String)> {
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(&args.server)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("PORT", port.to_string())
        .env("PUBLIC_URL", &base)
        .env("HUBSPOT_CLIENT_SECRET", SECRET)
        .env("AUTH", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the gateway")?;
    super::wait_healthy(&base).await?;
    Ok((child, base))
}

/// A delivery of `events` to `target`, signed (v3) as HubSpot signs it.
pub fn delivery(http: &reqwest::Client, target: &str, events: &[serde_json::Value]) -> reqwest::RequestBuilder {
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

pub async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Run> {
    let url = prepare_database(backend, "gw_webhooks", false).await?;
    super::seed(&url, [CONTACTS, 1000, 1000]).await?;
    let (mut child, base) = start_gateway(args, &url, args.port + 1).await?;
    let ids: Vec<i64> =
        generator::generate(&generator::PortalSpec::sized(PORTAL, 42, CONTACTS, 1000, 1000, chrono::Utc::now()))
            .contacts
            .iter()
            .filter(|c| !c.archived)
            .map(|c| c.id)
            .collect();
    let ids = Arc::new(ids);
    let next_event = Arc::new(AtomicI64::new(1));
    let target = format!("{base}/webhooks/hubspot");
    let started = Instant::now();
    let session = |_| {
        let (ids, next_event, target) = (ids.clone(), next_event.clone(), target.clone());
        let http = reqwest::Client::new();
        move || {
            let first = next_event.fetch_add(BATCH as i64, Ordering::Relaxed);
            let now = chrono::Utc::now().timestamp_millis();
            let events: Vec<_> = (first..first + BATCH as i64)
                .map(|n| {
                    json!({ "eventId": n, "subscriptionId": 1, "portalId": PORTAL, "appId": 1, "occurredAt": now + n,
                            "subscriptionType": "contact.propertyChange", "objectId": ids[n as usize % ids.len()],
                            "propertyName": "jobtitle", "propertyValue": format!("title {n}"), "attemptNumber": 0,
                            "changeSource": "CRM" })
                })
                .collect();
            let send = delivery(&http, &target, &events);
            async move { send.send().await.is_ok_and(|r| r.status().is_success()) }
        }
    };
    let report = load::drive(SENDERS, Duration::from_secs(args.secs), session).await;
    if report.failures > 0 {
        bail!("{} of {} webhook deliveries failed", report.failures, report.requests);
    }
    let received = metric(&base, "gateway_webhook_events_received_total").await?;
    let mut applied = 0.0;
    for _ in 0..6000 {
        applied = metric(&base, "gateway_webhook_events_applied_total").await?;
        if applied >= received {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let worked_off = started.elapsed().as_secs_f64();
    let lag_sum = metric(&base, "gateway_webhook_apply_lag_seconds_sum").await?;
    let _ = child.kill().await;
    let run =
        Run { backend, applied_per_second: applied / worked_off, mean_lag_secs: lag_sum / applied.max(1.0), report };
    eprintln!(
        "[{backend}] webhooks: {:.0} events/s acknowledged (p50 {:.1} ms, p99 {:.1} ms), {:.0} events/s applied, mean lag {:.1} s",
        run.report.per_second() * BATCH as f64,
        run.report.percentile_ms(0.5),
        run.report.percentile_ms(0.99),
        run.applied_per_second,
        run.mean_lag_secs
    );
    Ok(run)
}

pub fn render(out: &mut String, args: &Args, runs: &[Run]) {
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n\n## Webhook ingestion\n\n{SENDERS} senders post signed (v3) batches of {BATCH} `contact.propertyChange` \
         events for {} s, closed loop, at a gateway whose mirror holds {CONTACTS} contacts. Acknowledged: events in \
         deliveries answered 200 (stored in the log), per second, and the answer's latency. Applied: events applied \
         per second from the first delivery until the applier had worked off the log; lag: receipt to applied, \
         mean. The goal: 20,000 events/s acknowledged and applied on Postgres, ack p99 under 100 ms.\n",
        args.secs
    );
    let _ =
        writeln!(out, "| backend | acknowledged events/s | ack p50 ms | ack p99 ms | applied events/s | mean lag s |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for run in runs {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} |",
            run.backend,
            run.report.per_second() * BATCH as f64,
            run.report.percentile_ms(0.5),
            run.report.percentile_ms(0.99),
            run.applied_per_second,
            run.mean_lag_secs
        );
    }
}
