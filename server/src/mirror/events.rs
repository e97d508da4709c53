//! What a webhook event changes in the mirror without asking HubSpot: one property, a tombstone, a GDPR erasure.
//! Per object and per property the newest `occurredAt` wins, whatever order events arrive in.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use entities::{association, object_properties, webhook_event};
use hubspot::{CrmObject, ObjectType};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use serde_json::json;

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or(DateTime::UNIX_EPOCH)
}

/// One property's new value and when HubSpot changed it (ms).
#[derive(Clone, Debug)]
pub struct Change {
    pub name: String,
    pub value: Option<String>,
    pub occurred_ms: i64,
}

/// Sets each changed property of each record whose change is newer than the value held: a few multi-row statements
/// for all the records, whatever their number. Gives back the ids of the records the mirror does not hold (the
/// caller reads them from HubSpot). `records` hold distinct ids.
pub async fn set_properties(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    records: &[(i64, Vec<Change>)],
) -> Result<BTreeSet<i64>, DbErr> {
    let mut ids: Vec<i64> = records.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    let held = super::write::held_properties(db, portal, object_type, &ids).await?;
    let mut created = BTreeMap::new();
    for chunk in ids.chunks(super::write::CHUNK) {
        created.extend(created_at(db, portal, object_type, chunk).await?);
    }
    let mut missing = BTreeSet::new();
    let (mut objects, mut rows) = (Vec::new(), Vec::new());
    for (id, changes) in records {
        let (Some(row), Some(created_at)) = (held.get(id), created.get(id)) else {
            missing.insert(*id);
            continue;
        };
        let Some((object, times)) = apply(row, changes, *created_at) else { continue };
        let mut properties = super::convert::properties(portal, object_type, &object);
        properties.property_times = Set(times);
        objects.push(object);
        rows.push(properties);
    }
    let now = Utc::now();
    // The typed rows are rewritten from the properties, which say nothing of deletion or merge: those columns keep
    // what the row holds when it is written, including another applier's tombstone or merge committed meanwhile.
    super::write::upsert_typed(db, portal, object_type, &objects, now, super::write::Lifecycle::Kept).await?;
    use object_properties::Column as P;
    super::write::upsert(db, rows, &[P::PortalId, P::ObjectType, P::HubspotId], true).await?;
    Ok(missing)
}

/// The record with its newer changes applied and the change times of its properties (JSON), or `None` when every
/// change is older than what the mirror holds.
fn apply(row: &object_properties::Model, changes: &[Change], created_at: DateTime<Utc>) -> Option<(CrmObject, String)> {
    // Every value held dates from the version's `updatedAt` until an event says otherwise; pinning those dates now
    // keeps them when `updated_at` moves on.
    let (mut properties, mut times) = super::merge::held_times(row);
    let version_ms = row.updated_at.timestamp_millis();
    let (mut updated_at, mut applied) = (row.updated_at, false);
    for change in changes {
        if change.occurred_ms <= times.get(&change.name).copied().unwrap_or(version_ms) {
            continue;
        }
        properties.insert(change.name.clone(), change.value.clone());
        times.insert(change.name.clone(), change.occurred_ms);
        updated_at = Ord::max(updated_at, millis(change.occurred_ms));
        applied = true;
    }
    let object = CrmObject { id: row.hubspot_id, properties, created_at, updated_at, archived: false };
    applied.then(|| (object, serde_json::to_string(&times).unwrap_or_default()))
}

/// When each record was created, from its typed row (its properties do not carry it).
async fn created_at(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    ids: &[i64],
) -> Result<BTreeMap<i64, DateTime<Utc>>, DbErr> {
    #[derive(FromQueryResult)]
    struct Created {
        hubspot_id: i64,
        created_at: DateTime<Utc>,
    }
    let select = Query::select()
        .columns(["hubspot_id", "created_at"].map(Alias::new))
        .from(super::schemas::table(object_type))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("hubspot_id")).is_in(ids.iter().copied()))
        .and_where_option(super::schemas::of_type(object_type))
        .to_owned();
    let rows = Created::find_by_statement(db.get_database_backend().build(&select)).all(db).await?;
    Ok(rows.into_iter().map(|c| (c.hubspot_id, c.created_at)).collect())
}

/// Archives each record `(id, deleted at ms)` deleted, unless the mirror holds a version newer than that (a
/// restore): one statement per chunk of records.
pub async fn tombstone(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    deleted: &[(i64, i64)],
) -> Result<(), DbErr> {
    use super::write::{CHUNK, rounds, update_from_values};
    for round in rounds(deleted) {
        for chunk in round.chunks(CHUNK) {
            let rows = chunk.iter().map(|(id, ms)| ((*id).into(), millis(*ms).into()));
            let (mut update, at) = update_from_values(object_type, rows);
            let update = update
                .value(Alias::new("archived_at"), at.clone())
                .value(Alias::new("updated_at"), at.clone())
                .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
                .and_where(Expr::col(Alias::new("archived_at")).is_null())
                .and_where(Expr::col(Alias::new("updated_at")).lte(at))
                .to_owned();
            db.execute(&update).await?;
        }
    }
    Ok(())
}

/// GDPR: the contact, its properties and its associations are deleted, and the event log keeps no personal data of
/// it (its events keep their identity and structure, and lose the property values they carried).
pub async fn erase_contact(db: &impl ConnectionTrait, portal: i64, id: i64) -> Result<(), DbErr> {
    let contact = "contact";
    let delete = Query::delete()
        .from_table(Alias::new("contacts"))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("hubspot_id")).eq(id))
        .to_owned();
    db.execute(&delete).await?;
    object_properties::Entity::delete_many()
        .filter(object_properties::Column::PortalId.eq(portal))
        .filter(object_properties::Column::ObjectType.eq(contact))
        .filter(object_properties::Column::HubspotId.eq(id))
        .exec(db)
        .await?;
    use association::Column as A;
    association::Entity::delete_many()
        .filter(A::PortalId.eq(portal))
        .filter(
            Condition::any()
                .add(Condition::all().add(A::FromType.eq(contact)).add(A::FromId.eq(id)))
                .add(Condition::all().add(A::ToType.eq(contact)).add(A::ToId.eq(id))),
        )
        .exec(db)
        .await?;
    // The log keeps each event's identity and structure (a pending merge must still apply), not the values.
    use webhook_event::Column as W;
    let logged = webhook_event::Entity::find()
        .filter(W::PortalId.eq(portal))
        .filter(W::ObjectId.eq(id))
        .filter(W::SubscriptionType.starts_with("contact."))
        .all(db)
        .await?;
    for event in logged {
        let mut payload = event.payload;
        let Some(fields) = payload.as_object_mut() else { continue };
        if fields.remove("propertyValue").is_none() {
            continue;
        }
        fields.insert("redacted".into(), json!("contact.privacyDeletion"));
        webhook_event::Entity::update_many()
            .col_expr(W::Payload, Expr::val(payload))
            .filter(W::Id.eq(event.id))
            .exec(db)
            .await?;
    }
    Ok(())
}
