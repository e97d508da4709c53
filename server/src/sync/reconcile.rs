//! The reconcile sweep: what webhooks missed. Each type is searched by last-modified date past the saved cursor
//! (HubSpot's search stops at 10,000 results, so the sweep re-anchors on the last date it saw before reaching
//! that), changed records and their associations are written again, archived records become tombstones, and
//! records merged away point to their survivor.

use chrono::{DateTime, Utc};
use hubspot::{CrmObject, ObjectType};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr,
    sea_query::{Alias, Expr, ExprTrait, Func, Query},
};
use serde_json::json;

use super::{SyncError, associations, linked, properties::Asked, state, wire};
use crate::{
    health::Health,
    hubspot::{Call, HubSpot},
    mirror,
};

/// HubSpot's cap on the results one search can page through.
const SEARCH_CAP: usize = 10_000;
const SEARCH_PAGE: usize = 200;

/// What a sweep changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub changed: u64,
    pub archived: u64,
    pub merged: u64,
}

/// One sweep over every type of `portal`; `health` rescores the clients the changes it finds touch.
pub async fn reconcile(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    health: Option<&Health>,
) -> Result<ReconcileReport, SyncError> {
    let mut report = ReconcileReport::default();
    for object_type in super::object_types(db, portal).await? {
        let found = sweep_changes(db, hubspot, portal, object_type, &mut report).await?;
        if let Some(health) = health {
            let records: Vec<(ObjectType, i64)> = found.into_iter().map(|id| (object_type, id)).collect();
            health
                .records_changed(portal, &records, &json!({ "kind": "sweep", "objectType": object_type.singular() }))
                .await;
        }
        sweep_archived(db, hubspot, portal, object_type, &mut report).await?;
    }
    Ok(report)
}

/// Where the sweep of a type starts: its saved cursor, or the newest `updatedAt` the mirror holds.
async fn start(db: &DatabaseConnection, portal: i64, object_type: ObjectType) -> Result<DateTime<Utc>, DbErr> {
    if let Some(cursor) = state::load(db, portal, object_type).await?.and_then(|s| s.reconcile_cursor) {
        return Ok(cursor);
    }
    let newest: Option<DateTime<Utc>> =
        aggregate(db, portal, object_type, Func::max(Expr::col(Alias::new("updated_at"))), None).await?;
    Ok(newest.unwrap_or(DateTime::UNIX_EPOCH))
}

/// One aggregate over a type's rows of `portal` (and `filter`, when given); `None` when there are no rows.
async fn aggregate<T: sea_orm::TryGetable>(
    db: &DatabaseConnection,
    portal: i64,
    object_type: ObjectType,
    value: impl Into<sea_orm::sea_query::SimpleExpr>,
    filter: Option<sea_orm::sea_query::SimpleExpr>,
) -> Result<Option<T>, DbErr> {
    let mut query = Query::select();
    query
        .expr_as(value, Alias::new("value"))
        .from(mirror::schemas::table(object_type))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where_option(mirror::schemas::of_type(object_type));
    if let Some(filter) = filter {
        query.and_where(filter);
    }
    let row = db.query_one(&query).await?;
    Ok(row.and_then(|r| r.try_get::<Option<T>>("", "value").ok().flatten()))
}

/// Sweeps the records of a type changed since the last sweep into the mirror; their ids.
async fn sweep_changes(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    object_type: ObjectType,
    report: &mut ReconcileReport,
) -> Result<Vec<i64>, SyncError> {
    let property = object_type.last_modified_property();
    // `hs_merged_object_ids` (always asked) names the records a survivor absorbed.
    let asked = Asked::load(db, portal, object_type).await?;
    let mut anchor = start(db, portal, object_type).await?;
    let mut offset = 0;
    let mut newest = anchor;
    let mut found = Vec::new();
    loop {
        if offset + SEARCH_PAGE > SEARCH_CAP {
            // Start a new search from the newest date seen: paging on would hit HubSpot's cap.
            if newest <= anchor {
                return Err(SyncError::HubSpot(crate::hubspot::HubSpotError::bad_response(format!(
                    "more than {SEARCH_CAP} {} changed at {anchor}: the sweep cannot page past them",
                    object_type.plural()
                ))));
            }
            anchor = newest;
            offset = 0;
        }
        let body = json!({
            "filterGroups": [{ "filters": [
                { "propertyName": property, "operator": "GTE", "value": anchor.timestamp_millis().to_string() },
            ] }],
            "sorts": [{ "propertyName": property, "direction": "ASCENDING" }],
            "properties": asked.names(),
            "limit": SEARCH_PAGE,
            "after": offset.to_string(),
        });
        let path = format!("/crm/v3/objects/{}/search", object_type.plural());
        let answer = hubspot.send(portal, Call::post(path, body)).await?;
        let page = wire::objects(&answer)?;
        newest = page.results.iter().map(|o| o.updated_at).fold(newest, Ord::max);
        write_changes(db, hubspot, portal, object_type, &page.results, newest, report).await?;
        found.extend(page.results.iter().map(|o| o.id));
        match page.next.and_then(|n| n.parse::<usize>().ok()) {
            Some(next) => offset = next,
            None => return Ok(found),
        }
    }
}

