//! DataLoaders: every lookup below the top level of a query is batched into one statement per level.

use std::{collections::HashMap, hash::Hash, marker::PhantomData, str::FromStr, sync::Arc};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entities::{
    association, campaign, company, contact, custom_object, deal, health_score, insight, object_properties, owner,
    pipeline, pipeline_stage, ticket,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ModelTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query, Value, ValueType},
};

use crate::{
    columns::{Wanted, decode, read_columns},
    prefetch::Row,
};

pub(crate) type LoadError = Arc<DbErr>;

/// Loads mirrored rows of one table by HubSpot id, within the request's portal.
pub(crate) struct ById<E, K> {
    db: DatabaseConnection,
    portal_id: i64,
    _entity: PhantomData<fn() -> (E, K)>,
}

impl<E, K> ById<E, K> {
    fn new(db: &DatabaseConnection, portal_id: i64) -> Self {
        Self { db: db.clone(), portal_id, _entity: PhantomData }
    }
}

/// A column of `E` by name; the names are the mirror's own, so a miss is a programming error.
pub(crate) fn column<E: EntityTrait>(name: &str) -> E::Column {
    E::Column::from_str(name).unwrap_or_else(|_| panic!("table {} has no column {name}", E::default().table_name()))
}

impl<E, K> Loader<K> for ById<E, K>
where
    E: EntityTrait,
    E::Model: Sync,
    K: ValueType + Into<Value> + Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Shared, not copied: the request's cache, the prefetcher and the resolvers all hold the same row.
    type Value = Arc<E::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[K]) -> Result<HashMap<K, Arc<E::Model>>, LoadError> {
        let id = column::<E>("hubspot_id");
        let rows = E::find()
            .filter(column::<E>("portal_id").eq(self.portal_id))
            .filter(id.is_in(keys.iter().cloned()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().filter_map(|row| K::try_from(row.get(id)).ok().map(|key| (key, Arc::new(row)))).collect())
    }
}

/// The stages of each pipeline, in display order.
pub(crate) struct StagesByPipeline {
    db: DatabaseConnection,
    portal_id: i64,
}

impl Loader<String> for StagesByPipeline {
    type Value = Arc<Vec<Arc<pipeline_stage::Model>>>;
    type Error = LoadError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, LoadError> {
        let rows = pipeline_stage::Entity::find()
            .filter(pipeline_stage::Column::PortalId.eq(self.portal_id))
            .filter(pipeline_stage::Column::PipelineId.is_in(keys.iter().cloned()))
            .order_by_asc(pipeline_stage::Column::DisplayOrder)
            .all(&self.db)
            .await?;
        let mut out: HashMap<String, Vec<Arc<pipeline_stage::Model>>> = HashMap::new();
        for row in rows {
            out.entry(row.pipeline_id.clone()).or_default().push(Arc::new(row));
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// The ids of `keys`, per object type: one statement per type.
fn by_kind(keys: &[RecordKey]) -> HashMap<&'static str, Vec<i64>> {
    let mut out: HashMap<&'static str, Vec<i64>> = HashMap::new();
    for key in keys {
        out.entry(key.kind).or_default().push(key.id);
    }
    out
}

/// A CRM record: its object type (`contact`) and HubSpot id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RecordKey {
    pub kind: &'static str,
    pub id: i64,
}

/// Custom objects by type and id.
pub(crate) struct CustomObjects {
    db: DatabaseConnection,
    portal_id: i64,
}

impl Loader<RecordKey> for CustomObjects {
    type Value = Arc<custom_object::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Self::Value>, LoadError> {
        let mut out = HashMap::new();
        for (kind, ids) in by_kind(keys) {
            let rows = custom_object::Entity::find()
                .filter(custom_object::Column::PortalId.eq(self.portal_id))
                .filter(custom_object::Column::ObjectType.eq(kind))
                .filter(custom_object::Column::HubspotId.is_in(ids))
                .all(&self.db)
                .await?;
            out.extend(rows.into_iter().map(|row| (RecordKey { kind, id: row.hubspot_id }, Arc::new(row))));
        }
        Ok(out)
    }
}

/// The properties text of CRM records.
pub(crate) struct Properties {
    db: DatabaseConnection,
    portal_id: i64,
}

impl Loader<RecordKey> for Properties {
    type Value = Arc<str>;
    type Error = LoadError;

