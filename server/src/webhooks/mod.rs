//! Webhook ingestion: `POST /webhooks/hubspot` checks HubSpot's signature on the raw bytes, then writes the whole
//! delivery to the event log in one transaction before answering, so an acknowledged event is never lost.

pub mod apply;
pub mod event;
pub mod log;
pub mod screen;
pub mod signature;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use metrics::counter;
use sea_orm::DatabaseConnection;

use crate::metrics::Sink;

pub use self::log::Appended;

/// The largest delivery accepted (HubSpot sends at most 100 events).
pub const MAX_BODY: usize = 1 << 20;

/// `WEBHOOK_MAX_EVENTS`'s default: ten times what HubSpot sends in one delivery.
pub const DEFAULT_MAX_EVENTS: usize = 1_000;

/// What a delivery may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryLimits {
    /// Events in one delivery; more is refused with 413 (a retry would be refused again).
    pub max_events: usize,
    /// How far ahead of our clock an `occurredAt` may be before its event is stored inert.
    pub max_skew_secs: u64,
}

impl Default for DeliveryLimits {
    fn default() -> Self {
        Self { max_events: DEFAULT_MAX_EVENTS, max_skew_secs: screen::DEFAULT_MAX_SKEW_SECS }
    }
}

/// Why a delivery was refused; each is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    MissingSignature,
    BadSignature,
    StaleTimestamp,
    /// Signed v1 or v2 where `WEBHOOK_SIGNATURES=v3` takes v3 only.
    SignatureVersion,
    TooLarge,
    Malformed,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Self::MissingSignature,
        Self::BadSignature,
        Self::StaleTimestamp,
        Self::SignatureVersion,
        Self::TooLarge,
        Self::Malformed,
    ];

    /// The metric's `reason`.
    pub fn label(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::BadSignature => "bad_signature",
            Self::StaleTimestamp => "stale_timestamp",
            Self::SignatureVersion => "signature_version",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
        }
    }

    /// 401 for anything about the signature, 413 for size, 400 for a body that is not events.
    pub fn status(self) -> u16 {
        match self {
            Self::MissingSignature | Self::BadSignature | Self::StaleTimestamp | Self::SignatureVersion => 401,
            Self::TooLarge => 413,
            Self::Malformed => 400,
        }
    }
}

/// Why a delivery was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum NotAccepted {
    /// The sender's fault; `message` says what to fix.
    #[error("{message}")]
    Refused { reason: Refusal, message: String },
    /// Ours: nothing was stored, and HubSpot will retry. The database's text is for our log, not the answer.
    #[error("storing the delivery failed: {0}")]
    Storage(#[from] sea_orm::DbErr),
}

impl NotAccepted {
    pub fn status(&self) -> u16 {
        match self {
            Self::Refused { reason, .. } => reason.status(),
            Self::Storage(_) => 503,
        }
    }
}

/// Counters of deliveries since start.
#[derive(Clone, Debug, Default)]
pub struct WebhookStats {
    /// Events in accepted deliveries, duplicates included.
    pub received: Arc<AtomicU64>,
    pub duplicates: Arc<AtomicU64>,
    /// Events received of types the applier does not know (stored once, left alone).
    pub unknown: Arc<AtomicU64>,
    refused: Arc<[AtomicU64; Refusal::ALL.len()]>,
    pub applied: Arc<AtomicU64>,
    pub dead: Arc<AtomicU64>,
    /// Events stored inert at receipt, per [`screen::Inert::ALL`].
    inert: Arc<[AtomicU64; screen::Inert::ALL.len()]>,
    /// Told of each stored delivery, so this process's applier starts at once instead of at its next poll.
    pub arrivals: Arc<tokio::sync::Notify>,
    /// Where each applied event's receipt-to-applied lag is recorded.
    sink: Sink,
}

