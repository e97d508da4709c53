//! A portal's custom object types as the store resolves them: the names a path may give one (its `objectTypeId`,
//! its `fullyQualifiedName` `p{portal}_{name}`, HubSpot's short `p_{name}`), the association types its schema
//! defines per direction, and the schemas added, changed and archived at run time.

use chrono::{DateTime, Utc};
use hubspot::{ObjectSchema, ObjectType, PropertyDefinition};

use super::{AssocType, PortalState};
use crate::sim::error::SimError;

/// HubSpot reports the association types a custom object's schema defines as `USER_DEFINED` (the type ids its
/// docs tell clients to read from `GET /crm/v3/schemas/{objectTypeId}` come with that category).
pub const SCHEMA_CATEGORY: &str = "USER_DEFINED";

/// The first association type id the simulator gives a schema made at run time: above HubSpot's built-in ones.
const FIRST_SCHEMA_ASSOCIATION_ID: i32 = 1_000;

impl PortalState {
    /// The type a request's path names: a built-in one (`contacts`, `0-1`), or a live custom type of this portal by
    /// `objectTypeId`, `fullyQualifiedName` or `p_{name}`. Anything else is HubSpot's 400 for an unknown type.
    pub fn object_type(&self, name: &str) -> Result<ObjectType, SimError> {
        if let Some(built_in) = ObjectType::from_path(name).filter(|t| !t.is_custom()) {
            return Ok(built_in);
        }
        self.schema_named(name).map(|s| s.object_type).ok_or_else(|| SimError::bad_object_type(name))
    }

    /// A live schema by any of the names a path may give it.
    pub fn schema_named(&self, name: &str) -> Option<&ObjectSchema> {
        self.schemas.iter().filter(|s| !s.archived).find(|s| {
            s.object_type.type_id() == name
                || s.fully_qualified_name == name
                || name.strip_prefix("p_").is_some_and(|short| short == s.name)
        })
    }

    /// The live schema of a custom type.
    pub fn schema(&self, object_type: ObjectType) -> Option<&ObjectSchema> {
        self.schemas.iter().find(|s| s.object_type == object_type && !s.archived)
    }

