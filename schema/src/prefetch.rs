//! Loads what a selection needs below a list of rows, for all the rows at once, before the fields resolve: one
//! statement per association, owner, stage, pipeline, properties, health score or insights lookup per query level,
//! however many rows there are.
//!
//! The rows land in the request's DataLoader caches, so the field resolvers find them there. Leaving this to the
//! DataLoaders' batch window alone splits batches whenever resolving a level takes longer than the window.

use std::{collections::HashMap, hash::Hash, sync::Arc};

use foldhash::HashMapExt;

use async_graphql::{Context, SelectionField, dataloader::Loader};
use entities::{company, contact, deal, ticket};
use futures::future::{BoxFuture, try_join_all};

use crate::{
    columns::{ReadBy, Wanted},
    error::Res,
    loaders::{AssocKey, ById, Cached, LoadError, RecordKey, load_associated},
    scope::{Scope, scope},
};

/// A mirrored CRM row, as far as prefetching cares.
pub(crate) trait Row: Clone + Send + Sync + 'static {
    const KIND: &'static str;
    /// The columns only some fields read.
    const READ_BY: ReadBy;
    fn id(&self) -> i64;
    fn owner_id(&self) -> Option<i64>;
    fn pipeline_id(&self) -> Option<&str> {
        None
    }
}

macro_rules! row {
    ($model:ty, $kind:literal, $read_by:expr $(, $pipeline:ident)?) => {
        impl Row for $model {
            const KIND: &'static str = $kind;
            const READ_BY: ReadBy = $read_by;
            fn id(&self) -> i64 {
                self.hubspot_id
            }
            fn owner_id(&self) -> Option<i64> {
                self.owner_id
            }
            $(fn pipeline_id(&self) -> Option<&str> {
                self.$pipeline.as_deref()
            })?
        }
    };
}

row!(contact::Model, "contact", crate::objects::contact::READ_BY);
row!(company::Model, "company", crate::objects::company::READ_BY);
row!(deal::Model, "deal", crate::objects::deal::READ_BY, pipeline);
row!(ticket::Model, "ticket", crate::objects::ticket::READ_BY, pipeline);

/// Loads `keys` in one call of the loader and feeds the results into the request's cache.
pub(crate) async fn prime<K, T>(loader: &Cached<T>, keys: Vec<K>) -> Res<HashMap<K, T::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    T: Loader<K, Error = LoadError>,
{
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let values =
        tracing::Instrument::instrument(loader.loader().load(&keys), crate::loaders::batch_span::<T>()).await?;
    loader.feed_many(values.clone()).await;
    Ok(values)
}

/// One value by key, loaded at once and left in the request's cache for the fields below. For a root field, which
/// asks for a single key: through `load_one` it would first wait out the DataLoader's batching window (1 ms, two
/// thirds of such a query's time) for keys that never come.
pub(crate) async fn load_now<K, T>(loader: &Cached<T>, key: K) -> Res<Option<T::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    T: Loader<K, Error = LoadError>,
{
    Ok(prime(loader, vec![key.clone()]).await?.remove(&key))
}

fn distinct<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort_unstable();
    items.dedup();
    items
}

/// The pipelines `rows` are in (the stages of a pipeline load by its id).
fn pipeline_ids<R: Row>(rows: &[Arc<R>]) -> Vec<String> {
    distinct(rows.iter().filter_map(|r| r.pipeline_id().map(str::to_owned)).collect())
}

/// The fields selected on the nodes of a connection: under `nodes` and under `edges { node }`.
pub(crate) fn node_fields<'a>(connection: &SelectionField<'a>) -> Vec<SelectionField<'a>> {
    let mut out = Vec::new();
    for field in connection.selection_set() {
        match field.name() {
            "nodes" => out.extend(field.selection_set()),
            "edges" => {
                for edge in field.selection_set().filter(|f| f.name() == "node") {
                    out.extend(edge.selection_set());
                }
            }
            _ => {}
        }
    }
    out
}

/// Prefetches what `fields` (selected on each of `rows`) will load.
pub(crate) async fn prefetch<R: Row>(
    ctx: &Context<'_>,
    wanted: &Wanted,
    rows: Vec<Arc<R>>,
    fields: Vec<SelectionField<'_>>,
) -> Res<()> {
    level(scope(ctx), wanted, rows, fields).await
}