impl WebhookStats {
    /// Counters whose lags go to `sink`.
    pub fn recorded_in(sink: Sink) -> Self {
        Self { sink, ..Self::default() }
    }

    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused[reason as usize].load(Ordering::Relaxed)
    }

    pub fn inert(&self, why: screen::Inert) -> u64 {
        self.inert[why as usize].load(Ordering::Relaxed)
    }

    fn count_accepted(&self, events: u64, appended: Appended) {
        self.received.fetch_add(events, Ordering::Relaxed);
        for (counter, n) in self.inert.iter().zip(appended.inert) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
        self.duplicates.fetch_add(appended.duplicates, Ordering::Relaxed);
        self.unknown.fetch_add(appended.unknown, Ordering::Relaxed);
        self.arrivals.notify_one();
    }

    fn count_applied(&self, lag: chrono::TimeDelta) {
        self.applied.fetch_add(1, Ordering::Relaxed);
        let seconds = lag.num_milliseconds().max(0) as f64 / 1000.0;
        self.sink.record(|| metrics::histogram!("gateway_webhook_apply_lag_seconds").record(seconds));
    }

    fn count_dead(&self) {
        self.dead.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_refused(&self, reason: Refusal) {
        self.refused[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters, into the recorder a [`Sink::record`] runs with (each reason listed, zeros too).
    pub fn publish(&self) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        counter!("gateway_webhook_events_received_total").absolute(get(&self.received));
        counter!("gateway_webhook_events_duplicate_total").absolute(get(&self.duplicates));
        counter!("gateway_webhook_events_unknown_total").absolute(get(&self.unknown));
        counter!("gateway_webhook_events_applied_total").absolute(get(&self.applied));
        counter!("gateway_webhook_events_dead_total").absolute(get(&self.dead));
        for reason in Refusal::ALL {
            counter!("gateway_webhook_deliveries_refused_total", "reason" => reason.label())
                .absolute(self.refused(reason));
        }
        for why in screen::Inert::ALL {
            counter!("gateway_webhook_events_inert_total", "reason" => why.label()).absolute(self.inert(why));
        }
    }
}

/// What a v1 or v2 delivery is told under `WEBHOOK_SIGNATURES=v3`.
const V3_REQUIRED: &str = "this gateway requires v3 signatures (X-HubSpot-Signature-v3 with \
                           X-HubSpot-Request-Timestamp); v1 and v2 are refused";

/// The receiving end: the app's secrets and the address HubSpot calls.
#[derive(Clone, Debug)]
pub struct Receiver {
    pub secrets: Vec<String>,
    /// `PUBLIC_URL`: the signed URI is this plus the request's path and query.
    pub public_url: String,
    /// `WEBHOOK_SIGNATURES`: whether v1 and v2 signatures are still taken.
    pub signatures: signature::Versions,
    /// `WEBHOOK_MAX_EVENTS`, `WEBHOOK_MAX_SKEW_SECS`.
    pub limits: DeliveryLimits,
}

/// The signature headers, looked up without regard to case.
pub fn signed_headers(headers: &axum::http::HeaderMap) -> signature::Signed<'_> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::Signed {
        v3: get("x-hubspot-signature-v3"),
        timestamp: get("x-hubspot-request-timestamp"),
        version: get("x-hubspot-signature-version"),
        signature: get("x-hubspot-signature"),
    }
}

impl Receiver {
    /// Verifies a delivery, then stores it; `path_and_query` is what the request line carried.
    pub async fn accept(
        &self,
        db: &DatabaseConnection,
        stats: &WebhookStats,
        method: &str,
        path_and_query: &str,
        headers: signature::Signed<'_>,
        body: &[u8],
    ) -> Result<Appended, NotAccepted> {
        let refuse = |reason: Refusal, message: String| {
            stats.count_refused(reason);
            NotAccepted::Refused { reason, message }
        };
        let uri = format!("{}{path_and_query}", self.public_url);
        let request = signature::Request { method, uri: &uri, body };
        let now = chrono::Utc::now().timestamp_millis();
        signature::verify(headers, &request, &self.secrets, self.signatures, now).map_err(|reason| {
            let message = match reason {
                Refusal::MissingSignature => "no X-HubSpot-Signature-v3 or X-HubSpot-Signature header".to_owned(),
                Refusal::StaleTimestamp => "X-HubSpot-Request-Timestamp is more than 300 s away".to_owned(),
                Refusal::SignatureVersion => V3_REQUIRED.to_owned(),
                _ => format!("the signature does not match this request to {uri}"),
            };
            refuse(reason, message)
        })?;
        let events = event::parse_batch(body).map_err(|message| refuse(Refusal::Malformed, message))?;
        if events.len() > self.limits.max_events {
            // Refused for good: however often HubSpot retries, the delivery stays this size.
            let message = format!(
                "the delivery holds {} events; this gateway takes at most {} (WEBHOOK_MAX_EVENTS; HubSpot sends at most 100)",
                events.len(),
                self.limits.max_events
            );
            return Err(refuse(Refusal::TooLarge, message));
        }
        let count = events.len() as u64;
        let batch_id = format!("{:016x}", rand::random::<u64>());
        let appended = log::append_screened(db, &batch_id, events, Some(self.limits.max_skew_secs)).await?;
        stats.count_accepted(count, appended);
        Ok(appended)
    }
}

/// The proptests' settings: `cases` cases (or `PROPTEST_CASES`) from a fixed seed (or `PROPTEST_RNG_SEED`), so CI
/// runs the same ones each time in a bounded time; no persistence file in the repository.
#[cfg(test)]
fn fuzz_config(cases: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, RngSeed};
    let defaults = Config::default();
    Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases),
        failure_persistence: None,
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(26),
            fixed => fixed,
        },
        ..defaults
    }
}
