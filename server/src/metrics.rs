//! Counters the gateway exposes at `/metrics` in Prometheus' text format.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

#[derive(Clone, Default)]
pub struct Metrics {
    pub graphql_requests: Arc<AtomicU64>,
    pub sql_statements: Arc<AtomicU64>,
}

impl Metrics {
    pub fn render(&self) -> String {
        format!(
            "# TYPE gateway_graphql_requests_total counter\ngateway_graphql_requests_total {}\n\
             # TYPE gateway_sql_statements_total counter\ngateway_sql_statements_total {}\n",
            self.graphql_requests.load(Ordering::Relaxed),
            self.sql_statements.load(Ordering::Relaxed),
        )
    }
}