async fn write_changes(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    object_type: ObjectType,
    objects: &[CrmObject],
    cursor: DateTime<Utc>,
    report: &mut ReconcileReport,
) -> Result<(), SyncError> {
    let linked = linked(db, portal, object_type).await?;
    let links = links_of(hubspot, portal, object_type, &linked, objects).await?;
    let txn = crate::db::begin_write(db).await?;
    report.merged += write_with_links(&txn, portal, object_type, objects, &linked, &links).await?;
    state::save_reconcile(&txn, portal, object_type, cursor).await?;
    txn.commit().await?;
    report.changed += objects.len() as u64;
    Ok(())
}

/// The associations of `objects` with every type they link to, as HubSpot holds them now.
async fn links_of(
    hubspot: &HubSpot,
    portal: i64,
    object_type: ObjectType,
    linked: &[ObjectType],
    objects: &[CrmObject],
) -> Result<Vec<hubspot::Association>, SyncError> {
    let ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
    let mut links = Vec::new();
    for other in linked {
        links.extend(associations(hubspot, portal, object_type, *other, &ids).await?);
    }
    // Each edge once: one upsert may not write a row twice.
    let mut seen = std::collections::BTreeSet::new();
    links.retain(|l| seen.insert((l.from_type, l.from_id, l.to_type, l.to_id, l.type_id)));
    Ok(links)
}

/// Writes records as HubSpot holds them, their associations replacing the mirror's, and tombstones the records
/// each absorbed (`hs_merged_object_ids`); how many were newly marked merged.
async fn write_with_links(
    txn: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    objects: &[CrmObject],
    linked: &[ObjectType],
    links: &[hubspot::Association],
) -> Result<u64, DbErr> {
    let ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
    let now = Utc::now();
    mirror::upsert_objects(txn, portal, object_type, objects, now).await?;
    mirror::clear_associations(txn, portal, object_type, &ids, linked).await?;
    mirror::upsert_associations(txn, portal, links, now).await?;
    let mut absorbed: Vec<(i64, i64)> = Vec::new();
    for survivor in objects {
        let ids = survivor.properties.get("hs_merged_object_ids").cloned().flatten().unwrap_or_default();
        absorbed.extend(ids.split(';').filter_map(|id| id.trim().parse().ok()).map(|id: i64| (id, survivor.id)));
    }
    mirror::mark_merged(txn, portal, object_type, &absorbed, now).await
}

/// Reads `ids` of `object_type` from HubSpot with their associations and writes them to the mirror, in one
/// transaction: what a webhook's creation, restore, merge or association change calls for. Ids HubSpot no longer
/// holds live are left as the mirror has them. The ids read.
pub async fn refresh(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    object_type: ObjectType,
    ids: &[i64],
) -> Result<usize, SyncError> {
    let asked = Asked::load(db, portal, object_type).await?;
    // Several events may name one record: it is read once (a batch naming it twice would write it twice).
    let ids: Vec<i64> = ids.iter().copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut objects = Vec::new();
    for chunk in ids.chunks(super::PAGE) {
        let inputs: Vec<_> = chunk.iter().map(|id| json!({ "id": id.to_string() })).collect();
        let path = format!("/crm/v3/objects/{}/batch/read", object_type.plural());
        let answer =
            hubspot.send(portal, Call::post(path, json!({ "inputs": inputs, "properties": asked.names() }))).await?;
        objects.extend(wire::objects(&answer)?.results);
    }
    // A merged id answers with its survivor, which may be asked for as well.
    let mut seen = std::collections::BTreeSet::new();
    objects.retain(|o| seen.insert(o.id));
    let linked = linked(db, portal, object_type).await?;
    let links = links_of(hubspot, portal, object_type, &linked, &objects).await?;
    let txn = crate::db::begin_write(db).await?;
    write_with_links(&txn, portal, object_type, &objects, &linked, &links).await?;
    txn.commit().await?;
    Ok(objects.len())
}

/// Archived records, listed whole (HubSpot's search never returns them); the mirror's newer-only upsert turns the
/// ones it still holds as live into tombstones.
async fn sweep_archived(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    object_type: ObjectType,
    report: &mut ReconcileReport,
) -> Result<(), SyncError> {
    // A tombstone needs no more than the id and the dates; the properties held stay as they are.
    let asked = Asked::new(object_type, []);
    let mut after: Option<String> = None;
    loop {
        let cursor = after.as_ref().map(|a| format!("&after={a}")).unwrap_or_default();
        let path = format!("/crm/v3/objects/{}?archived=true&limit=100{cursor}", object_type.plural());
        let (page, _) = super::properties::read_page(hubspot, portal, &path, &asked).await?;
        let newly = newly_archived(db, portal, object_type, &page.results).await?;
        mirror::upsert_objects(db, portal, object_type, &page.results, Utc::now()).await?;
        report.archived += newly;
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// How many of `objects` the mirror still holds as live.
async fn newly_archived(
    db: &DatabaseConnection,
    portal: i64,
    object_type: ObjectType,
    objects: &[CrmObject],
) -> Result<u64, DbErr> {
    if objects.is_empty() {
        return Ok(0);
    }
    let live = Expr::col(Alias::new("hubspot_id"))
        .is_in(objects.iter().map(|o| o.id))
        .and(Expr::col(Alias::new("archived_at")).is_null());
    let count = Func::count(Expr::col(Alias::new("hubspot_id")));
    Ok(aggregate::<i64>(db, portal, object_type, count, Some(live)).await?.unwrap_or(0) as u64)
}
