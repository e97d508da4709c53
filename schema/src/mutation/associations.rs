//! Linking and unlinking records, and merging contacts, through HubSpot.

use async_graphql::{Context, ID, Object};
use entities::association;
use hubspot::{ASSOCIATION_KINDS, Association, AssociationKind, ObjectType};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{live, upstream};
use crate::{
    audit::Trail,
    error::{ApiError, GqlResult, IntoGql, Res},
    ids::decode_global,
    objects::{Node, company::Company, contact::Contact, deal::Deal, ticket::Ticket},
    scope::{Scope, scope},
};

/// A live record a global ID names: its type, HubSpot id and node.
pub(super) async fn record(scope: &Scope, id: &ID, argument: &str) -> Res<(ObjectType, i64, Node)> {
    let (type_name, _) = decode_global(id)
        .ok_or_else(|| ApiError::invalid(argument, "must be a global ID (the `id` field of a record)"))?;
    Ok(match type_name.as_str() {
        "Contact" => {
            live::<Contact>(scope, id, argument).await.map(|(k, r)| (ObjectType::Contact, k, Node::Contact(r)))?
        }
        "Company" => {
            live::<Company>(scope, id, argument).await.map(|(k, r)| (ObjectType::Company, k, Node::Company(r)))?
        }
        "Deal" => live::<Deal>(scope, id, argument).await.map(|(k, r)| (ObjectType::Deal, k, Node::Deal(r)))?,
        "Ticket" => live::<Ticket>(scope, id, argument).await.map(|(k, r)| (ObjectType::Ticket, k, Node::Ticket(r)))?,
        crate::custom_objects::NAME => {
            let (object_type, key) = crate::custom_objects::custom_key(scope, id, None, argument).await?;
            match crate::custom_objects::read(scope, object_type, key).await? {
                Some(record) if record.0.archived_at.is_none() => (object_type, key, Node::CustomObject(record)),
                _ => {
                    return Err(ApiError::invalid(
                        argument,
                        format!("no live {} {key} in this portal", object_type.singular()),
                    ));
                }
            }
        }
        other => return Err(ApiError::invalid(argument, format!("a {other} cannot be associated"))),
    })
}

/// The link from `from_id` to `to_id`, of HubSpot's default type, or of the type `label` names: `Primary`, or a
/// label of the portal's own. With it the same link read from the other end when the mirror can tell (HubSpot's
/// built-in types); a portal's label leaves that to HubSpot.
async fn edges(
    scope: &Scope,
    (from, from_id): (ObjectType, i64),
    (to, to_id): (ObjectType, i64),
    label: Option<&str>,
) -> Res<(Association, Option<Association>)> {
    if label.is_none() && (from.is_custom() || to.is_custom()) {
        // A custom object's association types are its schema's; HubSpot's answer gives the other direction.
        let kind = super::custom::schema_kind_between(scope, from, to, "to").await?;
        let edge = Association { category: "USER_DEFINED".to_owned(), ..kind.association(from_id, to_id) };
        return Ok((edge, None));
    }
    let built_in = match label {
        None => Some(default_kind(from, to, "to")?),
        Some(label) if label.eq_ignore_ascii_case("primary") => Some(
            ASSOCIATION_KINDS
                .iter()
                .flat_map(|k| [*k, k.inverse()])
                .find(|k| k.from == from && k.to == to && k.primary)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "label",
                        format!("no primary association from a {} to a {}", from.singular(), to.singular()),
                    )
                })?,
        ),
        Some(_) => None,
    };
    if let Some(kind) = built_in {
        return Ok((kind.association(from_id, to_id), Some(kind.inverse().association(to_id, from_id))));
    }
    let label = label.expect("built-in types handled above");
    let (type_id, category) = match mirrored_type(scope, from, to, label).await? {
        Some(found) => found,
        None => defined_type(scope, from, to, label).await?,
    };
    let edge = Association {
        from_type: from,
        from_id,
        to_type: to,
        to_id,
        type_id,
        category,
        label: Some(label.to_owned()),
        primary: false,
    };
    Ok((edge, None))
}

