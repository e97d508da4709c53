//! An object's associated records as a connection: two batched statements per query level (edges, then rows).

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::{EntityTrait, ModelTrait, sea_query::Value};

use super::Boxed;
use crate::{
    connection::{Page, PageArgs, id_page},
    error::Res,
    loaders::{AssocKey, ById, Cached, column},
    relay::LinksFrom,
    scope::scope,
};

/// Boxed (see `objects::Boxed`). With `label`, only the records linked with that label (`Decision maker`).
pub(crate) fn associated<'a, E>(
    ctx: &'a Context<'_>,
    from: LinksFrom,
    label: Option<String>,
    rows: impl FnOnce(&crate::loaders::Loaders) -> &Cached<ById<E, i64>> + Send + 'a,
    args: PageArgs,
) -> Boxed<'a, Res<Page<Arc<E::Model>>>>
where
    E: EntityTrait,
    E::Model: Sync,
{
    Box::pin(async move {
        let loaders = &scope(ctx).loaders;
        let LinksFrom { from_type, from_id, to_type } = from;
        let key = AssocKey { from_type, from_id, to_type, label: label.map(Arc::from) };
        let ids = loaders.associations.load_one(key).await?.unwrap_or_default();
        let found = rows(loaders).load_many(ids.iter().copied()).await?;
        let archived_at = column::<E>("archived_at");
        // Archived records keep their edges in the mirror (a restore revives them) but are not shown.
        let live = found.into_iter().filter(|(_, row)| matches!(row.get(archived_at), Value::ChronoDateTimeUtc(None)));
        id_page(live.collect(), &args)
    })
}
