//! Removing a disconnected portal's mirror. A disconnect marks the portal (`portals.disconnected_at`); once
//! `DISCONNECT_GRACE_SECS` has passed without a reinstall, every row the gateway holds for it goes, in one
//! transaction. Kept: `audit_log`, the record of what was done (the disconnect included), and `api_keys`, grants
//! an admin revokes (a key naming the portal then finds nothing). The search tables (`*_search`) follow the records'
//! deletes by their triggers on both backends; `property_values` is deleted first, in one statement, so its
//! trigger on `object_properties` then finds nothing to do per row.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use entities::{
    association, campaign, company, contact, custom_object, deal, health_score, health_score_history, idempotency_key,
    insight, insight_event, oauth_token, object_properties, object_schema, owner, pipeline, pipeline_stage, portal,
    property_definition, property_value, sync_state, ticket, webhook_event, webhook_queue,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, Query},
};

/// Marks `portal` disconnected at `at`, unless it already is: the first disconnect starts the grace period.
pub async fn mark_disconnected(db: &impl ConnectionTrait, portal: i64, at: DateTime<Utc>) -> Result<(), DbErr> {
    portal::Entity::update_many()
        .col_expr(portal::Column::DisconnectedAt, Expr::value(at))
        .filter(portal::Column::PortalId.eq(portal))
        .filter(portal::Column::DisconnectedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Connected again (a reinstall, or a disconnect that failed): the purge is called off.
pub async fn mark_connected(db: &impl ConnectionTrait, portal: i64) -> Result<(), DbErr> {
    portal::Entity::update_many()
        .col_expr(portal::Column::DisconnectedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(portal::Column::PortalId.eq(portal))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every row of `portal` the gateway keeps (but the audit log, API keys and OAuth tokens: a disconnect
/// has deleted those), in one transaction; how many.
pub async fn purge_portal(db: &DatabaseConnection, portal: i64) -> Result<u64, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let rows = delete_rows(&txn, portal).await?;
    txn.commit().await?;
    Ok(rows)
}

/// Purges each portal disconnected at least `grace` before `now` and not installed since; the portals purged, with
/// the rows each lost.
pub async fn purge_due(db: &DatabaseConnection, now: DateTime<Utc>, grace: Duration) -> Result<Vec<(i64, u64)>, DbErr> {
    let Some(cutoff) = TimeDelta::from_std(grace).ok().and_then(|grace| now.checked_sub_signed(grace)) else {
        return Ok(Vec::new());
    };
    let due: Vec<i64> = portal::Entity::find()
        .select_only()
        .column(portal::Column::PortalId)
        .filter(portal::Column::DisconnectedAt.lte(cutoff))
        .into_tuple()
        .all(db)
        .await?;
    let mut purged = Vec::new();
    for id in due {
        let txn = crate::db::begin_write(db).await?;
        // Checked again inside the transaction, the portal's row locked on Postgres (SQLite's write transaction
        // holds the database): a reinstall since the read above calls the purge off, and one finishing now waits.
        let mut still = portal::Entity::find_by_id(id).filter(portal::Column::DisconnectedAt.lte(cutoff));
        if db.get_database_backend() == DbBackend::Postgres {
            still = still.lock_exclusive();
        }
        let marked = still.one(&txn).await?.is_some();
        let installed = oauth_token::Entity::find_by_id(id).count(&txn).await? > 0;
        if !marked || installed {
            txn.rollback().await?;
            continue;
        }
        let rows = delete_rows(&txn, id).await?;
        txn.commit().await?;
        tracing::info!(portal = id, rows, "purged a disconnected portal's mirror after its grace period");
        purged.push((id, rows));
    }
    Ok(purged)
}

/// Checks for portals due for a purge every `every`, for as long as the gateway serves.
pub async fn keep_purging(db: DatabaseConnection, grace: Duration, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(err) = purge_due(&db, Utc::now(), grace).await {
            tracing::error!(error = %err, "purging disconnected portals failed; tried again at the next check");
        }
    }
}

/// Deletes the portal's rows table by table, children before what they name, the portal's own row last. One
/// statement a table: chunks inside one transaction would hold the same locks for as long.
async fn delete_rows(txn: &DatabaseTransaction, portal: i64) -> Result<u64, DbErr> {
    let events = Query::select()
        .column(webhook_event::Column::Id)
        .from(webhook_event::Entity)
        .and_where(webhook_event::Column::PortalId.eq(portal))
        .to_owned();
    let mut rows = webhook_queue::Entity::delete_many()
        .filter(webhook_queue::Column::Id.in_subquery(events))
        .exec(txn)
        .await?
        .rows_affected;
    macro_rules! delete {
        ($($table:ident),+) => {$(
            rows += $table::Entity::delete_many()
                .filter($table::Column::PortalId.eq(portal))
                .exec(txn)
                .await?
                .rows_affected;
        )+};
    }
    delete!(
        webhook_event,
        insight_event,
        insight,
        health_score_history,
        health_score,
        idempotency_key,
        association,
        property_value,
        object_properties,
        contact,
        company,
        deal,
        ticket,
        custom_object,
        object_schema,
        pipeline_stage,
        pipeline,
        owner,
        campaign,
        property_definition,
        sync_state,
        portal
    );
    Ok(rows)
}
