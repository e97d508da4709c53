//! Live subscriptions: how long after a webhook is acknowledged each of 1,000 open subscriptions hears the score
//! change it caused, and how fast a scoring pass goes over the portal.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::bail;
use sea_orm::Database;
use serde_json::{Value, json};
use server::health::{self, Scoring, Subject};
use tests::subscriber::Subscriber;

use super::{
    Args, PORTAL, prepare_database,
    webhooks::{delivery, start_gateway},
};

const SUBSCRIBERS: usize = 1_000;
/// Companies changed, one webhook each, in the measured phase.
const CHANGES: usize = 200;
/// Between two webhooks: a steady stream of changes, not a burst.
const PACE: Duration = Duration::from_millis(50);
const SIZES: [usize; 3] = [20_000, 4_000, 10_000];

/// Every change in the portal: each one reaches all the subscribers.
const QUERY: &str = "subscription { healthScoreChanged { subjectId overall delta cause } }";

pub struct Run {
    backend: &'static str,
    clients: usize,
    first_pass: Duration,
    steady_pass: Duration,
    /// Acknowledgement to delivery, per subscriber and change, sorted.
    latencies_ms: Vec<f64>,
}

impl Run {
    fn percentile(&self, q: f64) -> f64 {
        let at = ((self.latencies_ms.len() as f64 * q).ceil() as usize).clamp(1, self.latencies_ms.len().max(1));
        self.latencies_ms.get(at - 1).copied().unwrap_or(f64::NAN)
    }

    fn expected(&self) -> usize {
        SUBSCRIBERS * CHANGES
    }
}

/// One `company.propertyChange` event setting `lifecyclestage`.
fn stage_change(event_id: i64, company: i64, stage: &str) -> Value {
    json!({ "eventId": event_id, "subscriptionId": 1, "portalId": PORTAL, "appId": 1,
            "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": "company.propertyChange",
            "objectId": company, "propertyName": "lifecyclestage", "propertyValue": stage, "attemptNumber": 0,
            "changeSource": "CRM" })
}

pub async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Run> {
    let url = prepare_database(backend, "gw_subscriptions", false).await?;
    super::seed(&url, SIZES).await?;
    let db = Database::connect(&url).await?;
    let cause = json!({ "kind": "fullPass" });
    let started = Instant::now();
    let first = health::full_pass(&db, PORTAL, Scoring::default(), &cause).await?;
    let first_pass = started.elapsed();
    let started = Instant::now();
    health::full_pass(&db, PORTAL, Scoring::default(), &cause).await?;
    let steady_pass = started.elapsed();
    let companies: Vec<i64> = health::clients(&db, PORTAL, Subject::Company).await?.into_iter().take(CHANGES).collect();

    // The gateway runs with `AUTH=off`, so every subscriber is the one caller: an operator expecting this many
    // subscriptions from one credential raises its limit (200 by default), as here.
    let limit = [("MAX_SUBSCRIPTIONS_PER_CREDENTIAL", SUBSCRIBERS.to_string())];
    let (mut child, base) = start_gateway(args, &url, args.port + 2, &limit).await?;
    let ws = format!("ws://{}/graphql", base.trim_start_matches("http://"));
    let heard: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let mut listening = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut subscriber =
            Subscriber::connect(&ws, "graphql-transport-ws", json!({})).await.map_err(anyhow::Error::msg)?;
        subscriber.subscribe(QUERY, json!({})).await;
        let heard = heard.clone();
        listening.push(tokio::spawn(async move {
            while let Some(change) = subscriber.next_change().await {
                let at = Instant::now();
                if let Some(id) = change["subjectId"].as_str().and_then(|id| id.parse().ok()) {
                    heard.lock().unwrap().push((id, at));
                }
            }
        }));
    }
    let http = reqwest::Client::new();
    let target = format!("{base}/webhooks/hubspot");
    // Unmeasured: every company to `subscriber` first, so the measured change to `customer` always moves its score.
    for (n, company) in companies.iter().enumerate() {
        delivery(&http, &target, &[stage_change(n as i64 + 1, *company, "subscriber")]).send().await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    heard.lock().unwrap().clear();

    let mut acknowledged: HashMap<i64, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(PACE);
    for (n, company) in companies.iter().enumerate() {
        tick.tick().await;
        let answer =
            delivery(&http, &target, &[stage_change(1_000_000 + n as i64, *company, "customer")]).send().await?;
        if !answer.status().is_success() {
            bail!("a webhook delivery was refused: {}", answer.status());
        }
        acknowledged.insert(*company, Instant::now());
    }
    let expected = SUBSCRIBERS * CHANGES;
    for _ in 0..300 {
        if heard.lock().unwrap().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listening.iter().for_each(|task| task.abort());
    let _ = child.kill().await;
    let mut latencies_ms: Vec<f64> = heard
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(company, at)| acknowledged.get(company).map(|ack| at.saturating_duration_since(*ack)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    let run = Run { backend, clients: first.scores.len(), first_pass, steady_pass, latencies_ms };
    eprintln!(
        "[{backend}] subscriptions: {} of {} deliveries, p50 {:.1} ms, p99 {:.1} ms; a pass scores {:.0} clients/s \
         ({:.0}/s over an unchanged mirror)",
        run.latencies_ms.len(),
        run.expected(),
        run.percentile(0.5),
        run.percentile(0.99),
        run.clients as f64 / run.first_pass.as_secs_f64(),
        run.clients as f64 / run.steady_pass.as_secs_f64(),
    );
    Ok(run)
}

pub fn render(out: &mut String, runs: &[Run]) {
    if runs.is_empty() {
        return;
    }
    let [contacts, companies, deals] = SIZES;
    let _ = writeln!(
        out,
        "\n\n## Subscriptions and rescoring\n\n{SUBSCRIBERS} WebSocket subscriptions (`graphql-transport-ws`) to every \
         `healthScoreChanged` of a portal of {contacts} contacts, {companies} companies and {deals} deals. {CHANGES} \
         signed `company.propertyChange` webhooks, one every {} ms, each move one company's lifecycle stage; latency \
         runs from the webhook's acknowledgement (200) to each subscriber receiving the change (applied, rescored, \
         published, pushed), over all {} deliveries. Goal: p99 under 100 ms (Hasura's subscriptions poll once a \
         second by default). Rescoring: a full pass over every client (the first writes every score and raises \
         every insight; the second finds the mirror unchanged), in clients per second.\n",
        PACE.as_millis(),
        SUBSCRIBERS * CHANGES,
    );
    let _ = writeln!(
        out,
        "| backend | deliveries | p50 ms | p99 ms | max ms | clients | first pass clients/s | unchanged pass clients/s |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        let _ = writeln!(
            out,
            "| {} | {} of {} | {:.1} | {:.1} | {:.1} | {} | {:.0} | {:.0} |",
            run.backend,
            run.latencies_ms.len(),
            run.expected(),
            run.percentile(0.5),
            run.percentile(0.99),
            run.percentile(1.0),
            run.clients,
            run.clients as f64 / run.first_pass.as_secs_f64(),
            run.clients as f64 / run.steady_pass.as_secs_f64(),
        );
    }
}
