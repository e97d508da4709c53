//! The gateway: configuration, database, the HTTP router, writes into the mirror, and the CLI.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod health;
pub mod http;
pub mod hubspot;
pub mod idempotency;
pub mod leases;
pub mod metrics;
pub mod migrate;
pub mod mirror;
pub mod oauth;
pub mod operations;
pub mod readiness;
pub mod reload;
pub mod retention;
pub mod shared_redis;
pub mod stopping;
pub mod sync;
pub mod traces;
pub mod upstream;
pub mod webhooks;
