//! A portal's custom objects through GraphQL: `customObjectSchemas` lists its own object types (HubSpot's schemas
//! API); `customObjects(type:)` lists a type's records with `where` and `orderBy` on any of its properties;
//! `customObject(type:, id:)` reads one; every contact, company, deal and ticket lists the records of a type it is
//! linked to. A type is named by its `objectTypeId` (`2-1234567`), its name (`machines`) or its fully qualified name.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use entities::{custom_object, object_schema, property_definition};
use hubspot::ObjectType;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Condition, ExprTrait},
};

use crate::{
    columns::Read,
    connection::{AssocConn, Conn, PageArgs, id_page, keyset_page},
    error::{ApiError, GqlResult, IntoGql, Res},
    filter::{DateTimeFilter, IdFilter, StringFilter, TableRef, f, fields},
    ids::{decode_global, global_id},
    loaders::{AssocKey, RecordKey},
    objects::{company::Company, contact::Contact, deal::Deal, ticket::Ticket},
    order::{CrmOrderBy, SortField, crm_sort_keys},
    portal_properties::{PropertyDefinition, PropertyFilter, PropertyValue},
    prefetch::load_now,
    relay::LinksFrom,
    scope::{Scope, scope},
};

/// The type name custom objects' global IDs carry: `CustomObject:{objectTypeId}:{id}`.
pub(crate) const NAME: &str = "CustomObject";

/// The portal's custom type `name` names (its `objectTypeId`, name or fully qualified name), or an error naming
/// `argument` that lists the types the portal has.
pub(crate) async fn resolve_type(scope: &Scope, name: &str, argument: &str) -> Res<(ObjectType, object_schema::Model)> {
    let schemas = scope.schemas().await?;
    let wanted = name.to_ascii_lowercase();
    let found = schemas
        .iter()
        .find(|s| [&s.object_type, &s.name, &s.fully_qualified_name].iter().any(|n| n.to_ascii_lowercase() == wanted));
    match found.and_then(|s| Some((ObjectType::custom(&s.object_type)?, s.clone()))) {
        Some(found) => Ok(found),
        None => {
            let known: Vec<String> = schemas.iter().map(|s| format!("{} ({})", s.name, s.object_type)).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            Err(ApiError::invalid(
                argument,
                format!("no custom object type `{name}` in this portal (its types: {known})"),
            ))
        }
    }
}

/// The type and HubSpot id a custom object's global ID names; with `type_name`, a bare HubSpot id of that type.
pub(crate) async fn custom_key(
    scope: &Scope,
    id: &ID,
    type_name: Option<&str>,
    argument: &str,
) -> Res<(ObjectType, i64)> {
    let bad = || ApiError::invalid(argument, "must be a custom object's global ID, or a HubSpot id with `type`");
    if let Some((found, raw)) = decode_global(id) {
        if found != NAME {
            return Err(ApiError::invalid(argument, format!("a {found} id was given where a {NAME} id is expected")));
        }
        let (object_type, key) = raw.rsplit_once(':').ok_or_else(bad)?;
        let object_type = ObjectType::custom(object_type).ok_or_else(bad)?;
        return Ok((object_type, key.parse().map_err(|_| bad())?));
    }
    let type_name = type_name.ok_or_else(bad)?;
    let (object_type, _) = resolve_type(scope, type_name, "type").await?;
    Ok((object_type, id.parse().map_err(|_| bad())?))
}

/// A mirrored schema as HubSpot's (without its properties, which are in `property_definitions`); `None` for a row
/// whose type id is not a custom one.
pub fn schema_of(row: &object_schema::Model) -> Option<hubspot::ObjectSchema> {
    let names = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
    let associations: Vec<serde_json::Value> = serde_json::from_str(&row.associations).unwrap_or_default();
    Some(hubspot::ObjectSchema {
        id: row.object_type.trim_start_matches("2-").to_owned(),
        object_type: ObjectType::custom(&row.object_type)?,
        name: row.name.clone(),
        fully_qualified_name: row.fully_qualified_name.clone(),
        singular_label: row.singular_label.clone(),
        plural_label: row.plural_label.clone(),
        primary_display_property: row.primary_display_property.clone(),
        required_properties: names(&row.required_properties),
        searchable_properties: names(&row.searchable_properties),
        secondary_display_properties: Vec::new(),
        properties: Vec::new(),
        associations: associations.iter().filter_map(hubspot::SchemaAssociation::from_hubspot_json).collect(),
        archived: row.archived,
        created_at: None,
        updated_at: row.hubspot_updated_at,
    })
}