    async fn load(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Arc<str>>, LoadError> {
        let mut out = HashMap::new();
        for (kind, ids) in by_kind(keys) {
            let rows: Vec<(i64, String)> = object_properties::Entity::find()
                .select_only()
                .column(object_properties::Column::HubspotId)
                .column(object_properties::Column::Properties)
                .filter(object_properties::Column::PortalId.eq(self.portal_id))
                .filter(object_properties::Column::ObjectType.eq(kind))
                .filter(object_properties::Column::HubspotId.is_in(ids))
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(rows.into_iter().map(|(id, text)| (RecordKey { kind, id }, Arc::from(text))));
        }
        Ok(out)
    }
}

/// The current health score of clients (a company, or a contact without one).
pub(crate) struct HealthScores {
    db: DatabaseConnection,
    portal_id: i64,
}

impl Loader<RecordKey> for HealthScores {
    /// `None` for a client not scored (most contacts: their company holds the score), so the cache answers for it
    /// too.
    type Value = Option<Arc<health_score::Model>>;
    type Error = LoadError;

    async fn load(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Self::Value>, LoadError> {
        let mut out: HashMap<RecordKey, Self::Value> = keys.iter().map(|key| (*key, None)).collect();
        for (kind, ids) in by_kind(keys) {
            let rows = health_score::Entity::find()
                .filter(health_score::Column::PortalId.eq(self.portal_id))
                .filter(health_score::Column::SubjectType.eq(kind))
                .filter(health_score::Column::SubjectId.is_in(ids))
                .all(&self.db)
                .await?;
            out.extend(rows.into_iter().map(|row| (RecordKey { kind, id: row.subject_id }, Some(Arc::new(row)))));
        }
        Ok(out)
    }
}

/// The insights about clients (a company, or a contact without one), newest first.
pub(crate) struct InsightsOf {
    db: DatabaseConnection,
    portal_id: i64,
}

impl Loader<RecordKey> for InsightsOf {
    type Value = Arc<Vec<insight::Model>>;
    type Error = LoadError;

