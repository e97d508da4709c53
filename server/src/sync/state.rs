//! The backfill's and the sweep's saved place per portal and object type (`sync_state`).

use chrono::{DateTime, Utc};
use entities::sync_state::{self, Column as C};
use hubspot::ObjectType;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::OnConflict};

pub async fn load(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
) -> Result<Option<sync_state::Model>, DbErr> {
    sync_state::Entity::find_by_id((portal, object_type.singular().to_owned())).one(db).await
}

/// Writes `row` for a new (portal, type), or only `columns` of an existing one.
async fn write(db: &impl ConnectionTrait, row: sync_state::ActiveModel, columns: &[C]) -> Result<(), DbErr> {
    let mut columns = columns.to_vec();
    columns.push(C::UpdatedAt);
    let on_conflict = OnConflict::columns([C::PortalId, C::ObjectType]).update_columns(columns).to_owned();
    sync_state::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(db).await.map(drop)
}

/// A fresh row: nothing synced yet.
fn row(portal: i64, object_type: ObjectType) -> sync_state::ActiveModel {
    kind_row(portal, object_type.singular())
}

/// A fresh row of any kind: an object type (`contact`) or reference data (`owners`).
fn kind_row(portal: i64, kind: &str) -> sync_state::ActiveModel {
    sync_state::ActiveModel {
        portal_id: Set(portal),
        object_type: Set(kind.to_owned()),
        backfill_cursor: Set(None),
        backfill_done: Set(false),
        reconcile_cursor: Set(None),
        objects_synced: Set(0),
        last_error: Set(None),
        updated_at: Set(Utc::now()),
        refreshed_at: Set(None),
        fingerprint: Set(None),
        missing_scopes: Set(None),
    }
}

/// After a backfill page: where the next page starts (`None`: the type is done) and how many records so far.
pub async fn save(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    next: Option<&str>,
    synced: u64,
) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel {
        backfill_cursor: Set(next.map(str::to_owned)),
        backfill_done: Set(next.is_none()),
        objects_synced: Set(synced as i64),
        ..row(portal, object_type)
    };
    write(db, row, &[C::BackfillCursor, C::BackfillDone, C::ObjectsSynced, C::LastError]).await
}

/// After a page of the reconcile sweep: the newest last-modified date it has written.
pub async fn save_reconcile(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    cursor: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel { reconcile_cursor: Set(Some(cursor)), ..row(portal, object_type) };
    write(db, row, &[C::ReconcileCursor]).await
}

/// Why the backfill of a type stopped; the next page written clears it.
pub async fn record_error(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    error: &str,
) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel { last_error: Set(Some(error.to_owned())), ..row(portal, object_type) };
    write(db, row, &[C::LastError]).await
}

/// The saved state of a kind of reference data.
pub async fn load_kind(db: &impl ConnectionTrait, portal: i64, kind: &str) -> Result<Option<sync_state::Model>, DbErr> {
    sync_state::Entity::find_by_id((portal, kind.to_owned())).one(db).await
}

/// A kind of reference data was read whole: when, and the digest of what was read; clears an earlier error.
pub async fn refreshed(db: &impl ConnectionTrait, portal: i64, kind: &str, fingerprint: &str) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel {
        backfill_done: Set(true),
        refreshed_at: Set(Some(Utc::now())),
        fingerprint: Set(Some(fingerprint.to_owned())),
        ..kind_row(portal, kind)
    };
    let columns = [C::BackfillDone, C::RefreshedAt, C::Fingerprint, C::LastError, C::MissingScopes];
    write(db, row, &columns).await
}

/// Why reading a kind of reference data failed, and the scopes HubSpot said were missing, if that was why.
pub async fn refresh_failed(
    db: &impl ConnectionTrait,
    portal: i64,
    kind: &str,
    error: &str,
    missing_scopes: Option<&[String]>,
) -> Result<(), DbErr> {
    let row = sync_state::ActiveModel {
        last_error: Set(Some(error.to_owned())),
        missing_scopes: Set(missing_scopes.map(|s| s.join(","))),
        ..kind_row(portal, kind)
    };
    write(db, row, &[C::LastError, C::MissingScopes]).await
}

/// `--full`: start every type again from the first page.
pub async fn reset(db: &impl ConnectionTrait, portal: i64) -> Result<(), DbErr> {
    sync_state::Entity::delete_many().filter(C::PortalId.eq(portal)).exec(db).await.map(drop)
}