/// A record as the mirror holds it now, past the request's cache.
pub(crate) async fn read(scope: &Scope, object_type: ObjectType, id: i64) -> Res<Option<CustomObject>> {
    let row = custom_object::Entity::find_by_id((scope.portal_id, object_type.singular().to_owned(), id))
        .one(&scope.db)
        .await?;
    Ok(row.map(|row| CustomObject(Arc::new(row))))
}

/// A custom object type as the portal defines it.
pub struct CustomObjectSchema(object_schema::Model);

#[Object]
impl CustomObjectSchema {
    /// HubSpot's `objectTypeId` (`2-1234567`).
    async fn object_type_id(&self) -> &str {
        &self.0.object_type
    }
    /// The name given at creation (`machines`).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `p{portal}_{name}`.
    async fn fully_qualified_name(&self) -> &str {
        &self.0.fully_qualified_name
    }
    async fn singular_label(&self) -> &str {
        &self.0.singular_label
    }
    async fn plural_label(&self) -> &str {
        &self.0.plural_label
    }
    /// The property whose value names a record (`displayName`).
    async fn primary_display_property(&self) -> Option<&str> {
        self.0.primary_display_property.as_deref()
    }
    /// What a create must set.
    async fn required_properties(&self) -> Vec<String> {
        serde_json::from_str(&self.0.required_properties).unwrap_or_default()
    }
    async fn searchable_properties(&self) -> Vec<String> {
        serde_json::from_str(&self.0.searchable_properties).unwrap_or_default()
    }
    /// The object types its records may be linked with (`contact`, `company`, …).
    async fn associated_types(&self) -> Vec<String> {
        let links: Vec<serde_json::Value> = serde_json::from_str(&self.0.associations).unwrap_or_default();
        let mut types: Vec<String> = links
            .iter()
            .filter_map(|a| {
                let (from, to) = (a["fromObjectTypeId"].as_str()?, a["toObjectTypeId"].as_str()?);
                let other = if from == self.0.object_type { to } else { from };
                ObjectType::from_path(other).map(|t| t.singular().to_owned())
            })
            .filter(|t| *t != self.0.object_type)
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }
    /// Its property definitions, HubSpot's own and the schema's, by name.
    async fn properties(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_archived: bool,
    ) -> GqlResult<Vec<PropertyDefinition>> {
        let scope = scope(ctx);
        let mut find = property_definition::Entity::find()
            .filter(property_definition::Column::PortalId.eq(scope.portal_id))
            .filter(property_definition::Column::ObjectType.eq(&self.0.object_type));
        if !include_archived {
            find = find.filter(property_definition::Column::Archived.eq(false));
        }
        let rows =
            find.order_by_asc(property_definition::Column::Name).all(&scope.db).await.map_err(ApiError::from).gql()?;
        Ok(rows.into_iter().map(PropertyDefinition).collect())
    }
}

/// A record of one of the portal's custom object types.
#[derive(Clone, Debug)]
pub struct CustomObject(pub(crate) Arc<custom_object::Model>);

impl CustomObject {
    fn kind(&self) -> &'static str {
        ObjectType::custom(&self.0.object_type).map_or("", ObjectType::singular)
    }

    fn links(&self, to_type: &'static str) -> LinksFrom {
        LinksFrom { from_type: self.kind(), from_id: self.0.hubspot_id, to_type }
    }
}

