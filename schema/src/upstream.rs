//! The port through which the schema reaches HubSpot: writes, and reads of records the mirror does not hold. The
//! server implements it with its upstream client (rate limits, retries, timeouts, the read cache) and writes
//! HubSpot's answer into the mirror before it returns, so a query that follows sees it.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use hubspot::{Association, AssociationKind, ObjectType};

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

impl UpstreamError {
    /// HubSpot answered a batch call without a word about one of its inputs.
    pub fn no_answer() -> Self {
        Self {
            status: None,
            category: "MISSING_RESULT".into(),
            message: "HubSpot's answer said nothing about this input".into(),
            correlation_id: None,
            unavailable: false,
        }
    }
}

/// A record to link a new record to, and the association type of the link from the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub to_id: i64,
    pub kind: AssociationKind,
}

/// Why a write did not complete.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    HubSpot(#[from] UpstreamError),
    /// HubSpot took the write but the mirror could not record it; the webhook or the sweep will bring it.
    #[error("writing HubSpot's answer to the mirror: {0}")]
    Mirror(#[from] sea_orm::DbErr),
    /// Another request with the same idempotency key is still creating its record.
    #[error("a create with this idempotency key is still in progress; retry shortly")]
    KeyInUse,
}

/// A record to create.
#[derive(Clone, Debug, Default)]
pub struct NewRecord {
    pub properties: Properties,
    pub links: Vec<Link>,
    pub idempotency_key: Option<String>,
}

pub type Answer<T> = BoxFuture<'static, Result<T, WriteError>>;

/// One input's outcome in a batch call HubSpot answered (200, or 207 when some inputs failed).
pub type ItemAnswer<T> = Result<T, UpstreamError>;

/// Where an object in an answer came from.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The mirror, kept fresh by webhooks and the reconcile sweep.
    Mirror,
    /// HubSpot's answer from the read cache (at most its TTL old).
    Cache,
    /// HubSpot, asked during this request.
    Hubspot,
}

/// Writes to HubSpot and reads from it; each call returns once the mirror holds HubSpot's answer.
pub trait Upstream: Send + Sync {
    /// Reads a record from HubSpot, through the read cache, into the mirror: where the answer came from
    /// (`Mirror` when the mirror already held a version as new), or `None` when HubSpot holds no live record `id`.
    fn fetch(&self, portal: i64, object_type: ObjectType, id: i64) -> Answer<Option<Source>>;
    /// Creates a record linked to `links`; its HubSpot id. With an idempotency key, a create that repeats one made
    /// with the key in the last 24 h makes nothing and answers the first one's id.
    fn create(&self, portal: i64, object_type: ObjectType, new: NewRecord) -> Answer<i64>;
    /// Creates up to 100 records in one call (HubSpot's batch create); each input's id, or why HubSpot refused it,
    /// in input order. An `Err` of the whole answer means the call itself failed and nothing was created.
    fn create_many(&self, portal: i64, object_type: ObjectType, new: Vec<NewRecord>) -> Answer<Vec<ItemAnswer<i64>>>;
    /// Sets properties of up to 100 distinct records in one call (HubSpot's batch update), answered per input.
    fn update_many(
        &self,
        portal: i64,
        object_type: ObjectType,
        changes: Vec<(i64, Properties)>,
    ) -> Answer<Vec<ItemAnswer<()>>>;
    /// Archives up to 100 records in one call (HubSpot's batch archive).
    fn archive_many(&self, portal: i64, object_type: ObjectType, ids: Vec<i64>) -> Answer<()>;
    /// Sets `properties` of a record (null clears one).
    fn update(&self, portal: i64, object_type: ObjectType, id: i64, properties: Properties) -> Answer<()>;
    /// Archives a record (HubSpot's delete).
    fn archive(&self, portal: i64, object_type: ObjectType, id: i64) -> Answer<()>;
    /// Links two records with `edge`'s type; `inverse` is the same link read from the other end, `None` for a
    /// portal's own label, whose other direction only HubSpot knows (the link is then read back from both ends).
    fn associate(&self, portal: i64, edge: Association, inverse: Option<Association>) -> Answer<()>;
    /// The association types HubSpot defines from `from` to `to` (its labels API): built-in ones and the portal's.
    fn association_labels(&self, portal: i64, from: ObjectType, to: ObjectType) -> Answer<Vec<AssociationType>>;
    /// Removes every link between two records.
    fn dissociate(&self, portal: i64, from: (ObjectType, i64), to: (ObjectType, i64)) -> Answer<()>;
    /// Merges record `merged` into `primary`; the id of the record that remains.
    fn merge(&self, portal: i64, object_type: ObjectType, primary: i64, merged: i64) -> Answer<i64>;
    /// Re-reads owners or pipelines from HubSpot into the mirror, because a write names one the mirror does not know
    /// (added at HubSpot since the last refresh). At most once every few seconds per portal and kind; `false` when
    /// one ran just before and nothing was read.
    fn refresh_reference(&self, portal: i64, kind: Reference) -> Answer<bool>;
}

/// One association type between two object types as HubSpot's labels API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssociationType {
    pub type_id: i32,
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED`.
    pub category: String,
    pub label: Option<String>,
}

/// Reference data a write's check reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    Owners,
    Pipelines,
    /// Property definitions (and the custom object schemas they belong to).
    Properties,
}
