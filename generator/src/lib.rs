//! A deterministic generator of realistic HubSpot portals: tests, the benchmark and the simulator use it.

mod data;
mod generate;
mod model;
mod pipelines;
mod spec;
mod time;
#[cfg(test)]
mod wire_shapes;

pub use generate::{generate, generated_properties, machine_type};
pub use model::PortalSpec;
pub use pipelines::{
    DEFAULT_DEAL_PIPELINE, RENEWALS_PIPELINE, SUPPORT_PIPELINE, TICKET_CLOSED_STAGE, renewals_pipeline, sales_pipeline,
    standard_pipelines, support_pipeline,
};
