//! The properties HubSpot defines itself (`hubspotDefined: true`) in a fresh portal, per object type: what
//! `GET /crm/v3/properties/{objectType}` lists before an admin adds any. A plain table of the ones the gateway, the
//! generator and the simulator meet, with HubSpot's names, labels, groups, types and options.

use crate::{ObjectType, PropertyDefinition, PropertyOption};

/// How HubSpot treats a property's value.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Anyone with write access may set it.
    Plain,
    /// Only HubSpot sets it (`modificationMetadata.readOnlyValue`): ids, create and modify dates, activity dates.
    ReadOnly,
    /// HubSpot computes it from other data (`calculated`), and so it is read-only too.
    Calculated,
}

use Kind::{Calculated, Plain, ReadOnly};

/// `(name, label, type, fieldType, groupName, kind)`.
type Row = (&'static str, &'static str, &'static str, &'static str, &'static str, Kind);

/// Every type has these.
const COMMON: &[Row] = &[
    ("hs_object_id", "Record ID", "number", "number", "{info}", ReadOnly),
    ("hs_merged_object_ids", "Merged Record IDs", "enumeration", "checkbox", "{info}", ReadOnly),
    ("createdate", "Create Date", "datetime", "date", "{info}", ReadOnly),
    ("hubspot_owner_id", "{Owner}", "enumeration", "select", "{info}", Plain),
];

/// What HubSpot adds to every custom object type besides the schema's own properties.
const CUSTOM: &[Row] = &[
    ("hs_createdate", "Object create date/time", "datetime", "datetime", "{info}", ReadOnly),
    ("hs_lastmodifieddate", "Object last modified date/time", "datetime", "datetime", "{info}", ReadOnly),
];

const CONTACT: &[Row] = &[
    ("email", "Email", "string", "text", "contactinformation", Plain),
    ("firstname", "First Name", "string", "text", "contactinformation", Plain),
    ("lastname", "Last Name", "string", "text", "contactinformation", Plain),
    ("phone", "Phone Number", "string", "phonenumber", "contactinformation", Plain),
    ("company", "Company Name", "string", "text", "contactinformation", Plain),
    ("jobtitle", "Job Title", "string", "text", "contactinformation", Plain),
    ("country", "Country/Region", "string", "text", "contactinformation", Plain),
    ("city", "City", "string", "text", "contactinformation", Plain),
    ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation", Plain),
    ("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties", Plain),
    // HubSpot computes the score from scoring rules; the simulator lets clients set it, as its tests always have.
    ("hubspotscore", "HubSpot Score", "number", "number", "contactinformation", Plain),
    ("lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation", ReadOnly),
    ("notes_last_contacted", "Last Contacted", "datetime", "date", "contact_activity", ReadOnly),
    ("num_notes", "Number of Sales Activities", "number", "number", "contact_activity", ReadOnly),
    ("hs_email_last_open_date", "Last marketing email open date", "datetime", "date", "emailinformation", ReadOnly),
    ("hs_email_last_click_date", "Last marketing email click date", "datetime", "date", "emailinformation", ReadOnly),
];

const COMPANY: &[Row] = &[
    ("name", "Company name", "string", "text", "companyinformation", Plain),
    ("domain", "Company Domain Name", "string", "text", "companyinformation", Plain),
    ("industry", "Industry", "enumeration", "select", "companyinformation", Plain),
    ("country", "Country/Region", "string", "text", "companyinformation", Plain),
    ("city", "City", "string", "text", "companyinformation", Plain),
    ("numberofemployees", "Number of Employees", "number", "number", "companyinformation", Plain),
    ("annualrevenue", "Annual Revenue", "number", "number", "companyinformation", Plain),
    ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "companyinformation", Plain),
    ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "companyinformation", ReadOnly),
    ("notes_last_updated", "Last Activity Date", "datetime", "date", "company_activity", ReadOnly),
    ("total_revenue", "Total Revenue", "number", "number", "companyinformation", Calculated),
    ("num_associated_contacts", "Number of Associated Contacts", "number", "number", "companyinformation", Calculated),
    ("num_associated_deals", "Number of Associated Deals", "number", "number", "companyinformation", Calculated),
];

