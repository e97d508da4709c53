//! A deterministic generator of realistic HubSpot portals: tests, the benchmark, the demo and the simulator use it.

mod data;
mod generate;
mod model;
mod pipelines;
mod spec;
mod time;
mod wire;

pub use generate::{ASSOCIATION_KINDS, AssociationKind, generate, generated_properties};
pub use model::*;
pub use pipelines::{
    DEFAULT_DEAL_PIPELINE, RENEWALS_PIPELINE, SUPPORT_PIPELINE, TICKET_CLOSED_STAGE, renewals_pipeline, sales_pipeline,
    standard_pipelines, support_pipeline,
};
pub use time::iso;
