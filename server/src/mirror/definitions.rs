//! The portal's property definitions in the mirror (`property_definitions`): written from HubSpot's properties API,
//! read when the gateway asks HubSpot for records (every live property) and when the schema types a value.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entities::property_definition::{self, Column as C};
use hubspot::{ObjectType, PropertyDefinition, PropertyOption};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

/// Replaces the definitions of one object type of `portal` with `definitions` (live and archived, as HubSpot
/// listed them); a property HubSpot no longer lists at all is dropped.
pub async fn replace(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    definitions: &[PropertyDefinition],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let names: BTreeSet<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    property_definition::Entity::delete_many()
        .filter(C::PortalId.eq(portal))
        .filter(C::ObjectType.eq(object_type.singular()))
        .filter(C::Name.is_not_in(names.iter().copied()))
        .exec(db)
        .await?;
    // One row per name: HubSpot lists a name once, but a live and an archived listing could both hold it.
    let mut seen = BTreeSet::new();
    let rows: Vec<_> =
        definitions.iter().filter(|d| seen.insert(d.name.as_str())).map(|d| row(portal, object_type, d, now)).collect();
    super::write::upsert(db, rows, &[C::PortalId, C::ObjectType, C::Name], false).await
}

fn row(
    portal: i64,
    object_type: ObjectType,
    d: &PropertyDefinition,
    now: DateTime<Utc>,
) -> property_definition::ActiveModel {
    let options: Vec<_> = d
        .options
        .iter()
        .map(|o| {
            serde_json::json!({ "label": o.label, "value": o.value, "displayOrder": o.display_order, "hidden": o.hidden })
        })
        .collect();
    property_definition::ActiveModel {
        portal_id: Set(portal),
        object_type: Set(object_type.singular().to_owned()),
        name: Set(d.name.clone()),
        label: Set(d.label.clone()),
        property_type: Set(d.property_type.clone()),
        field_type: Set(d.field_type.clone()),
        group_name: Set(d.group_name.clone()),
        description: Set(d.description.clone()),
        options: Set(serde_json::Value::Array(options).to_string()),
        display_order: Set(d.display_order),
        hubspot_defined: Set(d.hubspot_defined),
        calculated: Set(d.calculated),
        read_only_value: Set(d.read_only_value),
        has_unique_value: Set(d.has_unique_value),
        archived: Set(d.archived),
        hubspot_updated_at: Set(d.updated_at),
        synced_at: Set(now),
    }
}

/// A mirrored row as HubSpot's definition.
pub fn definition(row: property_definition::Model) -> PropertyDefinition {
    let options: Vec<serde_json::Value> = serde_json::from_str(&row.options).unwrap_or_default();
    let options = options
        .iter()
        .filter_map(|o| {
            Some(PropertyOption {
                label: o["label"].as_str().unwrap_or_default().to_owned(),
                value: o["value"].as_str()?.to_owned(),
                display_order: o["displayOrder"].as_i64().unwrap_or(-1) as i32,
                hidden: o["hidden"].as_bool().unwrap_or(false),
            })
        })
        .collect();
    PropertyDefinition {
        name: row.name,
        label: row.label,
        property_type: row.property_type,
        field_type: row.field_type,
        group_name: row.group_name,
        description: row.description,
        options,
        display_order: row.display_order,
        has_unique_value: row.has_unique_value,
        calculated: row.calculated,
        hubspot_defined: row.hubspot_defined,
        read_only_value: row.read_only_value,
        archived: row.archived,
        created_at: None,
        updated_at: row.hubspot_updated_at,
    }
}

/// The live definitions of one object type, by name.
pub async fn live(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
) -> Result<Vec<PropertyDefinition>, DbErr> {
    let rows = property_definition::Entity::find()
        .filter(C::PortalId.eq(portal))
        .filter(C::ObjectType.eq(object_type.singular()))
        .filter(C::Archived.eq(false))
        .order_by_asc(C::Name)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(definition).collect())
}

/// The names of the live properties of one object type; empty before the definitions were first read.
pub async fn live_names(db: &impl ConnectionTrait, portal: i64, object_type: ObjectType) -> Result<Vec<String>, DbErr> {
    Ok(live(db, portal, object_type).await?.into_iter().map(|d| d.name).collect())
}
