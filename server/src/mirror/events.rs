//! What a webhook event changes in the mirror without asking HubSpot: one property, a tombstone, a GDPR erasure.
//! Per object and per property the newest `occurredAt` wins, whatever order events arrive in.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use entities::{association, object_properties, webhook_event};
use generator::{CrmObject, ObjectType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
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

/// Sets each changed property of one record whose change is newer than the value held, in one read and one write
/// whatever the number of changes; `false` when the record is not mirrored (the caller reads it from HubSpot).
pub async fn set_properties(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    id: i64,
    changes: &[Change],
) -> Result<bool, DbErr> {
    let mut find = object_properties::Entity::find_by_id((portal, object_type.singular().to_owned(), id));
    if db.get_database_backend() == DbBackend::Postgres {
        // Replicas applying changes of one record take turns, so neither overwrites the other's newer value.
        find = find.lock_exclusive();
    }
    let Some(row) = find.one(db).await? else {
        return Ok(false);
    };
    let Some((created_at, archived_at, merged_into)) = typed_state(db, portal, object_type, id).await? else {
        return Ok(false);
    };
    let mut properties: BTreeMap<String, Option<String>> = serde_json::from_str(&row.properties).unwrap_or_default();
    let mut times: BTreeMap<String, i64> = serde_json::from_str(&row.property_times).unwrap_or_default();
    // Every value held dates from the version's `updatedAt` until an event says otherwise; pinning those dates now
    // keeps them when `updated_at` moves on.
    let version_ms = row.updated_at.timestamp_millis();
    for key in properties.keys() {
        times.entry(key.clone()).or_insert(version_ms);
    }
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
    if !applied {
        // Every change was older than what the mirror holds.
        return Ok(true);
    }
    let object = CrmObject { id, properties, created_at, updated_at, archived: false };
    super::upsert_objects(db, portal, object_type, std::slice::from_ref(&object), Utc::now()).await?;
    // The upsert rewrote the typed row from the properties alone: put back what they do not carry.
    let restore = Query::update()
        .table(Alias::new(object_type.plural()))
        .value(Alias::new("archived_at"), archived_at)
        .value(Alias::new("merged_into"), merged_into)
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("hubspot_id")).eq(id))
        .to_owned();
    db.execute(&restore).await?;
    object_properties::Entity::update_many()
        .col_expr(
            object_properties::Column::PropertyTimes,
            Expr::val(serde_json::to_string(&times).unwrap_or_default()),
        )
        .filter(object_properties::Column::PortalId.eq(portal))
        .filter(object_properties::Column::ObjectType.eq(object_type.singular()))
        .filter(object_properties::Column::HubspotId.eq(id))
        .exec(db)
        .await?;
    Ok(true)
}

/// `created_at`, `archived_at` and `merged_into` of a mirrored record.
async fn typed_state(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    id: i64,
) -> Result<Option<(DateTime<Utc>, Option<DateTime<Utc>>, Option<i64>)>, DbErr> {
    let select = Query::select()
        .columns([Alias::new("created_at"), Alias::new("archived_at"), Alias::new("merged_into")])
        .from(Alias::new(object_type.plural()))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("hubspot_id")).eq(id))
        .to_owned();
    let Some(row) = db.query_one(&select).await? else { return Ok(None) };
    Ok(Some((row.try_get("", "created_at")?, row.try_get("", "archived_at")?, row.try_get("", "merged_into")?)))
}

/// Archives a record deleted at `occurred_ms`, unless the mirror holds a version newer than that (a restore).
pub async fn tombstone(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    id: i64,
    occurred_ms: i64,
) -> Result<(), DbErr> {
    let at = millis(occurred_ms);
    let update = Query::update()
        .table(Alias::new(object_type.plural()))
        .value(Alias::new("archived_at"), at)
        .value(Alias::new("updated_at"), at)
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("hubspot_id")).eq(id))
        .and_where(Expr::col(Alias::new("archived_at")).is_null())
        .and_where(Expr::col(Alias::new("updated_at")).lte(at))
        .to_owned();
    db.execute(&update).await.map(drop)
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
