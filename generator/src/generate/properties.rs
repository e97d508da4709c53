//! The properties each record type carries, and how they are set.

use std::collections::BTreeMap;

use hubspot::ObjectType;

/// Setters for property maps, whose values are strings or null as on HubSpot's wire.
pub(crate) trait Props {
    fn set(&mut self, key: &str, value: impl Into<String>);
    fn set_opt(&mut self, key: &str, value: Option<String>);
}

pub(crate) type PropertyMap = BTreeMap<String, Option<String>>;

impl Props for PropertyMap {
    fn set(&mut self, key: &str, value: impl Into<String>) {
        self.set_opt(key, Some(value.into()));
    }

    /// Overwrites in place when the key exists, so that the map keeps its template's shape.
    fn set_opt(&mut self, key: &str, value: Option<String>) {
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.insert(key.to_owned(), value);
            }
        }
    }
}

/// The properties the generator sets on every record of a type (some of them null), sorted.
pub fn generated_properties(object_type: ObjectType) -> &'static [&'static str] {
    match object_type {
        ObjectType::Contact => CONTACT_PROPERTIES,
        ObjectType::Company => COMPANY_PROPERTIES,
        ObjectType::Deal => DEAL_PROPERTIES,
        ObjectType::Ticket => TICKET_PROPERTIES,
        ObjectType::Custom(_) => CUSTOM_PROPERTIES,
    }
}

/// A custom object's records carry their schema's properties; these are HubSpot's own on every one.
const CUSTOM_PROPERTIES: &[&str] = &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"];

const CONTACT_PROPERTIES: &[&str] = &[
    "city",
    "company",
    "country",
    "createdate",
    "email",
    "firstname",
    "hs_email_last_click_date",
    "hs_email_last_open_date",
    "hs_lead_status",
    "hs_object_id",
    "hubspot_owner_id",
    "hubspotscore",
    "jobtitle",
    "lastmodifieddate",
    "lastname",
    "lifecyclestage",
    "notes_last_contacted",
    "num_notes",
    "phone",
];

const COMPANY_PROPERTIES: &[&str] = &[
    "annualrevenue",
    "city",
    "country",
    "createdate",
    "domain",
    "hs_lastmodifieddate",
    "hs_object_id",
    "hubspot_owner_id",
    "industry",
    "lifecyclestage",
    "name",
    "notes_last_updated",
    "num_associated_contacts",
    "num_associated_deals",
    "numberofemployees",
    "total_revenue",
];

const DEAL_PROPERTIES: &[&str] = &[
    "amount",
    "closedate",
    "createdate",
    "dealname",
    "dealstage",
    "dealtype",
    "hs_deal_stage_probability",
    "hs_is_closed",
    "hs_is_closed_won",
    "hs_lastmodifieddate",
    "hs_object_id",
    "hubspot_owner_id",
    "pipeline",
];

const TICKET_PROPERTIES: &[&str] = &[
    "closed_date",
    "content",
    "createdate",
    "hs_lastmodifieddate",
    "hs_object_id",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "hubspot_owner_id",
    "source_type",
    "subject",
];

/// An all-null property map per type. Records start as clones of it: cloning a map built from sorted keys
/// gives compact nodes and no rebalancing, which matters at 100k records.
pub(super) fn templates() -> [PropertyMap; 4] {
    // `ALL` lists the types in declaration order, so position = `ObjectType as usize`.
    ObjectType::BUILT_IN.map(|ty| generated_properties(ty).iter().map(|k| ((*k).to_owned(), None)).collect())
}