const DEAL: &[Row] = &[
    ("dealname", "Deal Name", "string", "text", "dealinformation", Plain),
    ("amount", "Amount", "number", "number", "dealinformation", Plain),
    ("pipeline", "Pipeline", "enumeration", "select", "dealinformation", Plain),
    ("dealstage", "Deal Stage", "enumeration", "radio", "dealinformation", Plain),
    ("closedate", "Close Date", "datetime", "date", "dealinformation", Plain),
    ("dealtype", "Deal Type", "enumeration", "radio", "dealinformation", Plain),
    ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "dealinformation", ReadOnly),
    ("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", "dealinformation", Calculated),
    ("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", "dealinformation", Calculated),
    ("hs_deal_stage_probability", "Deal probability", "number", "number", "dealinformation", Calculated),
];

const TICKET: &[Row] = &[
    ("subject", "Ticket name", "string", "text", "ticketinformation", Plain),
    ("content", "Ticket description", "string", "textarea", "ticketinformation", Plain),
    ("hs_pipeline", "Pipeline", "enumeration", "select", "ticketinformation", Plain),
    ("hs_pipeline_stage", "Ticket status", "enumeration", "select", "ticketinformation", Plain),
    ("hs_ticket_priority", "Priority", "enumeration", "select", "ticketinformation", Plain),
    ("source_type", "Source", "enumeration", "select", "ticketinformation", Plain),
    ("closed_date", "Close date", "datetime", "date", "ticketinformation", Plain),
    ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "ticketinformation", ReadOnly),
];

const LIFECYCLE_STAGES: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

const LEAD_STATUSES: &[(&str, &str)] = &[
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
];

/// A part of HubSpot's industry list (labels follow from the values: `COMPUTER_SOFTWARE` is "Computer Software").
const INDUSTRIES: &[&str] = &[
    "ACCOUNTING",
    "AIRLINES_AVIATION",
    "APPAREL_FASHION",
    "AUTOMOTIVE",
    "BANKING",
    "BIOTECHNOLOGY",
    "CHEMICALS",
    "COMPUTER_HARDWARE",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "CONSUMER_GOODS",
    "EDUCATION_MANAGEMENT",
    "ENTERTAINMENT",
    "ENVIRONMENTAL_SERVICES",
    "FINANCIAL_SERVICES",
    "FOOD_BEVERAGES",
    "GOVERNMENT_ADMINISTRATION",
    "HOSPITAL_HEALTH_CARE",
    "HOSPITALITY",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE",
    "INTERNET",
    "LEGAL_SERVICES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "MANAGEMENT_CONSULTING",
    "MANUFACTURING",
    "MARKETING_AND_ADVERTISING",
    "MEDIA_PRODUCTION",
    "NONPROFIT_ORGANIZATION_MANAGEMENT",
    "OIL_ENERGY",
    "PHARMACEUTICALS",
    "REAL_ESTATE",
    "RETAIL",
    "TELECOMMUNICATIONS",
    "TRANSPORTATION_TRUCKING_RAILROAD",
    "UTILITIES",
    "WHOLESALE",
];

/// HubSpot's default deal pipeline and its stages; a portal's own pipelines replace these options.
const DEAL_PIPELINES: &[(&str, &str)] = &[("default", "Sales Pipeline")];
const DEAL_STAGES: &[(&str, &str)] = &[
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
];
const TICKET_PIPELINES: &[(&str, &str)] = &[("0", "Support Pipeline")];
const TICKET_STAGES: &[(&str, &str)] =
    &[("1", "New"), ("2", "Waiting on contact"), ("3", "Waiting on us"), ("4", "Closed")];
const DEAL_TYPES: &[(&str, &str)] = &[("newbusiness", "New Business"), ("existingbusiness", "Existing Business")];
const PRIORITIES: &[(&str, &str)] = &[("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High")];
const TICKET_SOURCES: &[(&str, &str)] = &[("EMAIL", "Email"), ("CHAT", "Chat"), ("PHONE", "Phone"), ("FORM", "Form")];
const BOOLEAN: &[(&str, &str)] = &[("true", "Yes"), ("false", "No")];

