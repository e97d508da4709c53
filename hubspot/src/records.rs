//! What a portal holds, shaped as HubSpot's API returns it (property values are strings).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ObjectType, PropertyDefinition};

/// A contact, company, deal or ticket: HubSpot's `{id, properties, createdAt, updatedAt, archived}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrmObject {
    pub id: i64,
    pub properties: BTreeMap<String, Option<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub user_id: i64,
    pub teams: Vec<Team>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    /// As HubSpot sends it: strings, e.g. `{"probability": "0.2", "isClosed": "false"}` (deal stages) or
    /// `{"ticketState": "OPEN"}` (ticket stages).
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    pub object_type: ObjectType,
    pub stages: Vec<Stage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived: bool,
}

impl Stage {
    /// The `probability` metadata of a deal stage (`"0.2"`).
    pub fn probability(&self) -> Option<&str> {
        self.metadata.get("probability").map(String::as_str)
    }

    /// Whether the stage ends the pipeline: `isClosed` for deal stages, `ticketState` for ticket stages.
    pub fn is_closed(&self) -> bool {
        self.metadata.get("isClosed").is_some_and(|v| v == "true")
            || self.metadata.get("ticketState").is_some_and(|v| v == "CLOSED")
    }

    /// A closed deal stage with probability 1 ("closed won").
    pub fn is_won(&self) -> bool {
        self.is_closed() && self.probability().and_then(|p| p.parse::<f64>().ok()) == Some(1.0)
    }
}

impl Pipeline {
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmailStats {
    pub sent: i64,
    pub delivered: i64,
    pub opened: i64,
    pub clicked: i64,
    pub bounced: i64,
    pub unsubscribed: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// HubSpot marketing campaign ids are UUIDs.
    pub id: String,
    pub name: String,
    pub campaign_type: String,
    pub status: String,
    pub stats: EmailStats,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One direction of an association, as the v4 API reports it. A pair of objects appears once per direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Association {
    pub from_type: ObjectType,
    pub from_id: i64,
    pub to_type: ObjectType,
    pub to_id: i64,
    pub type_id: i32,
    /// `HUBSPOT_DEFINED` for the built-in types.
    pub category: String,
    pub label: Option<String>,
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Portal {
    pub portal_id: i64,
    pub name: String,
    pub owners: Vec<Owner>,
    pub pipelines: Vec<Pipeline>,
    pub contacts: Vec<CrmObject>,
    pub companies: Vec<CrmObject>,
    pub deals: Vec<CrmObject>,
    pub tickets: Vec<CrmObject>,
    pub campaigns: Vec<Campaign>,
    pub associations: Vec<Association>,
    /// The properties the portal's admins added, by object type (HubSpot's own are [`crate::default_properties`]).
    #[serde(default)]
    pub custom_properties: Vec<(ObjectType, PropertyDefinition)>,
    /// The portal's custom object types, with their properties.
    #[serde(default)]
    pub schemas: Vec<crate::ObjectSchema>,
    /// Records of the custom object types, by type.
    #[serde(default)]
    pub custom_objects: std::collections::BTreeMap<ObjectType, Vec<CrmObject>>,
    /// The association labels the portal's admins defined; links using them are in `associations`.
    #[serde(default)]
    pub association_labels: Vec<crate::AssociationLabel>,
}

impl Portal {
    pub fn objects(&self, object_type: ObjectType) -> &[CrmObject] {
        match object_type {
            ObjectType::Contact => &self.contacts,
            ObjectType::Company => &self.companies,
            ObjectType::Deal => &self.deals,
            ObjectType::Ticket => &self.tickets,
            ObjectType::Custom(_) => self.custom_objects.get(&object_type).map_or(&[], Vec::as_slice),
        }
    }
}