    /// Every key has an entry, empty for a client without insights, so the cache answers for it too.
    async fn load(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Self::Value>, LoadError> {
        let mut out: HashMap<RecordKey, Vec<insight::Model>> = keys.iter().map(|key| (*key, Vec::new())).collect();
        for (kind, ids) in by_kind(keys) {
            let rows = insight::Entity::find()
                .filter(insight::Column::PortalId.eq(self.portal_id))
                .filter(insight::Column::SubjectType.eq(kind))
                .filter(insight::Column::SubjectId.is_in(ids))
                .order_by_desc(insight::Column::RaisedAt)
                .order_by_desc(insight::Column::Id)
                .all(&self.db)
                .await?;
            for row in rows {
                out.entry(RecordKey { kind, id: row.subject_id }).or_default().push(row);
            }
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// One side of an association: the objects of `to_type` that `from_type`/`from_id` points at, through links with
/// `label` when one is given.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AssocKey {
    pub from_type: &'static str,
    pub from_id: i64,
    pub to_type: &'static str,
    pub label: Option<Arc<str>>,
}

pub(crate) struct Associations {
    db: DatabaseConnection,
    portal_id: i64,
}

impl Loader<AssocKey> for Associations {
    /// Distinct target ids, ascending: HubSpot may report a pair under several type ids.
    type Value = Arc<Vec<i64>>;
    type Error = LoadError;

    async fn load(&self, keys: &[AssocKey]) -> Result<HashMap<AssocKey, Self::Value>, LoadError> {
        // One statement per (from, to) type pair and label; a query level asks for a single pair.
        type Group = (&'static str, &'static str, Option<Arc<str>>);
        let mut groups: HashMap<Group, Vec<i64>> = HashMap::new();
        for key in keys {
            groups.entry((key.from_type, key.to_type, key.label.clone())).or_default().push(key.from_id);
        }
        let mut out: HashMap<AssocKey, Vec<i64>> = HashMap::new();
        for ((from_type, to_type, label), ids) in groups {
            // Only the pair, once: the edge's other columns are not needed to find the targets.
            let mut find = association::Entity::find()
                .select_only()
                .column(association::Column::FromId)
                .column(association::Column::ToId)
                .distinct()
                .filter(association::Column::PortalId.eq(self.portal_id))
                .filter(association::Column::FromType.eq(from_type))
                .filter(association::Column::FromId.is_in(ids.iter().copied()))
                .filter(association::Column::ToType.eq(to_type));
            if let Some(label) = &label {
                find = find.filter(association::Column::Label.eq(label.as_ref()));
            }
            let pairs: Vec<(i64, i64)> = find
                .order_by_asc(association::Column::FromId)
                .order_by_asc(association::Column::ToId)
                .into_tuple()
                .all(&self.db)
                .await?;
            let key = |from_id| AssocKey { from_type, from_id, to_type, label: label.clone() };
            for id in ids {
                out.entry(key(id)).or_default();
            }
            for (from_id, to_id) in pairs {
                out.entry(key(from_id)).or_default().push(to_id);
            }
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// The labels of the links from one record to records of a type, by target id, and whether a link is primary.
pub(crate) struct EdgeLabels {
    db: DatabaseConnection,
    portal_id: i64,
}

/// Per target id: its links' labels (sorted, each once) and whether one is primary.
type Labels = HashMap<i64, (Vec<String>, bool)>;

impl Loader<crate::relay::LinksFrom> for EdgeLabels {
    type Value = Arc<Labels>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[crate::relay::LinksFrom],
    ) -> Result<HashMap<crate::relay::LinksFrom, Arc<Labels>>, LoadError> {
        // One statement per (from, to) type pair, as for the associations themselves.
        let mut groups: HashMap<(&'static str, &'static str), Vec<i64>> = HashMap::new();
        for key in keys {
            groups.entry((key.from_type, key.to_type)).or_default().push(key.from_id);
        }
        let mut out: HashMap<crate::relay::LinksFrom, Labels> = HashMap::new();
        for ((from_type, to_type), ids) in groups {
            let rows: Vec<(i64, i64, Option<String>, bool)> = association::Entity::find()
                .select_only()
                .column(association::Column::FromId)
                .column(association::Column::ToId)
                .column(association::Column::Label)
                .column(association::Column::IsPrimary)
                .filter(association::Column::PortalId.eq(self.portal_id))
                .filter(association::Column::FromType.eq(from_type))
                .filter(association::Column::FromId.is_in(ids.iter().copied()))
                .filter(association::Column::ToType.eq(to_type))
                .into_tuple()
                .all(&self.db)
                .await?;
            let key = |from_id| crate::relay::LinksFrom { from_type, from_id, to_type };
            for id in ids {
                out.entry(key(id)).or_default();
            }
            for (from_id, to_id, label, primary) in rows {
                let entry = out.entry(key(from_id)).or_default().entry(to_id).or_default();
                entry.1 |= primary;
                if let Some(label) = label.filter(|l| !entry.0.contains(l)) {
                    entry.0.push(label);
                }
            }
        }
        for labels in out.values_mut() {
            labels.values_mut().for_each(|(l, _)| l.sort());
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// The labels of the link `from` → `to_id`, and whether it is primary.
pub(crate) async fn edge_labels(
    ctx: &async_graphql::Context<'_>,
    from: crate::relay::LinksFrom,
    to_id: i64,
) -> Result<(Vec<String>, bool), LoadError> {
    let loaded = crate::scope::scope(ctx).loaders.edge_labels.load_one(from).await?;
    Ok(loaded.and_then(|l| l.get(&to_id).cloned()).unwrap_or_default())
}

/// The rows of `E` that each of `from_ids` (of `from_type`) is associated with, in one statement and with only the
/// columns the request reads (see `columns`):
/// `SELECT e.…, edge.from_id FROM (SELECT DISTINCT from_id, to_id FROM associations WHERE …) edge JOIN e …`.
pub(crate) async fn load_associated<E>(
    db: &DatabaseConnection,
    portal_id: i64,
    from_type: &str,
    from_ids: &[i64],
    to_type: &str,
    wanted: &Wanted,
) -> Result<Vec<(i64, E::Model)>, DbErr>
where
    E: EntityTrait,
    E::Model: Row + Default,
{
    if from_ids.is_empty() {
        return Ok(Vec::new());
    }
    let edges = Query::select()
        .distinct()
        .column("from_id")
        .column("to_id")
        .from("associations")
        .and_where(Expr::col("portal_id").eq(portal_id))
        .and_where(Expr::col("from_type").eq(from_type))
        .and_where(Expr::col("from_id").is_in(from_ids.iter().copied()))
        .and_where(Expr::col("to_type").eq(to_type))
        .to_owned();
    let table = Alias::new(E::default().table_name());
    let columns = read_columns::<E>(E::Model::READ_BY, wanted);
    // Live rows only, as `associated` shows: a narrow row does not carry `archived_at`.
    let mut select = E::find()
        .select_only()
        .columns(columns.iter().copied())
        .filter(column::<E>("portal_id").eq(portal_id))
        .filter(column::<E>("archived_at").is_null())
        .into_query();
    select
        .join_subquery(
            JoinType::InnerJoin,
            edges,
            Alias::new("edge"),
            Expr::col((Alias::new("edge"), Alias::new("to_id"))).equals((table, Alias::new("hubspot_id"))),
        )
        .expr_as(Expr::col((Alias::new("edge"), Alias::new("from_id"))), Alias::new("edge_from_id"));
    let rows = db.query_all(&select).await?;
    rows.iter().map(|row| Ok((row.try_get_by_index::<i64>(columns.len())?, decode(row, &columns)?))).collect()
}

/// A request's cache: keyed by our own ids, so a fast hash (foldhash, randomly seeded) rather than SipHash, which
/// took 5% of a nested query's CPU.
pub(crate) type Cached<T> = DataLoader<T, HashMapCache<foldhash::fast::RandomState>>;

pub(crate) struct Loaders {
    pub contacts: Cached<ById<contact::Entity, i64>>,
    pub companies: Cached<ById<company::Entity, i64>>,
    pub deals: Cached<ById<deal::Entity, i64>>,
    pub tickets: Cached<ById<ticket::Entity, i64>>,
    pub custom_objects: Cached<CustomObjects>,
    pub owners: Cached<ById<owner::Entity, i64>>,
    pub campaigns: Cached<ById<campaign::Entity, String>>,
    pub pipelines: Cached<ById<pipeline::Entity, String>>,
    pub stages: Cached<StagesByPipeline>,
    pub associations: Cached<Associations>,
    pub edge_labels: Cached<EdgeLabels>,
    pub properties: Cached<Properties>,
    pub health_scores: Cached<HealthScores>,
    pub insights: Cached<InsightsOf>,
}

/// Each batch runs in a task of its own, in its span (see [`batch_span`]) below the resolver's (the request's).
fn cached<T: Send + Sync + 'static>(loader: T) -> Cached<T> {
    let spawn = |batch: futures::future::BoxFuture<'static, ()>| {
        tokio::spawn(tracing::Instrument::instrument(batch, batch_span::<T>()))
    };
    DataLoader::with_cache(loader, spawn, HashMapCache::new())
}

/// A span for traces only (`otel::loader`; log lines keep the request's) around one batch of loader `T`, named
/// after it (`ById<contact::Entity, i64>`): without it a batch's statements would belong to no request's trace.
pub(crate) fn batch_span<T>() -> tracing::Span {
    // The name is made inside the macro, so only when traces are on: every batch of every request asks for a span.
    let name = || std::any::type_name::<T>().replace("schema::loaders::", "").replace("entities::", "");
    tracing::info_span!(target: "otel::loader", "loader batch", loader = %name())
}

impl Loaders {
    pub fn new(db: DatabaseConnection, portal_id: i64) -> Self {
        Self {
            contacts: cached(ById::new(&db, portal_id)),
            companies: cached(ById::new(&db, portal_id)),
            deals: cached(ById::new(&db, portal_id)),
            tickets: cached(ById::new(&db, portal_id)),
            custom_objects: cached(CustomObjects { db: db.clone(), portal_id }),
            owners: cached(ById::new(&db, portal_id)),
            campaigns: cached(ById::new(&db, portal_id)),
            pipelines: cached(ById::new(&db, portal_id)),
            stages: cached(StagesByPipeline { db: db.clone(), portal_id }),
            associations: cached(Associations { db: db.clone(), portal_id }),
            edge_labels: cached(EdgeLabels { db: db.clone(), portal_id }),
            properties: cached(Properties { db: db.clone(), portal_id }),
            health_scores: cached(HealthScores { db: db.clone(), portal_id }),
            insights: cached(InsightsOf { db, portal_id }),
        }
    }
}
