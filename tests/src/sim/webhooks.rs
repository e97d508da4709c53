//! The simulator's webhook sender: every change's event goes to the target as HubSpot delivers them: batches of at
//! most 100, up to 10 requests at once, signed v1 and v3 with the app's secret, retried with backoff on a refused
//! connection, a timeout or any 4xx/5xx, optionally duplicated and shuffled.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::seq::SliceRandom;
use serde::Serialize;
use serde_json::Value;
use server::webhooks::signature;
use tokio::sync::Semaphore;

use super::Shared;

/// Where and how the simulator delivers webhooks.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// The full URL the app registered (`http://127.0.0.1:4000/webhooks/hubspot`); signatures cover it.
    pub target: String,
    /// The app's client secret.
    pub secret: String,
    /// Requests in flight at most (HubSpot: 10 per account).
    pub concurrency: usize,
    /// Each request's time limit (HubSpot: 5 s).
    pub timeout: Duration,
    /// Attempts per delivery (HubSpot: 10 over a day).
    pub attempts: u32,
    /// The first retry's delay; it doubles each time. HubSpot waits minutes; tests shorten it.
    pub retry_base: Duration,
    /// The share of events sent twice.
    pub duplicate_rate: f64,
    /// Deliveries in random order instead of the order of the changes.
    pub shuffle: bool,
    /// How often the outbox is flushed.
    pub flush_every: Duration,
}

impl WebhookSettings {
    pub fn new(target: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            secret: secret.into(),
            concurrency: 10,
            timeout: Duration::from_secs(5),
            attempts: 10,
            retry_base: Duration::from_secs(60),
            duplicate_rate: 0.0,
            shuffle: false,
            flush_every: Duration::from_millis(50),
        }
    }
}

/// What the sender has done.
#[derive(Debug, Default)]
pub struct SenderStats {
    pub queued: AtomicU64,
    pub acknowledged: AtomicU64,
    /// Events whose every attempt failed.
    pub dropped: AtomicU64,
    pub failed_attempts: AtomicU64,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SenderSnapshot {
    pub queued: u64,
    pub acknowledged: u64,
    pub dropped: u64,
    pub failed_attempts: u64,
}

impl SenderStats {
    pub fn snapshot(&self) -> SenderSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SenderSnapshot {
            queued: get(&self.queued),
            acknowledged: get(&self.acknowledged),
            dropped: get(&self.dropped),
            failed_attempts: get(&self.failed_attempts),
        }
    }
}

impl SenderSnapshot {
    /// Events queued and not yet acknowledged or given up on.
    pub fn outstanding(&self) -> u64 {
        self.queued - self.acknowledged - self.dropped
    }
}

/// Delivers the outboxes of `sim` for ever.
pub async fn run(sim: Shared, settings: WebhookSettings, stats: Arc<SenderStats>) {
    let http = reqwest::Client::builder().timeout(settings.timeout).build().expect("an HTTP client");
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut next_event_id: i64 = 1;
    loop {
        tokio::time::sleep(settings.flush_every).await;
        let mut events: Vec<Value> = {
            let mut world = sim.world.lock().expect("simulator state");
            let events: Vec<Value> = world.portals.values_mut().flat_map(|p| std::mem::take(&mut p.outbox)).collect();
            // Counted before the lock is released, so no event is ever neither unsent nor outstanding.
            stats.queued.fetch_add(events.len() as u64, Ordering::Relaxed);
            events
        };
        if events.is_empty() {
            continue;
        }
        for event in &mut events {
            event["eventId"] = next_event_id.into();
            event["subscriptionId"] = 1.into();
            event["appId"] = 1.into();
            next_event_id += 1;
        }
        let duplicates: Vec<Value> =
            events.iter().filter(|_| rand::random::<f64>() < settings.duplicate_rate).cloned().collect();
        stats.queued.fetch_add(duplicates.len() as u64, Ordering::Relaxed);
        events.extend(duplicates);
        if settings.shuffle {
            events.shuffle(&mut rand::rng());
        }
        for batch in events.chunks(100) {
            let permit = slots.clone().acquire_owned().await.expect("the semaphore stays open");
            let (http, settings, stats, batch) = (http.clone(), settings.clone(), stats.clone(), batch.to_vec());
            tokio::spawn(async move {
                deliver(&http, &settings, &stats, batch).await;
                drop(permit);
            });
        }
    }
}

async fn deliver(http: &reqwest::Client, settings: &WebhookSettings, stats: &SenderStats, mut batch: Vec<Value>) {
    for attempt in 0..settings.attempts {
        for event in &mut batch {
            event["attemptNumber"] = attempt.into();
        }
        let body = serde_json::to_vec(&batch).expect("events serialise");
        let timestamp = chrono::Utc::now().timestamp_millis().to_string();
        let request = signature::Request { method: "POST", uri: &settings.target, body: &body };
        let sent = http
            .post(&settings.target)
            .header("content-type", "application/json")
            .header("X-HubSpot-Signature-Version", "v1")
            .header("X-HubSpot-Signature", hex::encode(signature::v1(&settings.secret, &request)))
            .header("X-HubSpot-Signature-v3", STANDARD.encode(signature::v3(&settings.secret, &request, &timestamp)))
            .header("X-HubSpot-Request-Timestamp", timestamp)
            .body(body)
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            stats.acknowledged.fetch_add(batch.len() as u64, Ordering::Relaxed);
            return;
        }
        stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(settings.retry_base.saturating_mul(1 << attempt.min(16))).await;
    }
    stats.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
}