/// HubSpot's own properties of `object_type` in a fresh portal, each `hubspot_defined`.
pub fn default_properties(object_type: ObjectType) -> Vec<PropertyDefinition> {
    let (own, info, owner) = match object_type {
        ObjectType::Contact => (CONTACT, "contactinformation", "Contact owner"),
        ObjectType::Company => (COMPANY, "companyinformation", "Company owner"),
        ObjectType::Deal => (DEAL, "dealinformation", "Deal owner"),
        ObjectType::Ticket => (TICKET, "ticketinformation", "Ticket owner"),
        ObjectType::Custom(_) => (CUSTOM, "objectinformation", "Owner"),
    };
    COMMON
        .iter()
        .chain(own)
        .map(|&(name, label, property_type, field_type, group, kind)| {
            let mut p = PropertyDefinition::custom(name, label, property_type, field_type);
            p.label = label.replace("{Owner}", owner);
            p.group_name = group.replace("{info}", info);
            p.hubspot_defined = true;
            p.calculated = kind == Calculated;
            p.read_only_value = kind != Plain;
            p.options = options(object_type, name, property_type);
            p
        })
        .collect()
}

/// The choices of a HubSpot-defined enumeration or bool. `hubspot_owner_id`'s choices are the portal's owners
/// (HubSpot lists them apart, as external options).
fn options(object_type: ObjectType, name: &str, property_type: &str) -> Vec<PropertyOption> {
    let pairs: &[(&str, &str)] = match (object_type, name) {
        (_, "lifecyclestage") => LIFECYCLE_STAGES,
        (_, "hs_lead_status") => LEAD_STATUSES,
        (ObjectType::Deal, "pipeline") => DEAL_PIPELINES,
        (ObjectType::Deal, "dealstage") => DEAL_STAGES,
        (ObjectType::Deal, "dealtype") => DEAL_TYPES,
        (ObjectType::Ticket, "hs_pipeline") => TICKET_PIPELINES,
        (ObjectType::Ticket, "hs_pipeline_stage") => TICKET_STAGES,
        (ObjectType::Ticket, "hs_ticket_priority") => PRIORITIES,
        (ObjectType::Ticket, "source_type") => TICKET_SOURCES,
        (_, "industry") => {
            return INDUSTRIES.iter().zip(0..).map(|(value, i)| option(value, &title(value), i)).collect();
        }
        _ if property_type == "bool" => BOOLEAN,
        _ => &[],
    };
    pairs.iter().zip(0..).map(|(&(value, label), i)| option(value, label, i)).collect()
}

/// A visible choice.
fn option(value: &str, label: &str, display_order: i32) -> PropertyOption {
    PropertyOption { label: label.to_owned(), value: value.to_owned(), display_order, hidden: false }
}

/// `COMPUTER_SOFTWARE` → "Computer Software".
fn title(value: &str) -> String {
    value
        .split('_')
        .map(|word| {
            let lower = word.to_lowercase();
            let mut chars = lower.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_ids_dates_and_owner() {
        for t in ObjectType::BUILT_IN {
            let props = default_properties(t);
            for name in ["hs_object_id", "hs_merged_object_ids", "createdate", t.last_modified_property()] {
                let p = props.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{t:?} {name}"));
                assert!(p.read_only_value && p.hubspot_defined, "{t:?} {name}");
            }
            let owner = props.iter().find(|p| p.name == "hubspot_owner_id").expect("an owner property");
            assert!(owner.label.ends_with("owner") && !owner.read_only_value);
            let mut names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), props.len(), "{t:?} names are unique");
        }
    }

    #[test]
    fn enumerations_carry_hubspots_options() {
        let contact = default_properties(ObjectType::Contact);
        let stage = contact.iter().find(|p| p.name == "lifecyclestage").unwrap();
        assert_eq!(stage.options.len(), 8);
        assert_eq!(stage.option_label("marketingqualifiedlead"), Some("Marketing Qualified Lead"));
        let company = default_properties(ObjectType::Company);
        let industry = company.iter().find(|p| p.name == "industry").unwrap();
        assert_eq!(industry.option_label("COMPUTER_SOFTWARE"), Some("Computer Software"));
        let deal = default_properties(ObjectType::Deal);
        let closed = deal.iter().find(|p| p.name == "hs_is_closed").unwrap();
        assert!(closed.calculated && closed.read_only_value && closed.options.len() == 2);
    }
}
