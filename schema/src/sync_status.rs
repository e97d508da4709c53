//! `syncStatus`: where the backfill of the request's portal stands, per object type, and when each kind of reference
//! data was last read.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::sync_state;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    error::{GqlResult, IntoGql},
    scope::scope,
};

/// The backfill of one object type, or the refresh of one kind of reference data.
#[derive(SimpleObject)]
pub struct SyncTypeStatus {
    /// `contact`, `company`, `deal` or `ticket`; or reference data: `owners`, `pipelines`, `properties`, `campaigns`.
    pub object_type: String,
    /// Records copied so far (0 for reference data).
    pub objects_synced: i64,
    /// Every page has been copied (reference data: read at least once).
    pub done: bool,
    /// Why the last attempt stopped, if it failed.
    pub last_error: Option<String>,
    /// The scopes HubSpot said the portal's credential lacks for this kind (`MISSING_SCOPES`); empty when none.
    pub missing_scopes: Vec<String>,
    /// Reference data: when it was last read whole from HubSpot.
    pub refreshed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct SyncStatusQuery;

#[Object]
impl SyncStatusQuery {
    /// The backfill's progress per object type and the reference data's last refresh per kind; empty before the
    /// first sync.
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
                missing_scopes: r
                    .missing_scopes
                    .map(|s| s.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
                    .unwrap_or_default(),
                refreshed_at: r.refreshed_at,
                updated_at: r.updated_at,
            })
            .collect())
    }
}
