//! sea-orm models: the mirror of a HubSpot portal and the gateway's own tables. No logic beyond the models.
//!
//! Every mirrored row is keyed by `(portal_id, hubspot_id)`; no query may cross a portal boundary.

pub mod api_key;
pub mod association;
pub mod audit_log;
pub mod campaign;
pub mod company;
pub mod contact;
pub mod custom_object;
pub mod deal;
pub mod health_score;
pub mod health_score_history;
pub mod idempotency_key;
pub mod insight;
pub mod insight_event;
pub mod lease;
pub mod oauth_state;
pub mod oauth_ticket;
pub mod oauth_token;
pub mod object_properties;
pub mod object_schema;
pub mod operation;
pub mod owner;
pub mod pipeline;
pub mod pipeline_stage;
pub mod portal;
pub mod property_definition;
pub mod property_value;
pub mod sync_state;
pub mod ticket;
pub mod webhook_event;
pub mod webhook_queue;

pub use sea_orm;
