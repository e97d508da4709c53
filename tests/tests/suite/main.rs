//! Every end-to-end test of the gateway, one module a capability, in one binary: a binary per file linked the whole
//! gateway thirty times over, which cost CI minutes and gigabytes of disk. `cargo test -p tests <module>::` runs one.

mod common;

mod analytics;
mod associations;
mod audit;
mod auth;
mod backfill;
mod batch_mutations;
mod batching;
mod custom_objects;
mod disconnect;
mod end_to_end;
mod fallback_reads;
mod filters;
mod fuzz;
mod health;
mod http;
mod http_bounds;
mod http_spec;
mod http_workers;
mod insights;
mod limits;
mod migrations;
mod mutations;
mod oauth;
mod objects;
mod operations;
mod pagination;
mod portal_schema;
mod python_client;
mod read_cache;
mod read_columns;
mod reconcile;
mod schema_sdl;
mod search_index;
mod simulator;
mod simulator_labels;
mod subscriptions;
mod supervision;
mod upstream;
mod webhook_apply;
mod webhook_convergence;
mod webhook_crash;
mod webhooks;
mod write_transactions;
