//! Property definitions, as HubSpot's properties API (`/crm/v3/properties/{objectType}`) describes them: what a
//! portal's records may hold, with types, options and who defined them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::iso;

/// One property of an object type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropertyDefinition {
    pub name: String,
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `enumeration`, `bool` or `phone_number`.
    pub property_type: String,
    /// How HubSpot's forms edit it: `text`, `textarea`, `number`, `date`, `select`, `radio`, `checkbox`,
    /// `booleancheckbox`, `phonenumber`, `calculation_equation`, …
    pub field_type: String,
    pub group_name: String,
    pub description: String,
    pub options: Vec<PropertyOption>,
    pub display_order: i32,
    pub has_unique_value: bool,
    pub calculated: bool,
    /// HubSpot's own properties; custom ones are `false`.
    pub hubspot_defined: bool,
    /// Only HubSpot sets the value (`modificationMetadata.readOnlyValue`).
    pub read_only_value: bool,
    pub archived: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// One choice of an enumeration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyOption {
    pub label: String,
    pub value: String,
    pub display_order: i32,
    pub hidden: bool,
}

/// The value types HubSpot's properties have.
pub const PROPERTY_TYPES: [&str; 7] = ["string", "number", "date", "datetime", "enumeration", "bool", "phone_number"];

impl PropertyDefinition {
    /// A custom property with no options: what a portal admin makes in HubSpot's settings.
    pub fn custom(name: &str, label: &str, property_type: &str, field_type: &str) -> Self {
        Self {
            name: name.to_owned(),
            label: label.to_owned(),
            property_type: property_type.to_owned(),
            field_type: field_type.to_owned(),
            group_name: String::new(),
            description: String::new(),
            options: Vec::new(),
            display_order: -1,
            has_unique_value: false,
            calculated: false,
            hubspot_defined: false,
            read_only_value: false,
            archived: false,
            created_at: None,
            updated_at: None,
        }
    }

    /// The label of the option whose value is `value`.
    pub fn option_label(&self, value: &str) -> Option<&str> {
        self.options.iter().find(|o| o.value == value).map(|o| o.label.as_str())
    }

    /// An entry of `GET /crm/v3/properties/{objectType}`. Custom properties leave `hubspotDefined` out, as
    /// HubSpot does.
    pub fn to_hubspot_json(&self) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .map(|o| json!({ "label": o.label, "value": o.value, "displayOrder": o.display_order, "hidden": o.hidden }))
            .collect();
        let mut out = json!({
            "name": self.name,
            "label": self.label,
            "type": self.property_type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": self.description,
            "options": options,
            "displayOrder": self.display_order,
            "hasUniqueValue": self.has_unique_value,
            "calculated": self.calculated,
            "archived": self.archived,
            "formField": !self.calculated && !self.read_only_value,
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
        });
        if self.hubspot_defined {
            out["hubspotDefined"] = json!(true);
        }
        if let Some(at) = self.created_at {
            out["createdAt"] = json!(iso(at));
        }
        if let Some(at) = self.updated_at {
            out["updatedAt"] = json!(iso(at));
        }
        out
    }

    /// Reads one entry of HubSpot's answer; `None` when it has no name or type.
    pub fn from_hubspot_json(value: &Value) -> Option<Self> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
        let time = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.to_utc())
        };
        let name = value.get("name")?.as_str()?.to_owned();
        let property_type = value.get("type")?.as_str()?.to_owned();
        let options = value
            .get("options")
            .and_then(Value::as_array)
            .map(|options| {
                options
                    .iter()
                    .filter_map(|o| {
                        Some(PropertyOption {
                            label: o.get("label").and_then(Value::as_str).unwrap_or_default().to_owned(),
                            value: o.get("value")?.as_str()?.to_owned(),
                            display_order: o.get("displayOrder").and_then(Value::as_i64).unwrap_or(-1) as i32,
                            hidden: flag(o.get("hidden")),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            label: text("label"),
            field_type: text("fieldType"),
            group_name: text("groupName"),
            description: text("description"),
            options,
            display_order: value.get("displayOrder").and_then(Value::as_i64).unwrap_or(-1) as i32,
            has_unique_value: flag(value.get("hasUniqueValue")),
            calculated: flag(value.get("calculated")),
            hubspot_defined: flag(value.get("hubspotDefined")),
            read_only_value: flag(value.pointer("/modificationMetadata/readOnlyValue")),
            archived: flag(value.get("archived")),
            created_at: time("createdAt"),
            updated_at: time("updatedAt"),
            name,
            property_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut tier = PropertyDefinition::custom("tier", "Tier", "enumeration", "select");
        tier.options = vec![
            PropertyOption { label: "Gold".into(), value: "gold".into(), display_order: 0, hidden: false },
            PropertyOption { label: "Silver".into(), value: "silver".into(), display_order: 1, hidden: true },
        ];
        let wire = tier.to_hubspot_json();
        assert!(wire.get("hubspotDefined").is_none(), "custom properties leave hubspotDefined out");
        assert_eq!(wire["options"][1]["hidden"], true);
        assert_eq!(PropertyDefinition::from_hubspot_json(&wire), Some(tier.clone()));
        assert_eq!(tier.option_label("gold"), Some("Gold"));
        assert_eq!(PropertyDefinition::from_hubspot_json(&json!({ "label": "no name" })), None);
    }
}
