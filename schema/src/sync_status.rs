//! `syncStatus`: where the backfill of the request's portal stands, per object type.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::sync_state;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    error::{GqlResult, IntoGql},
    scope::scope,
};

/// The backfill of one object type.
#[derive(SimpleObject)]
pub struct SyncTypeStatus {
    /// `contact`, `company`, `deal` or `ticket`.
    pub object_type: String,
    /// Records copied so far.
    pub objects_synced: i64,
    /// Every page has been copied.
    pub done: bool,
    /// Why the last attempt stopped, if it failed.
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct SyncStatusQuery;

#[Object]
impl SyncStatusQuery {
    /// The backfill's progress per object type; empty before the first sync.
    async fn sync_status(&self, ctx: &Context<'_>) -> GqlResult<Vec<SyncTypeStatus>> {
        let scope = scope(ctx);
        let rows = sync_state::Entity::find()
            .filter(sync_state::Column::PortalId.eq(scope.portal_id))
            .order_by_asc(sync_state::Column::ObjectType)
            .all(&scope.db)
            .await
            .map_err(crate::error::ApiError::from)
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|r| SyncTypeStatus {
                object_type: r.object_type,
                objects_synced: r.objects_synced,
                done: r.backfill_done,
                last_error: r.last_error,
                updated_at: r.updated_at,
            })
            .collect())
    }
}
