//! HubSpot sends every property as a string; the mirror keeps typed columns for what the API filters and sorts on.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use entities::{association, company, contact, custom_object, deal, object_properties, ticket};
use hubspot::{Association, CrmObject, ObjectType};
use sea_orm::ActiveValue::Set;

struct Props<'a>(&'a BTreeMap<String, Option<String>>);

impl Props<'_> {
    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned().flatten().filter(|v| !v.is_empty())
    }

    fn float(&self, name: &str) -> Option<f64> {
        self.text(name)?.trim().parse::<f64>().ok().filter(|v| v.is_finite())
    }

    fn int(&self, name: &str) -> Option<i32> {
        self.float(name).map(|v| v.round() as i32)
    }

    fn id(&self, name: &str) -> Option<i64> {
        self.text(name)?.trim().parse().ok()
    }

    fn flag(&self, name: &str) -> Option<bool> {
        match self.text(name)?.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// ISO-8601, a date alone, or epoch milliseconds (older HubSpot fields).
    fn time(&self, name: &str) -> Option<DateTime<Utc>> {
        let text = self.text(name)?;
        if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(date) = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        }
        text.parse::<i64>().ok().and_then(|ms| Utc.timestamp_millis_opt(ms).single())
    }
}

/// Lower-cased words `search` looks in.
fn search_text(parts: &[Option<String>]) -> String {
    parts.iter().flatten().map(|p| p.to_lowercase()).collect::<Vec<_>>().join(" ")
}

/// The record's properties as received, beside its typed row.
pub(super) fn properties(portal_id: i64, object_type: ObjectType, obj: &CrmObject) -> object_properties::ActiveModel {
    object_properties::ActiveModel {
        portal_id: Set(portal_id),
        object_type: Set(object_type.singular().to_owned()),
        hubspot_id: Set(obj.id),
        properties: Set(serde_json::to_string(&obj.properties).unwrap_or_else(|_| "{}".into())),
        property_times: Set("{}".into()),
        updated_at: Set(obj.updated_at),
    }
}

/// A custom object's typed row: its name (the schema's primary display property) and its times.
pub(super) fn custom(
    portal_id: i64,
    object_type: ObjectType,
    display_property: Option<&str>,
    obj: &CrmObject,
    now: DateTime<Utc>,
) -> custom_object::ActiveModel {
    custom_object::ActiveModel {
        portal_id: Set(portal_id),
        object_type: Set(object_type.singular().to_owned()),
        hubspot_id: Set(obj.id),
        display_name: Set(display_property.and_then(|p| Props(&obj.properties).text(p))),
        created_at: Set(obj.created_at),
        updated_at: Set(obj.updated_at),
        archived_at: Set(archived_at(obj)),
        merged_into: Set(None),
        synced_at: Set(now),
    }
}

fn archived_at(obj: &CrmObject) -> Option<DateTime<Utc>> {
    obj.archived.then_some(obj.updated_at)
}

pub(super) fn contact(portal_id: i64, obj: &CrmObject, now: DateTime<Utc>) -> contact::ActiveModel {
    let p = Props(&obj.properties);
    let (email, firstname, lastname, phone, company_name) =
        (p.text("email"), p.text("firstname"), p.text("lastname"), p.text("phone"), p.text("company"));
    contact::ActiveModel {
        portal_id: Set(portal_id),
        hubspot_id: Set(obj.id),
        search_text: Set(search_text(&[
            firstname.clone(),
            lastname.clone(),
            email.clone(),
            company_name.clone(),
            phone.clone(),
        ])),
        email: Set(email),
        firstname: Set(firstname),
        lastname: Set(lastname),
        phone: Set(phone),
        company_name: Set(company_name),
        jobtitle: Set(p.text("jobtitle")),
        country: Set(p.text("country")),
        city: Set(p.text("city")),
        lifecyclestage: Set(p.text("lifecyclestage")),
        lead_status: Set(p.text("hs_lead_status")),
        hubspotscore: Set(p.int("hubspotscore")),
        owner_id: Set(p.id("hubspot_owner_id")),
        last_contacted_at: Set(p.time("notes_last_contacted")),
        num_notes: Set(p.int("num_notes")),
        email_last_open_at: Set(p.time("hs_email_last_open_date")),
        email_last_click_at: Set(p.time("hs_email_last_click_date")),
        created_at: Set(obj.created_at),
        updated_at: Set(obj.updated_at),
        archived_at: Set(archived_at(obj)),
        merged_into: Set(None),
        synced_at: Set(now),
    }
}

