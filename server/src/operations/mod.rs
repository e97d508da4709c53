//! Persisted operations. Apollo's automatic persisted queries: a client sends `extensions.persistedQuery.sha256Hash`
//! alone, and the gateway runs the text it was sent with that hash before (`PERSISTED_QUERY_NOT_FOUND` asks the
//! client to send both once). And `OPERATIONS=safelist`: only documents registered with `server operations add` run,
//! by their text or their hash, so a production frontend's gateway runs no query an attacker writes.
//!
//! A document's hash is the SHA-256, lowercase hex, of its text without leading and trailing whitespace: a
//! registered file is stored trimmed, and a query sent as text is trimmed before it is looked up, so a client may
//! send a `.graphql` file as read. A hash sent with its text must be the SHA-256 of the text exactly as sent, as the
//! protocol says.
//!
//! [`Operations`] sees each request, over HTTP and over a WebSocket, before the limits do (it is the schema's
//! [`schema::Persisted`]), so the limits check the text that will run.

mod apq;
mod check;
pub mod document;
pub mod registered;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};
use sha2::{Digest, Sha256};

pub use apq::QueryCache;
pub use document::{Document, DocumentError};
pub use registered::{RegisterError, Registered};

use crate::shared_redis::SharedRedis;

/// Which operations run (`OPERATIONS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Any valid operation, sent as text or as a persisted query's hash.
    #[default]
    Any,
    /// Only registered operations; a client cannot register one by sending it.
    Safelist,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(Self::Any),
            "safelist" => Ok(Self::Safelist),
            _ => Err(format!("OPERATIONS must be any or safelist, got {value:?}")),
        }
    }
}

/// SHA-256 of `text` as sent, lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The hash a document is registered and looked up under: that of its text without the whitespace around it.
pub fn document_hash(text: &str) -> String {
    sha256_hex(text.trim())
}

/// Runs persisted and registered operations; one per schema, shared by every request.
#[derive(Clone)]
pub struct Operations {
    mode: Mode,
    cache: QueryCache,
    registered: Arc<Registered>,
}

impl Operations {
    /// Reads the registered operations from `db`; persisted queries are kept in `redis` when given (replicas then
    /// share them), else in this process.
    pub async fn load(db: &DatabaseConnection, mode: Mode, redis: Option<SharedRedis>) -> Result<Self, DbErr> {
        Self::load_reading_on_miss(db, mode, redis, crate::reload::RELOAD_ON_MISS).await
    }

    /// [`Operations::load`], an unknown hash reading the table again at most once per `every` (tests: every time).
    pub async fn load_reading_on_miss(
        db: &DatabaseConnection,
        mode: Mode,
        redis: Option<SharedRedis>,
        every: std::time::Duration,
    ) -> Result<Self, DbErr> {
        let registered = Arc::new(Registered::load(db.clone(), every).await?);
        Ok(Self { mode, cache: QueryCache::new(redis), registered })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn registered(&self) -> &Registered {
        &self.registered
    }

    /// Keeps the registered operations in step with the table (added or removed by `server operations`).
    pub async fn keep_reloading(self) {
        let mut every = tokio::time::interval(crate::reload::RELOAD_EVERY);
        loop {
            every.tick().await;
            if let Err(err) = self.registered.reload().await {
                tracing::warn!(error = %err, "reloading registered operations");
            }
        }
    }
}
