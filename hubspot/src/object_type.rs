//! The CRM object types that have records, properties and associations, and their names on the wire.

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
