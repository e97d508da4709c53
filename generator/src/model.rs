//! What a generated portal holds, shaped as HubSpot's API returns it (property values are strings).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The CRM object types that have records, properties and associations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectType {
    Contact,
    Company,
    Deal,
    Ticket,
}

impl ObjectType {
    pub const ALL: [ObjectType; 4] = [Self::Contact, Self::Company, Self::Deal, Self::Ticket];

    /// Singular name as stored in the mirror's association table (`contact`).
    pub fn singular(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Company => "company",
            Self::Deal => "deal",
            Self::Ticket => "ticket",
        }
    }

    /// Plural name as used in HubSpot's REST paths (`contacts`).
    pub fn plural(self) -> &'static str {
        match self {
            Self::Contact => "contacts",
            Self::Company => "companies",
            Self::Deal => "deals",
            Self::Ticket => "tickets",
        }
    }

    /// The property holding the last-modified time: `lastmodifieddate` for contacts, `hs_lastmodifieddate`
    /// for the others (HubSpot's naming is historical).
    pub fn last_modified_property(self) -> &'static str {
        match self {
            Self::Contact => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }
}

/// How big a portal to generate. The same spec always yields the same portal.
#[derive(Clone, Debug)]
pub struct PortalSpec {
    pub portal_id: i64,
    pub seed: u64,
    pub contacts: usize,
    pub companies: usize,
    pub deals: usize,
    pub tickets: usize,
    pub owners: usize,
    pub campaigns: usize,
    /// The generated history (create dates, close dates, activity) ends here.
    pub now: DateTime<Utc>,
}

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
}

impl Portal {
    pub fn objects(&self, object_type: ObjectType) -> &[CrmObject] {
        match object_type {
            ObjectType::Contact => &self.contacts,
            ObjectType::Company => &self.companies,
            ObjectType::Deal => &self.deals,
            ObjectType::Ticket => &self.tickets,
        }
    }
}