/// The type id and category of `label` from `from` to `to`, as the mirror has seen it on a link.
async fn mirrored_type(scope: &Scope, from: ObjectType, to: ObjectType, label: &str) -> Res<Option<(i32, String)>> {
    let row = association::Entity::find()
        .filter(association::Column::PortalId.eq(scope.portal_id))
        .filter(association::Column::FromType.eq(from.singular()))
        .filter(association::Column::ToType.eq(to.singular()))
        .filter(association::Column::Label.eq(label))
        .one(&scope.db)
        .await?;
    Ok(row.map(|row| (row.type_id, row.category)))
}

/// The type id and category of `label` from `from` to `to` as HubSpot's labels API lists it: a label no link in
/// the mirror uses yet (defined at HubSpot since, or never used).
async fn defined_type(scope: &Scope, from: ObjectType, to: ObjectType, label: &str) -> Res<(i32, String)> {
    let defined = upstream(scope)?.association_labels(scope.portal_id, from, to).await?;
    defined.into_iter().find(|t| t.label.as_deref() == Some(label)).map(|t| (t.type_id, t.category)).ok_or_else(|| {
        ApiError::invalid(
            "label",
            format!("no association label `{label}` from a {} to a {} in this portal", from.singular(), to.singular()),
        )
    })
}

/// HubSpot's default association type from `from` to `to`, or an error naming `argument` when there is none.
pub(super) fn default_kind(from: ObjectType, to: ObjectType, argument: &str) -> Res<AssociationKind> {
    AssociationKind::default_between(from, to).ok_or_else(|| {
        ApiError::invalid(
            argument,
            format!("HubSpot has no association from a {} to a {}", from.singular(), to.singular()),
        )
    })
}

#[derive(Default)]
pub struct AssociationMutation;

#[Object(guard = "crate::role::Needs(crate::role::Role::Writer)")]
impl AssociationMutation {
    /// Links two records (global IDs of contacts, companies, deals or tickets) with HubSpot's default association
    /// type, or the type `label` names (`Primary`, or a label the portal uses); the `from` record.
    async fn associate(&self, ctx: &Context<'_>, from: ID, to: ID, label: Option<String>) -> GqlResult<Node> {
        let scope = scope(ctx);
        let trail = Trail::start(ctx);
        let result = async {
            let (from_type, from_id, node) = record(scope, &from, "from").await?;
            let (to_type, to_id, _) = record(scope, &to, "to").await?;
            trail.touch(from_type.singular(), from_id);
            trail.touch(to_type.singular(), to_id);
            let (edge, inverse) = edges(scope, (from_type, from_id), (to_type, to_id), label.as_deref()).await?;
            upstream(scope)?.associate(scope.portal_id, edge, inverse).await?;
            Ok::<_, ApiError>(node)
        }
        .await;
        trail.finish(result).await.gql()
    }

    /// Removes every link between two records; the `from` record.
    async fn dissociate(&self, ctx: &Context<'_>, from: ID, to: ID) -> GqlResult<Node> {
        let scope = scope(ctx);
        let trail = Trail::start(ctx);
        let result = async {
            let (from_type, from_id, node) = record(scope, &from, "from").await?;
            let (to_type, to_id, _) = record(scope, &to, "to").await?;
            trail.touch(from_type.singular(), from_id);
            trail.touch(to_type.singular(), to_id);
            upstream(scope)?.dissociate(scope.portal_id, (from_type, from_id), (to_type, to_id)).await?;
            Ok::<_, ApiError>(node)
        }
        .await;
        trail.finish(result).await.gql()
    }

    /// Merges contact `mergeId` into `primaryId` at HubSpot; the contact that remains, as the mirror then holds it
    /// (the merged one is tombstoned, pointing at it).
    async fn merge_contacts(&self, ctx: &Context<'_>, primary_id: ID, merge_id: ID) -> GqlResult<Contact> {
        let scope = scope(ctx);
        let trail = Trail::start(ctx);
        let result = async {
            let (primary, _) = live::<Contact>(scope, &primary_id, "primaryId").await?;
            let (merged, _) = live::<Contact>(scope, &merge_id, "mergeId").await?;
            trail.touch(ObjectType::Contact.singular(), primary);
            trail.touch(ObjectType::Contact.singular(), merged);
            if primary == merged {
                return Err(ApiError::invalid("mergeId", "a contact cannot be merged into itself"));
            }
            let survivor = upstream(scope)?.merge(scope.portal_id, ObjectType::Contact, primary, merged).await?;
            super::read_back::<Contact>(scope, survivor).await
        }
        .await;
        trail.finish(result).await.gql()
    }
}
