//! Writes of custom objects through HubSpot: create, update and archive. Values are checked against the type's
//! definitions first (an unknown or read-only property, a value its type cannot hold, a missing required property:
//! the error names the field and HubSpot is not called); the answer is the record as the mirror holds it after
//! HubSpot's, with the same audit trail and idempotency keys as the other records.

use std::collections::BTreeMap;

use async_graphql::{Context, ID, Json, Object};
use hubspot::{AssociationKind, ObjectType};
use serde_json::Value;

use super::{associations, inputs, upstream, validate};
use crate::{
    audit::Trail,
    custom_objects::{CustomObject, NAME, custom_key, read, resolve_type},
    error::{ApiError, GqlResult, IntoGql, Res},
    ids::global_id,
    scope::{Scope, scope},
    upstream::{Link, NewRecord},
};

/// The association type its schema defines from `object_type` to `to` (and back), or an error naming `argument`.
fn schema_kind(schema: &hubspot::ObjectSchema, to: ObjectType, argument: &str) -> Res<AssociationKind> {
    match (schema.association_to(to), schema.association_from(to)) {
        (Some(type_id), Some(inverse_type_id)) => {
            Ok(AssociationKind { from: schema.object_type, to, type_id, inverse_type_id, primary: false })
        }
        _ => Err(ApiError::invalid(
            argument,
            format!(
                "a {} cannot be linked to a {}: its schema defines no such association",
                schema.name,
                to.singular()
            ),
        )),
    }
}

/// The association type a custom type's schema defines between `from` and `to` (either may be the custom one).
pub(super) async fn schema_kind_between(
    scope: &Scope,
    from: ObjectType,
    to: ObjectType,
    argument: &str,
) -> Res<AssociationKind> {
    let (custom, other) = if from.is_custom() { (from, to) } else { (to, from) };
    let (_, row) = resolve_type(scope, custom.singular(), argument).await?;
    let schema = crate::custom_objects::schema_of(&row).expect("resolve_type gives custom types only");
    let kind = schema_kind(&schema, other, argument)?;
    Ok(if from.is_custom() { kind } else { kind.inverse() })
}

/// The live record `id` names, or an error naming `argument`.
async fn live(scope: &Scope, id: &ID, type_name: Option<&str>, argument: &str) -> Res<(ObjectType, i64)> {
    let (object_type, key) = custom_key(scope, id, type_name, argument).await?;
    match read(scope, object_type, key).await? {
        Some(record) if record.0.archived_at.is_none() => Ok((object_type, key)),
        _ => Err(ApiError::invalid(argument, format!("no live {} {key} in this portal", object_type.singular()))),
    }
}

async fn read_back(scope: &Scope, object_type: ObjectType, id: i64) -> Res<CustomObject> {
    read(scope, object_type, id).await?.ok_or_else(|| {
        ApiError::Internal(std::sync::Arc::new(sea_orm::DbErr::RecordNotFound(format!(
            "{} {id} was written to HubSpot but is not in the mirror",
            object_type.singular()
        ))))
    })
}

#[derive(Default)]
pub struct CustomObjectMutation;

/// Each write goes to HubSpot first; the answer is the record as the mirror then holds it.
#[Object(guard = "crate::role::Needs(crate::role::Role::Writer)")]
impl CustomObjectMutation {
    /// Creates a record of a custom object type (`objectTypeId`, name or fully qualified name) with `properties` (by
    /// internal name; the schema's required ones included), linked to the contacts, companies, deals or tickets
    /// `associateWith` names (global IDs) by the schema's association types. An `idempotencyKey` makes a retry answer
    /// the first record.
    async fn create_custom_object(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] type_name: String,
        properties: Json<BTreeMap<String, Value>>,
        associate_with: Option<Vec<ID>>,
        idempotency_key: Option<String>,
    ) -> GqlResult<CustomObject> {
        let scope = scope(ctx);
        let trail = Trail::start(ctx);
        let result = async {
            let (object_type, row) = resolve_type(scope, &type_name, "type").await?;
            let schema = crate::custom_objects::schema_of(&row).expect("resolve_type gives custom types only");
            let fields = inputs::loose(&properties.0, "properties")?;
            validate::check_definitions(scope, object_type, &fields).await?;
            for required in &schema.required_properties {
                if fields.get(required).is_none_or(|(v, _)| v.as_deref().is_none_or(str::is_empty)) {
                    let message = format!("is required for a new {}", schema.singular_label);
                    return Err(ApiError::invalid(format!("properties.{required}"), message));
                }
            }
            let mut links = Vec::new();
            for (n, id) in associate_with.iter().flatten().enumerate() {
                let argument = format!("associateWith[{n}]");
                let (to_type, to_id, _) = associations::record(scope, id, &argument).await?;
                links.push(Link { to_id, kind: schema_kind(&schema, to_type, &argument)? });
            }
            if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > super::MAX_KEY) {
                return Err(ApiError::invalid("idempotencyKey", format!("must be 1 to {} characters", super::MAX_KEY)));
            }
            let new = NewRecord { properties: super::properties(fields), links, idempotency_key };
            let id = upstream(scope)?.create(scope.portal_id, object_type, new).await?;
            trail.touch(object_type.singular(), id);
            read_back(scope, object_type, id).await
        }
        .await;
        trail.finish(result).await.gql()
    }

    /// Sets `properties` on a custom object (its global ID, or a HubSpot id with `type`); null clears one.
    async fn update_custom_object(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "type")] type_name: Option<String>,
        properties: Json<BTreeMap<String, Value>>,
    ) -> GqlResult<CustomObject> {
        let scope = scope(ctx);
        let trail = Trail::start(ctx);
        let result = async {
            let (object_type, key) = live(scope, &id, type_name.as_deref(), "id").await?;
            trail.touch(object_type.singular(), key);
            let fields = inputs::loose(&properties.0, "properties")?;
            if fields.is_empty() {
                return Err(ApiError::invalid("properties", "names no property to change"));
            }
            validate::check_definitions(scope, object_type, &fields).await?;
            upstream(scope)?.update(scope.portal_id, object_type, key, super::properties(fields)).await?;
            read_back(scope, object_type, key).await
        }
        .await;
        trail.finish(result).await.gql()
    }

    /// Archives a custom object at HubSpot; its global ID.
    async fn archive_custom_object(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "type")] type_name: Option<String>,
    ) -> GqlResult<ID> {
        let scope = scope(ctx);
        let trail = Trail::start(ctx);
        let result = async {
            let (object_type, key) = live(scope, &id, type_name.as_deref(), "id").await?;
            trail.touch(object_type.singular(), key);
            upstream(scope)?.archive(scope.portal_id, object_type, key).await?;
            Ok::<_, ApiError>(global_id(NAME, format!("{}:{key}", object_type.singular())))
        }
        .await;
        trail.finish(result).await.gql()
    }
}
