//! Custom object schemas, as HubSpot's schemas API (`/crm/v3/schemas`) describes them: a portal's own object types,
//! their properties and the association types they have with other types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{ObjectType, PropertyDefinition, iso};

/// One custom object type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectSchema {
    /// The schema's own id (`123456`).
    pub id: String,
    /// `ObjectType::Custom`, by `objectTypeId` (`2-1234567`).
    pub object_type: ObjectType,
    /// The name given at creation (`machines`).
    pub name: String,
    /// `p{portal}_{name}`.
    pub fully_qualified_name: String,
    pub singular_label: String,
    pub plural_label: String,
    pub primary_display_property: Option<String>,
    pub required_properties: Vec<String>,
    pub searchable_properties: Vec<String>,
    pub secondary_display_properties: Vec<String>,
    pub properties: Vec<PropertyDefinition>,
    pub associations: Vec<SchemaAssociation>,
    pub archived: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An association type a schema defines with another object type, in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaAssociation {
    /// The association type id.
    pub id: i32,
    pub name: String,
    pub from_object_type_id: String,
    pub to_object_type_id: String,
}

impl SchemaAssociation {
    pub fn to_hubspot_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "name": self.name,
            "fromObjectTypeId": self.from_object_type_id,
            "toObjectTypeId": self.to_object_type_id,
        })
    }

    pub fn from_hubspot_json(value: &Value) -> Option<Self> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = value.get("id").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))?;
        Some(Self {
            id: i32::try_from(id).ok()?,
            name: text("name").unwrap_or_default(),
            from_object_type_id: text("fromObjectTypeId")?,
            to_object_type_id: text("toObjectTypeId")?,
        })
    }
}

impl ObjectSchema {
    /// An entry of `GET /crm/v3/schemas`.
    pub fn to_hubspot_json(&self) -> Value {
        let mut out = json!({
            "id": self.id,
            "objectTypeId": self.object_type.type_id(),
            "fullyQualifiedName": self.fully_qualified_name,
            "name": self.name,
            "labels": { "singular": self.singular_label, "plural": self.plural_label },
            "primaryDisplayProperty": self.primary_display_property,
            "requiredProperties": self.required_properties,
            "searchableProperties": self.searchable_properties,
            "secondaryDisplayProperties": self.secondary_display_properties,
            "properties": self.properties.iter().map(PropertyDefinition::to_hubspot_json).collect::<Vec<_>>(),
            "associations": self.associations.iter().map(SchemaAssociation::to_hubspot_json).collect::<Vec<_>>(),
            "archived": self.archived,
        });
        if let Some(at) = self.created_at {
            out["createdAt"] = json!(iso(at));
        }
        if let Some(at) = self.updated_at {
            out["updatedAt"] = json!(iso(at));
        }
        out
    }

    /// Reads one entry of HubSpot's answer; `None` without a custom `objectTypeId` or a name.
    pub fn from_hubspot_json(value: &Value) -> Option<Self> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let names = |key: &str| -> Vec<String> {
            let list = value.get(key).and_then(Value::as_array).into_iter().flatten();
            list.filter_map(|v| v.as_str().map(str::to_owned)).collect()
        };
        let time = |key: &str| {
            let text = value.get(key).and_then(Value::as_str)?;
            DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
        };
        let name = text("name")?;
        let labels = value.get("labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            id: value.get("id").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default(),
            object_type: ObjectType::custom(value.get("objectTypeId").and_then(Value::as_str)?)?,
            fully_qualified_name: text("fullyQualifiedName").unwrap_or_else(|| name.clone()),
            singular_label: label("singular").unwrap_or_else(|| name.clone()),
            plural_label: label("plural").unwrap_or_else(|| name.clone()),
            name,
            primary_display_property: text("primaryDisplayProperty"),
            required_properties: names("requiredProperties"),
            searchable_properties: names("searchableProperties"),
            secondary_display_properties: names("secondaryDisplayProperties"),
            properties: value
                .get("properties")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(PropertyDefinition::from_hubspot_json)
                .collect(),
            associations: value
                .get("associations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(SchemaAssociation::from_hubspot_json)
                .collect(),
            archived: value.get("archived").and_then(Value::as_bool).unwrap_or(false),
            created_at: time("createdAt"),
            updated_at: time("updatedAt"),
        })
    }

    /// The built-in or custom types this schema's records may be linked with.
    pub fn linked_types(&self) -> Vec<ObjectType> {
        let own = self.object_type.type_id();
        let mut out: Vec<ObjectType> = self
            .associations
            .iter()
            .filter_map(|a| {
                let other = if a.from_object_type_id == own { &a.to_object_type_id } else { &a.from_object_type_id };
                ObjectType::from_path(other)
            })
            .filter(|t| *t != self.object_type)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The association type id from this type to `to`, as the schema defines it.
    pub fn association_to(&self, to: ObjectType) -> Option<i32> {
        let own = self.object_type.type_id();
        self.associations
            .iter()
            .find(|a| a.from_object_type_id == own && a.to_object_type_id == to.type_id())
            .map(|a| a.id)
    }

    /// The association type id from `from` to this type, as the schema defines it.
    pub fn association_from(&self, from: ObjectType) -> Option<i32> {
        let own = self.object_type.type_id();
        self.associations
            .iter()
            .find(|a| a.to_object_type_id == own && a.from_object_type_id == from.type_id())
            .map(|a| a.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_reads_back_what_it_writes() {
        let machines = ObjectType::custom("2-7000001").unwrap();
        let schema = ObjectSchema {
            id: "7000001".into(),
            object_type: machines,
            name: "machines".into(),
            fully_qualified_name: "p42_machines".into(),
            singular_label: "Machine".into(),
            plural_label: "Machines".into(),
            primary_display_property: Some("machine_name".into()),
            required_properties: vec!["machine_name".into()],
            searchable_properties: vec!["machine_name".into()],
            secondary_display_properties: vec![],
            properties: vec![PropertyDefinition::custom("machine_name", "Name", "string", "text")],
            associations: vec![
                SchemaAssociation {
                    id: 301,
                    name: "machines_to_company".into(),
                    from_object_type_id: "2-7000001".into(),
                    to_object_type_id: "0-2".into(),
                },
                SchemaAssociation {
                    id: 302,
                    name: "company_to_machines".into(),
                    from_object_type_id: "0-2".into(),
                    to_object_type_id: "2-7000001".into(),
                },
            ],
            archived: false,
            created_at: None,
            updated_at: None,
        };
        let back = ObjectSchema::from_hubspot_json(&schema.to_hubspot_json()).unwrap();
        assert_eq!(back, schema);
        assert_eq!(back.linked_types(), vec![ObjectType::Company]);
        assert_eq!(back.association_to(ObjectType::Company), Some(301));
        assert_eq!(back.association_from(ObjectType::Company), Some(302));
        assert_eq!(back.association_to(ObjectType::Contact), None);
    }
}
