//! What one request may see: its portal, the database, the DataLoaders that batch its lookups, and the way to
//! HubSpot for writes.

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::{loaders::Loaders, upstream::Upstream};

pub struct Scope {
    pub portal_id: i64,
    pub db: DatabaseConnection,
    pub(crate) loaders: Loaders,
    /// `None` when no HubSpot connection is configured: mutations then fail saying so.
    pub(crate) upstream: Option<Arc<dyn Upstream>>,
}

impl Scope {
    /// A fresh scope per request: loaders cache rows, so sharing them across requests would leak one caller's rows
    /// to another.
    pub fn new(db: DatabaseConnection, portal_id: i64) -> Self {
        let loaders = Loaders::new(db.clone(), portal_id);
        Self { portal_id, db, loaders, upstream: None }
    }

    pub fn with_upstream(self, upstream: Option<Arc<dyn Upstream>>) -> Self {
        Self { upstream, ..self }
    }
}

pub(crate) fn scope<'a>(ctx: &Context<'a>) -> &'a Scope {
    ctx.data_unchecked::<Scope>()
}
