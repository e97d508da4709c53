//! What one request may see: its portal, the database, the DataLoaders that batch its lookups, and the way to
//! HubSpot for writes.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::{
    error::{ApiError, Res},
    feed::Feed,
    loaders::Loaders,
    role::Role,
    upstream::{Source, Upstream},
};

pub struct Scope {
    pub portal_id: i64,
    /// What the caller may do; guards on fields check it.
    pub role: Role,
    /// Who the caller is, as the audit log names it (`key:{id}`, `jwt:{sub}`, `anonymous`); never a secret.
    pub caller: String,
    pub db: DatabaseConnection,
    pub(crate) loaders: Loaders,
    /// `None` when no HubSpot connection is configured: mutations then fail saying so.
    pub(crate) upstream: Option<Arc<dyn Upstream>>,
    /// Live changes for subscriptions; `None` where nothing publishes them.
    pub(crate) feed: Option<Arc<dyn Feed>>,
    /// Records this request read from HubSpot, by kind (`contact`) and id, and where the answer came from; every
    /// other record came from the mirror.
    sources: Mutex<HashMap<(&'static str, i64), Source>>,
    /// HubSpot calls this request may still cause (reads of records the mirror lacks, `fresh` reads, writes).
    hubspot_calls_left: AtomicUsize,
    hubspot_calls: usize,
    /// The portal's property definitions, read on first need.
    definitions: tokio::sync::OnceCell<Arc<crate::portal_properties::Definitions>>,
    /// The portal's live custom object schemas, read on first need (each linked record asks for its type's).
    schemas: tokio::sync::OnceCell<Arc<Vec<entities::object_schema::Model>>>,
}

impl Scope {
    /// A fresh scope per request: loaders cache rows, so sharing them across requests would leak one caller's rows
    /// to another.
    pub fn new(db: DatabaseConnection, portal_id: i64, role: Role) -> Self {
        let loaders = Loaders::new(db.clone(), portal_id);
        let hubspot_calls = crate::Limits::default().hubspot_calls;
        Self {
            portal_id,
            role,
            caller: "test".to_owned(),
            db,
            loaders,
            upstream: None,
            feed: None,
            sources: Mutex::default(),
            hubspot_calls_left: AtomicUsize::new(hubspot_calls),
            hubspot_calls,
            definitions: tokio::sync::OnceCell::new(),
            schemas: tokio::sync::OnceCell::new(),
        }
    }

    /// The portal's property definitions, read once per request.
    pub(crate) async fn definitions(&self) -> Res<Arc<crate::portal_properties::Definitions>> {
        let load = async || crate::portal_properties::Definitions::load(&self.db, self.portal_id).await.map(Arc::new);
        self.definitions.get_or_try_init(load).await.cloned()
    }

    /// The portal's live custom object schemas by name, read once per request.
    pub(crate) async fn schemas(&self) -> Res<Arc<Vec<entities::object_schema::Model>>> {
        use entities::object_schema::{Column, Entity};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let load = async || {
            let rows = Entity::find()
                .filter(Column::PortalId.eq(self.portal_id))
                .filter(Column::Archived.eq(false))
                .order_by_asc(Column::Name)
                .all(&self.db)
                .await?;
            Ok::<_, ApiError>(Arc::new(rows))
        };
        self.schemas.get_or_try_init(load).await.cloned()
    }

    /// The caller the audit log names; a scope made without one (tests, embedding) records `test`.
    pub fn with_caller(self, caller: impl Into<String>) -> Self {
        Self { caller: caller.into(), ..self }
    }

    /// At most `calls` HubSpot calls for this request.
    pub fn with_hubspot_calls(self, calls: usize) -> Self {
        Self { hubspot_calls_left: AtomicUsize::new(calls), hubspot_calls: calls, ..self }
    }

    /// HubSpot for one call, counted against the request's budget; `None` when no HubSpot connection is configured.
    pub(crate) fn hubspot(&self) -> Res<Option<&Arc<dyn Upstream>>> {
        let Some(upstream) = &self.upstream else { return Ok(None) };
        let taken = self.hubspot_calls_left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if taken.is_err() {
            let max = self.hubspot_calls;
            let message = format!("this request would cause more than {max} HubSpot calls");
            return Err(ApiError::LimitExceeded { limit: "hubspotCalls", max, message });
        }
        Ok(Some(upstream))
    }

    pub(crate) fn answered_from(&self, kind: &'static str, id: i64, source: Source) {
        self.sources.lock().expect("sources").insert((kind, id), source);
    }

    /// Where this request's answer about record `id` of `kind` came from.
    pub(crate) fn source(&self, kind: &str, id: i64) -> Source {
        self.sources.lock().expect("sources").get(&(kind, id)).copied().unwrap_or(Source::Mirror)
    }

    pub fn with_upstream(self, upstream: Option<Arc<dyn Upstream>>) -> Self {
        Self { upstream, ..self }
    }

    pub fn with_feed(self, feed: Option<Arc<dyn Feed>>) -> Self {
        Self { feed, ..self }
    }
}

pub(crate) fn scope<'a>(ctx: &Context<'a>) -> &'a Scope {
    ctx.data_unchecked::<Scope>()
}
