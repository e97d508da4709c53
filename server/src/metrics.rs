//! Counters the gateway exposes at `/metrics` in Prometheus' text format.

use crate::{hubspot::cache::CacheStats, webhooks::WebhookStats};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

#[derive(Clone, Default)]
pub struct Metrics {
    pub graphql_requests: Arc<AtomicU64>,
    pub sql_statements: Arc<AtomicU64>,
    /// Full health-scoring passes finished since start; the first one rescoring every client weighs on the machine.
    pub health_full_passes: Arc<AtomicU64>,
    /// Retention passes finished by this replica (it holds the `retention` lease while the count moves).
    pub retention_passes: Arc<AtomicU64>,
    /// The upstream client's read cache.
    pub read_cache: CacheStats,
    pub webhooks: WebhookStats,
}

impl Metrics {
    pub fn render(&self) -> String {
        let [hits, misses, upstream, redis_errors] = self.read_cache.snapshot();
        format!(
            "# TYPE gateway_graphql_requests_total counter\ngateway_graphql_requests_total {}\n\
             # TYPE gateway_sql_statements_total counter\ngateway_sql_statements_total {}\n\
             # TYPE gateway_health_full_passes_total counter\ngateway_health_full_passes_total {}\n\
             # TYPE gateway_retention_passes_total counter\ngateway_retention_passes_total {}\n\
             # TYPE gateway_read_cache_hits_total counter\ngateway_read_cache_hits_total {hits}\n\
             # TYPE gateway_read_cache_misses_total counter\ngateway_read_cache_misses_total {misses}\n\
             # TYPE gateway_read_cache_upstream_calls_total counter\ngateway_read_cache_upstream_calls_total {upstream}\n\
             # TYPE gateway_read_cache_redis_errors_total counter\ngateway_read_cache_redis_errors_total {redis_errors}\n",
            self.graphql_requests.load(Ordering::Relaxed),
            self.sql_statements.load(Ordering::Relaxed),
            self.health_full_passes.load(Ordering::Relaxed),
            self.retention_passes.load(Ordering::Relaxed),
        ) + &self.webhooks.render()
    }
}