pub(super) fn company(portal_id: i64, obj: &CrmObject, now: DateTime<Utc>) -> company::ActiveModel {
    let p = Props(&obj.properties);
    let (name, domain) = (p.text("name"), p.text("domain"));
    company::ActiveModel {
        portal_id: Set(portal_id),
        hubspot_id: Set(obj.id),
        search_text: Set(search_text(&[name.clone(), domain.clone(), p.text("phone")])),
        name: Set(name),
        domain: Set(domain),
        industry: Set(p.text("industry")),
        country: Set(p.text("country")),
        city: Set(p.text("city")),
        numberofemployees: Set(p.int("numberofemployees")),
        annualrevenue: Set(p.float("annualrevenue")),
        lifecyclestage: Set(p.text("lifecyclestage")),
        owner_id: Set(p.id("hubspot_owner_id")),
        notes_last_updated_at: Set(p.time("notes_last_updated")),
        total_revenue: Set(p.float("total_revenue")),
        num_associated_contacts: Set(p.int("num_associated_contacts")),
        num_associated_deals: Set(p.int("num_associated_deals")),
        created_at: Set(obj.created_at),
        updated_at: Set(obj.updated_at),
        archived_at: Set(archived_at(obj)),
        merged_into: Set(None),
        synced_at: Set(now),
    }
}

pub(super) fn deal(portal_id: i64, obj: &CrmObject, now: DateTime<Utc>) -> deal::ActiveModel {
    let p = Props(&obj.properties);
    let name = p.text("dealname");
    deal::ActiveModel {
        portal_id: Set(portal_id),
        hubspot_id: Set(obj.id),
        search_text: Set(search_text(std::slice::from_ref(&name))),
        dealname: Set(name),
        amount: Set(p.float("amount")),
        pipeline: Set(p.text("pipeline")),
        dealstage: Set(p.text("dealstage")),
        closedate: Set(p.time("closedate")),
        owner_id: Set(p.id("hubspot_owner_id")),
        is_closed: Set(p.flag("hs_is_closed")),
        is_closed_won: Set(p.flag("hs_is_closed_won")),
        probability: Set(p.float("hs_deal_stage_probability")),
        created_at: Set(obj.created_at),
        updated_at: Set(obj.updated_at),
        archived_at: Set(archived_at(obj)),
        merged_into: Set(None),
        synced_at: Set(now),
    }
}

pub(super) fn ticket(portal_id: i64, obj: &CrmObject, now: DateTime<Utc>) -> ticket::ActiveModel {
    let p = Props(&obj.properties);
    let subject = p.text("subject");
    ticket::ActiveModel {
        portal_id: Set(portal_id),
        hubspot_id: Set(obj.id),
        search_text: Set(search_text(std::slice::from_ref(&subject))),
        subject: Set(subject),
        content: Set(p.text("content")),
        pipeline: Set(p.text("hs_pipeline")),
        pipeline_stage: Set(p.text("hs_pipeline_stage")),
        priority: Set(p.text("hs_ticket_priority")),
        owner_id: Set(p.id("hubspot_owner_id")),
        closed_at: Set(p.time("closed_date")),
        created_at: Set(obj.created_at),
        updated_at: Set(obj.updated_at),
        archived_at: Set(archived_at(obj)),
        merged_into: Set(None),
        synced_at: Set(now),
    }
}

/// The mirror's row of an association.
pub fn association(portal_id: i64, a: &Association, now: DateTime<Utc>) -> association::ActiveModel {
    association::ActiveModel {
        portal_id: Set(portal_id),
        from_type: Set(a.from_type.singular().to_owned()),
        from_id: Set(a.from_id),
        to_type: Set(a.to_type.singular().to_owned()),
        to_id: Set(a.to_id),
        type_id: Set(a.type_id),
        category: Set(a.category.clone()),
        label: Set(a.label.clone()),
        is_primary: Set(a.primary),
        updated_at: Set(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect()
    }

    #[test]
    fn property_strings_become_typed_values() {
        let map = props(&[
            ("amount", "1250.50"),
            ("num", "12.0"),
            ("iso", "2025-03-04T10:15:30.123Z"),
            ("ms", "1564113600000"),
            ("date", "2025-03-04"),
            ("yes", "true"),
            ("blank", ""),
        ]);
        let p = Props(&map);
        assert_eq!(p.float("amount"), Some(1250.5));
        assert_eq!(p.int("num"), Some(12));
        assert_eq!(p.time("iso").unwrap().timestamp_millis(), 1_741_083_330_123);
        assert_eq!(p.time("ms").unwrap().timestamp_millis(), 1_564_113_600_000);
        assert_eq!(p.time("date").unwrap().to_rfc3339(), "2025-03-04T00:00:00+00:00");
        assert_eq!(p.flag("yes"), Some(true));
        assert_eq!(p.text("blank"), None);
        assert_eq!(p.float("missing"), None);
    }

    #[test]
    fn search_text_is_lower_case_words() {
        assert_eq!(search_text(&[Some("Ada".into()), None, Some("ADA@Example.com".into())]), "ada ada@example.com");
    }
}
