//! The GraphQL schema of the gateway: object types over the mirror, the Query root, filters, keyset connections,
//! DataLoaders and analytics. It reads the mirror through sea-orm and knows nothing of HTTP.

mod analytics;
pub mod audit;
mod audit_log;
mod columns;
mod connection;
pub mod custom_objects;
pub mod error;
pub mod feed;
mod field_order;
mod filter;
mod gateway;
mod health;
mod ids;
pub mod insights;
pub mod limits;
mod loaders;
mod mutation;
mod objects;
pub mod operation_name;
mod order;
mod portal_properties;
mod prefetch;
mod property_values;
mod query;
mod records;
mod relay;
pub mod request_id;
mod role;
mod scope;
pub mod slots;
mod subscription;
mod sync_status;
mod transaction;
pub mod upstream;
mod webhook_admin;

use async_graphql::{MergedObject, Schema};

pub use error::{ApiError, MAX_PAGE_SIZE};
pub use gateway::{GatewaySchema, Persisted};
pub use limits::Limits;
pub use role::Role;
pub use scope::Scope;
pub use transaction::{WriteTransaction, begin_write};

/// The Query root: objects and lists, then analytics.
#[derive(MergedObject, Default)]
pub struct Query(
    query::CoreQuery,
    analytics::AnalyticsQuery,
    health::HealthQuery,
    insights::InsightQuery,
    sync_status::SyncStatusQuery,
    portal_properties::PropertiesQuery,
    custom_objects::CustomObjectsQuery,
    webhook_admin::WebhookAdminQuery,
    audit_log::AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::CrmMutation,
    mutation::BatchMutation,
    mutation::AssociationMutation,
    mutation::CustomObjectMutation,
    webhook_admin::WebhookAdminMutation,
);

/// The schema with the default [`Limits`]; each request (and each subscription connection) must carry a [`Scope`]
/// (its portal and loaders) as data.
pub fn build() -> GatewaySchema {
    build_with(Limits::default(), true)
}

/// The schema bounded by `limits`, answering introspection or not (a production frontend needs none).
pub fn build_with(limits: Limits, introspection: bool) -> GatewaySchema {
    finish(Schema::build(Query::default(), Mutation::default(), subscription::Subscription), limits, introspection)
}

/// [`build_with`], with `extension` in async-graphql's schema: for a schema that never resolves a field (one that
/// checks documents and stops before running them), as an extension slows every field an answer resolves.
pub fn build_with_extension(
    extension: impl async_graphql::extensions::ExtensionFactory,
    limits: Limits,
    introspection: bool,
) -> GatewaySchema {
    let builder = Schema::build(Query::default(), Mutation::default(), subscription::Subscription).extension(extension);
    finish(builder, limits, introspection)
}

fn finish(
    builder: async_graphql::SchemaBuilder<Query, Mutation, subscription::Subscription>,
    limits: Limits,
    introspection: bool,
) -> GatewaySchema {
    let schema = if introspection { builder.finish() } else { builder.disable_introspection().finish() };
    GatewaySchema::new(schema, limits)
}

/// The SDL that `server schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build().sdl()
}