#[Object]
impl CustomObject {
    /// Relay global ID.
    pub async fn id(&self) -> ID {
        global_id(NAME, format!("{}:{}", self.0.object_type, self.0.hubspot_id))
    }
    /// The id HubSpot knows this record by.
    async fn hubspot_id(&self) -> ID {
        ID(self.0.hubspot_id.to_string())
    }
    /// Its type's `objectTypeId`.
    async fn object_type_id(&self) -> &str {
        &self.0.object_type
    }
    /// The value of its type's primary display property.
    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }
    /// Every HubSpot property as HubSpot sent it (strings or null), or only `names`.
    async fn properties(&self, ctx: &Context<'_>, names: Option<Vec<String>>) -> GqlResult<Json<serde_json::Value>> {
        crate::objects::load_properties(ctx, self.kind(), self.0.hubspot_id, names).await
    }
    /// One property, typed by the portal's definition of it; an error naming `name` for one it does not define.
    async fn property(&self, ctx: &Context<'_>, name: String) -> GqlResult<PropertyValue> {
        crate::portal_properties::property_of(ctx, self.kind(), self.0.hubspot_id, &name).await
    }
    /// HubSpot's `createdAt`.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// HubSpot's `updatedAt`.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When HubSpot archived the record; null while it is live.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
    /// When the mirror last wrote this record.
    async fn synced_at(&self) -> DateTime<Utc> {
        self.0.synced_at
    }

    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label.")] label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Contact>> {
        let (args, from) = (PageArgs { first, after, last, before }, self.links("contact"));
        let page = crate::objects::associated(ctx, from, label, |l| &l.contacts, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Contact)).gql()
    }

    async fn companies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label.")] label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Company>> {
        let (args, from) = (PageArgs { first, after, last, before }, self.links("company"));
        let page = crate::objects::associated(ctx, from, label, |l| &l.companies, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Company)).gql()
    }

    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label.")] label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Deal>> {
        let (args, from) = (PageArgs { first, after, last, before }, self.links("deal"));
        let page = crate::objects::associated(ctx, from, label, |l| &l.deals, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Deal)).gql()
    }

    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label.")] label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Ticket>> {
        let (args, from) = (PageArgs { first, after, last, before }, self.links("ticket"));
        let page = crate::objects::associated(ctx, from, label, |l| &l.tickets, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Ticket)).gql()
    }
}

/// The live records of custom type `type_name` linked to the record `from_type`/`from_id`: a CRM record's
/// `customObjects(type:)`. Two batched statements per query level, as the other associations.
pub(crate) async fn linked_to(
    ctx: &Context<'_>,
    (from_type, from_id): (&'static str, i64),
    type_name: &str,
    label: Option<String>,
    args: PageArgs,
) -> Res<AssocConn<CustomObject>> {
    let scope = scope(ctx);
    let (object_type, _) = resolve_type(scope, type_name, "type").await?;
    let from = LinksFrom { from_type, from_id, to_type: object_type.singular() };
    let key = AssocKey { from_type, from_id, to_type: from.to_type, label: label.map(Arc::from) };
    let ids = scope.loaders.associations.load_one(key).await?.unwrap_or_default();
    let keys = ids.iter().map(|&id| RecordKey { kind: from.to_type, id });
    let found = scope.loaders.custom_objects.load_many(keys).await?;
    let live: Vec<(i64, Arc<custom_object::Model>)> =
        found.into_iter().filter(|(_, row)| row.archived_at.is_none()).map(|(k, row)| (k.id, row)).collect();
    Ok(id_page(live, &args)?.into_assoc_connection(from, |r| r.hubspot_id, CustomObject))
}

/// Which custom objects a list returns; every field given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CustomObjectWhere {
    pub hubspot_id: Option<IdFilter>,
    pub display_name: Option<StringFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub updated_at: Option<DateTimeFilter>,
    /// On any property of the type, each value read as its definition's type.
    pub properties: Option<Vec<PropertyFilter>>,
    pub and: Option<Vec<CustomObjectWhere>>,
    pub or: Option<Vec<CustomObjectWhere>>,
    pub not: Option<Box<CustomObjectWhere>>,
}

