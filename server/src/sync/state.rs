//! The backfill's saved place per portal and object type (`sync_state`).

use chrono::Utc;
use entities::sync_state;
use generator::ObjectType;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::OnConflict};

pub async fn load(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
) -> Result<Option<sync_state::Model>, DbErr> {
    sync_state::Entity::find_by_id((portal, object_type.singular().to_owned())).one(db).await
}

/// After a page: where the next page starts (`None`: the type is done) and how many records so far.
pub async fn save(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    next: Option<&str>,
    synced: u64,
) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel {
        portal_id: Set(portal),
        object_type: Set(object_type.singular().to_owned()),
        backfill_cursor: Set(next.map(str::to_owned)),
        backfill_done: Set(next.is_none()),
        reconcile_cursor: Set(None),
        objects_synced: Set(synced as i64),
        last_error: Set(None),
        updated_at: Set(Utc::now()),
    };
    use sync_state::Column as C;
    let on_conflict = OnConflict::columns([C::PortalId, C::ObjectType])
        .update_columns([C::BackfillCursor, C::BackfillDone, C::ObjectsSynced, C::LastError, C::UpdatedAt])
        .to_owned();
    sync_state::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(db).await.map(drop)
}

/// After a page of the reconcile sweep: the newest last-modified date it has written.
pub async fn save_reconcile(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    cursor: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel {
        portal_id: Set(portal),
        object_type: Set(object_type.singular().to_owned()),
        backfill_cursor: Set(None),
        backfill_done: Set(false),
        reconcile_cursor: Set(Some(cursor)),
        objects_synced: Set(0),
        last_error: Set(None),
        updated_at: Set(Utc::now()),
    };
    use sync_state::Column as C;
    let on_conflict =
        OnConflict::columns([C::PortalId, C::ObjectType]).update_columns([C::ReconcileCursor, C::UpdatedAt]).to_owned();
    sync_state::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(db).await.map(drop)
}

/// Why the backfill of a type stopped; the next run clears it.
pub async fn record_error(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    error: &str,
) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel {
        portal_id: Set(portal),
        object_type: Set(object_type.singular().to_owned()),
        backfill_cursor: Set(None),
        backfill_done: Set(false),
        reconcile_cursor: Set(None),
        objects_synced: Set(0),
        last_error: Set(Some(error.to_owned())),
        updated_at: Set(Utc::now()),
    };
    use sync_state::Column as C;
    let on_conflict =
        OnConflict::columns([C::PortalId, C::ObjectType]).update_columns([C::LastError, C::UpdatedAt]).to_owned();
    sync_state::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(db).await.map(drop)
}

/// `--full`: start every type again from the first page.
pub async fn reset(db: &impl ConnectionTrait, portal: i64) -> Result<(), DbErr> {
    sync_state::Entity::delete_many().filter(sync_state::Column::PortalId.eq(portal)).exec(db).await.map(drop)
}