    /// The properties `query` searches: a custom type's schema names them.
    pub fn searchable_properties(&self, object_type: ObjectType) -> Vec<String> {
        match object_type {
            ObjectType::Custom(_) => {
                self.schema(object_type).map(|s| s.searchable_properties.clone()).unwrap_or_default()
            }
            _ => crate::sim::search::searchable(object_type).iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The schema association from `from` to `to` with `type_id`, when one end is a custom type: the custom end's
    /// schema holds both directions.
    fn schema_association(&self, from: ObjectType, to: ObjectType, type_id: Option<i32>) -> Option<(i32, i32)> {
        let custom = if from.is_custom() { from } else { to };
        let schema = self.schema(custom)?;
        let forward = schema
            .associations
            .iter()
            .find(|a| {
                a.from_object_type_id == from.type_id()
                    && a.to_object_type_id == to.type_id()
                    && type_id.is_none_or(|id| id == a.id)
            })?
            .id;
        let backward = schema
            .associations
            .iter()
            .find(|a| a.from_object_type_id == to.type_id() && a.to_object_type_id == from.type_id())?
            .id;
        Some((forward, backward))
    }

    /// A link type between two types at least one of which is custom, and the same link read from the other end;
    /// 400 when the schema defines no such association.
    pub(super) fn custom_pair(
        &self,
        from: ObjectType,
        to: ObjectType,
        t: &AssocType,
    ) -> Result<(AssocType, AssocType), SimError> {
        let (forward, backward) = self.schema_association(from, to, Some(t.type_id)).ok_or_else(|| {
            SimError::validation(format!(
                "associationTypeId {} is not valid between {} and {}",
                t.type_id,
                from.plural(),
                to.plural()
            ))
        })?;
        let typed = |type_id| AssocType { category: SCHEMA_CATEGORY.into(), type_id, label: t.label.clone() };
        Ok((typed(forward), typed(backward)))
    }

    /// The schema's association type from `from` to `to` (one end custom), for a default (unlabeled) link.
    pub fn custom_default_type(&self, from: ObjectType, to: ObjectType) -> Option<AssocType> {
        let (forward, _) = self.schema_association(from, to, None)?;
        Some(AssocType { category: SCHEMA_CATEGORY.into(), type_id: forward, label: None })
    }

    /// The type a link of `type_id` from `from` reaches, by a custom end's schema.
    pub fn custom_target(&self, from: ObjectType, type_id: i32) -> Option<ObjectType> {
        self.schemas.iter().filter(|s| !s.archived).flat_map(|s| &s.associations).find_map(|a| {
            (a.id == type_id && a.from_object_type_id == from.type_id())
                .then(|| ObjectType::from_path(&a.to_object_type_id))
                .flatten()
        })
    }

    /// A fresh association type id for a schema made or extended at run time.
    pub fn fresh_association_id(&self) -> i32 {
        let highest = self.schemas.iter().flat_map(|s| &s.associations).map(|a| a.id).max().unwrap_or(0);
        highest.max(FIRST_SCHEMA_ASSOCIATION_ID - 1) + 1
    }

    /// A fresh `objectTypeId` for a schema made at run time: the portal id and a counter, so it is unique and
    /// deterministic.
    pub fn fresh_object_type(&self) -> Option<ObjectType> {
        let n = self.schemas.len() + 1;
        (n..n + 1000).find_map(|n| {
            let id = format!("2-{}{n:04}", self.portal_id);
            ObjectType::custom(&id).filter(|t| self.schemas.iter().all(|s| s.object_type != *t))
        })
    }

    /// Adds a schema made at run time: its type gets HubSpot's default properties and the schema's, an empty table
    /// and its own id sequence.
    pub fn add_schema(&mut self, schema: ObjectSchema) -> &ObjectSchema {
        let object_type = schema.object_type;
        let mut defined = hubspot::default_properties(object_type);
        defined.extend(schema.properties.iter().cloned());
        self.properties.insert(object_type, defined);
        self.records.entry(object_type).or_default();
        self.next_id.entry(object_type).or_insert(CUSTOM_FIRST_ID);
        self.schemas.push(schema);
        self.schemas.last().expect("just added")
    }

    /// Archives a custom type; HubSpot refuses while it has live records.
    pub fn archive_schema(&mut self, object_type: ObjectType, now: DateTime<Utc>) -> Result<(), SimError> {
        let live =
            self.records.get(&object_type).map_or(0, |rows| rows.values().filter(|r| !r.object.archived).count());
        if live > 0 {
            return Err(SimError::field_error(
                "OBJECT_TYPE_HAS_RECORDS",
                format!(
                    "Cannot delete object type {} while it has {live} records; delete them first",
                    object_type.type_id()
                ),
                "objectType",
            ));
        }
        let schema = self.schemas.iter_mut().find(|s| s.object_type == object_type && !s.archived);
        let schema = schema.ok_or_else(|| schema_not_found(object_type.type_id()))?;
        schema.archived = true;
        schema.updated_at = Some(now);
        Ok(())
    }

    /// The live property definitions of a custom type, as its schema lists them.
    pub fn schema_properties(&self, object_type: ObjectType) -> Vec<PropertyDefinition> {
        let mut properties = self.properties.get(&object_type).cloned().unwrap_or_default();
        properties.retain(|p| !p.archived);
        properties
    }

    /// HubSpot's check that a new custom record holds every property its schema requires.
    pub(super) fn check_required(
        &self,
        object_type: ObjectType,
        properties: &std::collections::BTreeMap<String, Option<String>>,
    ) -> Result<(), SimError> {
        let Some(schema) = self.schema(object_type) else { return Ok(()) };
        let missing: Vec<&String> = schema
            .required_properties
            .iter()
            .filter(|name| properties.get(*name).and_then(|v| v.as_deref()).is_none_or(str::is_empty))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let listed = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        let mut e = SimError::validation(format!("Required properties are missing: {listed}"));
        e.errors = missing
            .iter()
            .map(|name| {
                serde_json::json!({ "message": format!("Property \"{name}\" is required"),
                                    "code": "REQUIRED_PROPERTY", "context": { "propertyName": [name] } })
            })
            .collect();
        Err(e)
    }
}

/// The first id of a custom type's records.
pub(super) const CUSTOM_FIRST_ID: i64 = 20_000_001;

/// HubSpot's 404 for a schema it does not have.
pub fn schema_not_found(name: &str) -> SimError {
    SimError::missing(format!("Unable to find object type {name}"))
}
