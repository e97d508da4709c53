//! The port through which the schema writes to HubSpot. The server implements it with its upstream client (rate
//! limits, retries, timeouts) and writes HubSpot's answer into the mirror before it returns, so a query that follows
//! a mutation sees the write.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use generator::ObjectType;

/// HubSpot property values as sent on the wire: strings, or null to clear.
pub type Properties = BTreeMap<String, Option<String>>;

/// Why HubSpot did not do what was asked.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    /// HubSpot's HTTP status; `None` when no answer came.
    pub status: Option<u16>,
    /// HubSpot's `category` (`VALIDATION_ERROR`, `OBJECT_NOT_FOUND`, `CONFLICT`, …), or `TIMEOUT` / `UNREACHABLE`.
    pub category: String,
    pub message: String,
    pub correlation_id: Option<String>,
    /// HubSpot could not be reached or did not manage (no answer, 5xx, still rate limited after the retries): the
    /// same request may work later. Otherwise HubSpot refused this request.
    pub unavailable: bool,
}

/// A record to link a new record to, with HubSpot's default association type between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub to_type: ObjectType,
    pub to_id: i64,
}

/// Why a write did not complete.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    HubSpot(#[from] UpstreamError),
    /// HubSpot took the write but the mirror could not record it; the webhook or the sweep will bring it.
    #[error("writing HubSpot's answer to the mirror: {0}")]
    Mirror(#[from] sea_orm::DbErr),
}

pub type Answer<T> = BoxFuture<'static, Result<T, WriteError>>;

/// Writes to HubSpot; each call returns once HubSpot accepted the write and the mirror holds it.
pub trait Upstream: Send + Sync {
    /// Creates a record linked to `links`; its HubSpot id.
    fn create(&self, portal: i64, object_type: ObjectType, properties: Properties, links: Vec<Link>) -> Answer<i64>;
    /// Sets `properties` of a record (null clears one).
    fn update(&self, portal: i64, object_type: ObjectType, id: i64, properties: Properties) -> Answer<()>;
    /// Archives a record (HubSpot's delete).
    fn archive(&self, portal: i64, object_type: ObjectType, id: i64) -> Answer<()>;
}
