//! What the gateway counts and times, rendered at `/metrics` in Prometheus' text format by
//! `metrics-exporter-prometheus`. Each gateway has a recorder of its own rather than the process-wide one, so the
//! gateways a test process runs side by side never mix their numbers.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use metrics::{counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::{hubspot::cache::CacheStats, webhooks::WebhookStats};

/// Bounds of the duration histograms, in seconds: a mirror read takes milliseconds, a HubSpot call up to its timeout.
const SECONDS_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Operation names a gateway times apart; later new names count as `other`, so callers naming operations at will
/// cannot grow the histograms without end.
pub const MAX_OPERATIONS: usize = 500;

/// Where counts and durations go: a gateway's own recorder, or nowhere (a component built alone, as tests do).
#[derive(Clone, Debug, Default)]
pub struct Sink(Option<Arc<PrometheusRecorder>>);

impl Sink {
    /// Runs `record`, whose `metrics::counter!`, `gauge!` and `histogram!` reach this sink's recorder.
    pub fn record(&self, record: impl FnOnce()) {
        if let Some(recorder) = &self.0 {
            metrics::with_local_recorder(recorder.as_ref(), record);
        }
    }
}

#[derive(Clone)]
pub struct Metrics {
    pub graphql_requests: Arc<AtomicU64>,
    pub sql_statements: Arc<AtomicU64>,
    /// Full health-scoring passes finished since start; the first one rescoring every client weighs on the machine.
    pub health_full_passes: Arc<AtomicU64>,
    /// Clients rescored after changes (webhooks, mutations, sweeps), full passes aside.
    pub health_clients_rescored: Arc<AtomicU64>,
    /// Records applied webhooks changed whose clients wait for the rescoring loop (`health::pending`).
    pub health_pending_records: Arc<AtomicU64>,
    /// Retention passes finished by this replica (it holds the `retention` lease while the count moves).
    pub retention_passes: Arc<AtomicU64>,
    /// The upstream client's read cache.
    pub read_cache: CacheStats,
    pub webhooks: WebhookStats,
    pub sink: Sink,
    /// The operation names timed so far (at most [`MAX_OPERATIONS`]).
    pub operations: Arc<Mutex<HashSet<String>>>,
    /// Renders what the sink recorded.
    pub handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(SECONDS_BUCKETS)
            .expect("the duration buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let sink = Sink(Some(Arc::new(recorder)));
        Self {
            graphql_requests: Arc::default(),
            sql_statements: Arc::default(),
            health_full_passes: Arc::default(),
            health_clients_rescored: Arc::default(),
            health_pending_records: Arc::default(),
            retention_passes: Arc::default(),
            read_cache: CacheStats::default(),
            webhooks: WebhookStats::recorded_in(sink.clone()),
            sink,
            operations: Arc::default(),
            handle,
        }
    }
}

impl Metrics {
    /// `name` as the `operation` label: itself while fewer than [`MAX_OPERATIONS`] names are known, else `other`.
    pub fn operation_label(&self, name: &str) -> String {
        let Ok(mut known) = self.operations.lock() else { return "other".to_owned() };
        if known.contains(name) || (known.len() < MAX_OPERATIONS && known.insert(name.to_owned())) {
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }

    /// Everything recorded so far, the counters kept beside the recorder included.
    pub fn render(&self) -> String {
        let [hits, misses, upstream, redis_errors] = self.read_cache.snapshot();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.sink.record(|| {
            counter!("gateway_graphql_requests_total").absolute(get(&self.graphql_requests));
            counter!("gateway_sql_statements_total").absolute(get(&self.sql_statements));
            counter!("gateway_health_full_passes_total").absolute(get(&self.health_full_passes));
            counter!("gateway_health_clients_rescored_total").absolute(get(&self.health_clients_rescored));
            gauge!("gateway_health_pending_records").set(get(&self.health_pending_records) as f64);
            counter!("gateway_retention_passes_total").absolute(get(&self.retention_passes));
            counter!("gateway_read_cache_hits_total").absolute(hits);
            counter!("gateway_read_cache_misses_total").absolute(misses);
            counter!("gateway_read_cache_upstream_calls_total").absolute(upstream);
            counter!("gateway_read_cache_redis_errors_total").absolute(redis_errors);
            self.webhooks.publish();
            let (sqlite_heap, sqlite_heap_peak) = crate::db::sqlite_heap();
            gauge!("gateway_sqlite_heap_bytes").set(sqlite_heap as f64);
            gauge!("gateway_sqlite_heap_peak_bytes").set(sqlite_heap_peak as f64);
        });
        self.handle.render()
    }
}

/// A caller-chosen or path-derived name made fit for a label: at most 64 characters of `[A-Za-z0-9_]`, so a label
/// can neither break the exposition format nor grow without end.
pub fn label(name: &str) -> String {
    name.chars().take(64).map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::{MAX_OPERATIONS, Metrics};

    #[test]
    fn operation_names_past_the_cap_count_as_other() {
        let metrics = Metrics::default();
        for n in 0..MAX_OPERATIONS {
            assert_eq!(metrics.operation_label(&format!("Op{n}")), format!("Op{n}"));
        }
        assert_eq!(metrics.operation_label("OneMore"), "other");
        assert_eq!(metrics.operation_label("Op7"), "Op7", "a known name keeps its label");
    }
}