impl CustomObjectWhere {
    fn condition(&self, t: &TableRef, kind: &str) -> Res<Condition> {
        let mut cond = fields(
            t,
            &[
                ("hubspotId", "hubspot_id", f(&self.hubspot_id)),
                ("displayName", "display_name", f(&self.display_name)),
                ("createdAt", "created_at", f(&self.created_at)),
                ("updatedAt", "updated_at", f(&self.updated_at)),
            ],
        )?;
        cond = cond.add(crate::portal_properties::conditions(&self.properties, t, kind)?);
        for w in self.and.iter().flatten() {
            cond = cond.add(w.condition(t, kind)?);
        }
        if let Some(or) = &self.or {
            let mut any = Condition::any();
            for w in or {
                any = any.add(w.condition(t, kind)?);
            }
            cond = cond.add(any);
        }
        if let Some(not) = &self.not {
            cond = cond.add(not.condition(t, kind)?.not());
        }
        Ok(cond)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CustomObjectOrderField {
    HubspotId,
    DisplayName,
    CreatedAt,
    UpdatedAt,
}

impl SortField for CustomObjectOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::HubspotId => "hubspot_id",
            Self::DisplayName => "display_name",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

#[derive(Default)]
pub struct CustomObjectsQuery;

#[Object]
impl CustomObjectsQuery {
    /// The portal's custom object types, by name. Kept fresh from HubSpot's schemas API.
    async fn custom_object_schemas(&self, ctx: &Context<'_>) -> GqlResult<Vec<CustomObjectSchema>> {
        let scope = scope(ctx);
        let rows = object_schema::Entity::find()
            .filter(object_schema::Column::PortalId.eq(scope.portal_id))
            .filter(object_schema::Column::Archived.eq(false))
            .order_by_asc(object_schema::Column::Name)
            .all(&scope.db)
            .await
            .map_err(ApiError::from)
            .gql()?;
        Ok(rows.into_iter().map(CustomObjectSchema).collect())
    }

    /// One custom object type by `objectTypeId`, name or fully qualified name.
    async fn custom_object_schema(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] type_name: String,
    ) -> GqlResult<CustomObjectSchema> {
        resolve_type(scope(ctx), &type_name, "type").await.map(|(_, s)| CustomObjectSchema(s)).gql()
    }

    /// The live records of a custom object type as a connection: filter with `where` (any property, typed by its
    /// definition), sort with `orderBy` (fields or properties).
    #[allow(clippy::too_many_arguments)]
    async fn custom_objects(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type", desc = "The type's `objectTypeId`, name or fully qualified name.")] type_name: String,
        #[graphql(name = "where")] filter: Option<CustomObjectWhere>,
        order_by: Option<Vec<CrmOrderBy<CustomObjectOrderField>>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<CustomObject>> {
        let args = PageArgs { first, after, last, before };
        list(ctx, &type_name, filter, order_by, args).await.map(|p| p.into_connection(CustomObject)).gql()
    }

    /// A custom object by its global ID, or by `type` and HubSpot id; null when the mirror has none.
    async fn custom_object(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(name = "type")] type_name: Option<String>,
    ) -> GqlResult<Option<CustomObject>> {
        let scope = scope(ctx);
        let (object_type, key) = custom_key(scope, &id, type_name.as_deref(), "id").await.gql()?;
        let row =
            load_now(&scope.loaders.custom_objects, RecordKey { kind: object_type.singular(), id: key }).await.gql()?;
        Ok(row.map(CustomObject))
    }
}

async fn list(
    ctx: &Context<'_>,
    type_name: &str,
    filter: Option<CustomObjectWhere>,
    order_by: Option<Vec<CrmOrderBy<CustomObjectOrderField>>>,
    args: PageArgs,
) -> Res<crate::connection::Page<Arc<custom_object::Model>>> {
    let scope = scope(ctx);
    let (object_type, _) = resolve_type(scope, type_name, "type").await?;
    let kind = object_type.singular();
    let mut table = TableRef::new("custom_objects", scope.portal_id, scope.db.get_database_backend());
    table.definitions = scope.definitions().await?;
    let mut cond = Condition::all()
        .add(table.col("portal_id").eq(scope.portal_id))
        .add(table.col("object_type").eq(kind))
        .add(table.col("archived_at").is_null());
    if let Some(filter) = &filter {
        cond = cond.add(filter.condition(&table, kind)?);
    }
    let sort = crm_sort_keys(order_by.as_deref().unwrap_or_default(), &table, kind)?;
    keyset_page::<custom_object::Entity>(&scope.db, cond, &sort, &args, Read::Whole).await
}
