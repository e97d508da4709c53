//! The portal's custom object types in the mirror (`object_schemas`), and where each type's typed rows live: the
//! built-in types in a table each, custom types together in `custom_objects`, told apart by their `objectTypeId`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entities::object_schema::{self, Column as C};
use hubspot::{ObjectSchema, ObjectType};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Alias, Expr, ExprTrait, SimpleExpr},
};

/// The table holding `object_type`'s typed rows.
pub fn table(object_type: ObjectType) -> Alias {
    Alias::new(if object_type.is_custom() { "custom_objects" } else { object_type.plural() })
}

/// The condition that picks `object_type`'s rows out of its table: custom types share one.
pub fn of_type(object_type: ObjectType) -> Option<SimpleExpr> {
    object_type.is_custom().then(|| Expr::col(Alias::new("object_type")).eq(object_type.singular()))
}

/// Writes the schemas HubSpot listed; a schema it no longer lists is marked archived (its records stay, as HubSpot
/// keeps them until the type is purged).
pub async fn replace(
    db: &impl ConnectionTrait,
    portal: i64,
    schemas: &[ObjectSchema],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let listed: BTreeSet<&str> = schemas.iter().map(|s| s.object_type.singular()).collect();
    object_schema::Entity::update_many()
        .col_expr(C::Archived, Expr::value(true))
        .filter(C::PortalId.eq(portal))
        .filter(C::ObjectType.is_not_in(listed.iter().copied()))
        .exec(db)
        .await?;
    let names = |list: &[String]| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    let rows: Vec<_> = schemas
        .iter()
        .map(|s| object_schema::ActiveModel {
            portal_id: Set(portal),
            object_type: Set(s.object_type.singular().to_owned()),
            name: Set(s.name.clone()),
            fully_qualified_name: Set(s.fully_qualified_name.clone()),
            singular_label: Set(s.singular_label.clone()),
            plural_label: Set(s.plural_label.clone()),
            primary_display_property: Set(s.primary_display_property.clone()),
            required_properties: Set(names(&s.required_properties)),
            searchable_properties: Set(names(&s.searchable_properties)),
            associations: Set(serde_json::Value::Array(
                s.associations.iter().map(hubspot::SchemaAssociation::to_hubspot_json).collect(),
            )
            .to_string()),
            archived: Set(s.archived),
            hubspot_updated_at: Set(s.updated_at),
            synced_at: Set(now),
        })
        .collect();
    super::write::upsert(db, rows, &[C::PortalId, C::ObjectType], false).await
}

/// The portal's live custom object schemas, by type id.
pub async fn live(db: &impl ConnectionTrait, portal: i64) -> Result<Vec<ObjectSchema>, DbErr> {
    let rows = object_schema::Entity::find()
        .filter(C::PortalId.eq(portal))
        .filter(C::Archived.eq(false))
        .order_by_asc(C::ObjectType)
        .all(db)
        .await?;
    Ok(rows.iter().filter_map(schema::custom_objects::schema_of).collect())
}

/// The portal's live custom object types.
pub async fn custom_types(db: &impl ConnectionTrait, portal: i64) -> Result<Vec<ObjectType>, DbErr> {
    Ok(live(db, portal).await?.into_iter().map(|s| s.object_type).collect())
}

/// The primary display property of a custom type (what names its records), if the mirror has its schema.
pub async fn display_property(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
) -> Result<Option<String>, DbErr> {
    let row = object_schema::Entity::find_by_id((portal, object_type.singular().to_owned())).one(db).await?;
    Ok(row.and_then(|r| r.primary_display_property))
}

/// Whether the mirror has the schema of custom type `object_type`.
pub async fn is_known(db: &impl ConnectionTrait, portal: i64, object_type: ObjectType) -> Result<bool, DbErr> {
    Ok(object_schema::Entity::find_by_id((portal, object_type.singular().to_owned())).one(db).await?.is_some())
}