fn level<'a, R: Row>(
    scope: &'a Scope,
    wanted: &'a Wanted,
    rows: Vec<Arc<R>>,
    fields: Vec<SelectionField<'a>>,
) -> BoxFuture<'a, Res<()>> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tasks: Vec<BoxFuture<'a, Res<()>>> = Vec::new();
        let mut owners_done = false;
        let mut pipelines_done = false;
        let mut stages_done = false;
        let mut properties_done = false;
        let (mut scores_done, mut insights_done) = (false, false);
        let record_keys = || rows.iter().map(|r| RecordKey { kind: R::KIND, id: r.id() }).collect::<Vec<_>>();
        for field in fields {
            match field.name() {
                "properties" if !properties_done => {
                    properties_done = true;
                    let keys = record_keys();
                    tasks.push(Box::pin(async move { prime(&scope.loaders.properties, keys).await.map(drop) }));
                }
                "healthScore" if !scores_done => {
                    scores_done = true;
                    let keys = record_keys();
                    tasks.push(Box::pin(async move { prime(&scope.loaders.health_scores, keys).await.map(drop) }));
                }
                "insights" if !insights_done => {
                    insights_done = true;
                    let keys = record_keys();
                    tasks.push(Box::pin(async move { prime(&scope.loaders.insights, keys).await.map(drop) }));
                }
                "owner" if !owners_done => {
                    owners_done = true;
                    let ids = distinct(rows.iter().filter_map(|r| r.owner_id()).collect());
                    tasks.push(Box::pin(async move { prime(&scope.loaders.owners, ids).await.map(drop) }));
                }
                "pipeline" if !pipelines_done => {
                    pipelines_done = true;
                    let ids = pipeline_ids(&rows);
                    if !stages_done && field.selection_set().any(|f| f.name() == "stages") {
                        stages_done = true;
                        let ids = ids.clone();
                        tasks.push(Box::pin(async move { prime(&scope.loaders.stages, ids).await.map(drop) }));
                    }
                    tasks.push(Box::pin(async move { prime(&scope.loaders.pipelines, ids).await.map(drop) }));
                }
                "stage" if !stages_done => {
                    stages_done = true;
                    let ids = pipeline_ids(&rows);
                    tasks.push(Box::pin(async move { prime(&scope.loaders.stages, ids).await.map(drop) }));
                }
                "contacts" => tasks
                    .push(hop::<R, contact::Model>(scope, wanted, &rows, field, "contact", |s| &s.loaders.contacts)),
                "companies" => tasks
                    .push(hop::<R, company::Model>(scope, wanted, &rows, field, "company", |s| &s.loaders.companies)),
                "deals" => tasks.push(hop::<R, deal::Model>(scope, wanted, &rows, field, "deal", |s| &s.loaders.deals)),
                "tickets" => {
                    tasks.push(hop::<R, ticket::Model>(scope, wanted, &rows, field, "ticket", |s| &s.loaders.tickets))
                }
                _ => {}
            }
        }
        try_join_all(tasks).await.map(drop)
    })
}

/// One association hop: the associated rows of every row with their edges (one statement), then what those rows'
/// selection needs.
fn hop<'a, R: Row, T>(
    scope: &'a Scope,
    wanted: &'a Wanted,
    rows: &[Arc<R>],
    field: SelectionField<'a>,
    to_type: &'static str,
    loader: impl FnOnce(&'a Scope) -> &'a Cached<ById<T::Entity, i64>>,
) -> BoxFuture<'a, Res<()>>
where
    T: Row + sea_orm::ModelTrait + Default,
    T::Entity: sea_orm::EntityTrait<Model = T>,
{
    let from_ids = distinct(rows.iter().map(|r| r.id()).collect());
    let loader = loader(scope);
    Box::pin(async move {
        let found =
            load_associated::<T::Entity>(&scope.db, scope.portal_id, R::KIND, &from_ids, to_type, wanted).await?;
        let key = |from_id| AssocKey { from_type: R::KIND, from_id, to_type, label: None };
        let mut edges: foldhash::HashMap<AssocKey, Vec<i64>> =
            from_ids.iter().map(|id| (key(*id), Vec::new())).collect();
        let mut targets: foldhash::HashMap<i64, Arc<T>> = foldhash::HashMap::with_capacity(found.len());
        for (from_id, row) in found {
            let id = row.id();
            edges.entry(key(from_id)).or_default().push(id);
            targets.entry(id).or_insert_with(|| Arc::new(row));
        }
        scope.loaders.associations.feed_many(edges.into_iter().map(|(k, ids)| (k, Arc::new(distinct(ids))))).await;
        loader.feed_many(targets.clone()).await;
        level(scope, wanted, targets.into_values().collect(), node_fields(&field)).await
    })
}
