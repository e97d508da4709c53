//! Contacts: people at the companies (about 5% at none), with addresses at their company's domain.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;

use super::companies::{Company, CompanyPicker};
use super::owners::unique_email;
use super::{Gen, PropertyMap, Props};
use crate::data::{COUNTRIES, Country, FIRST_NAMES, FREE_MAIL_DOMAINS, JOB_TITLES, LAST_NAMES};
use hubspot::iso;
use hubspot::{Association, CrmObject, ObjectType};
use hubspot::{CONTACT_COMPANY, CONTACT_COMPANY_PRIMARY};

const FIRST_CONTACT_ID: i64 = 1001;
/// Share of contacts not linked to any company (sign-ups with a personal address).
const WITHOUT_COMPANY: f64 = 0.05;

pub(crate) struct Contact {
    pub object: CrmObject,
    /// Index of the primary company.
    pub company: Option<usize>,
}

impl Contact {
    /// "First Last".
    pub fn full_name(&self) -> String {
        let p = &self.object.properties;
        let part = |key| p.get(key).and_then(|v| v.as_deref()).unwrap_or_default();
        format!("{} {}", part("firstname"), part("lastname"))
    }
}

pub(super) fn generate(g: &mut Gen, companies: &[Company], count: usize, links: &mut Vec<Association>) -> Vec<Contact> {
    let employers = employers(g, companies, count);
    let mut emails = HashSet::new();
    let contacts: Vec<Contact> = employers
        .into_iter()
        .enumerate()
        .map(|(i, company)| contact(g, FIRST_CONTACT_ID + i as i64, company.map(|c| (c, &companies[c])), &mut emails))
        .collect();
    for contact in &contacts {
        if let Some(c) = contact.company {
            let company_id = companies[c].object.id;
            CONTACT_COMPANY_PRIMARY.link(links, contact.object.id, company_id);
            CONTACT_COMPANY.link(links, contact.object.id, company_id);
        }
    }
    contacts
}

/// The company of each contact, in contact order: every company gets at least one contact when there are
/// enough, the rest go to companies in proportion to their size.
fn employers(g: &mut Gen, companies: &[Company], count: usize) -> Vec<Option<usize>> {
    let Some(picker) = CompanyPicker::new(companies, 0..companies.len()) else {
        return vec![None; count];
    };
    let without = (count as f64 * WITHOUT_COMPANY).round() as usize;
    let with = count - without;
    let mut employers: Vec<Option<usize>> = (0..with.min(companies.len())).map(Some).collect();
    while employers.len() < with {
        employers.push(Some(picker.pick(g)));
    }
    employers.resize(count, None);
    employers.shuffle(&mut g.rng);
    employers
}

fn contact(g: &mut Gen, id: i64, company: Option<(usize, &Company)>, emails: &mut HashSet<String>) -> Contact {
    let first = *g.pick(FIRST_NAMES);
    let last = *g.pick(LAST_NAMES);
    let email = email(g, first, last, company.map(|(_, c)| c), emails);
    let (country, city) = location(g, company.map(|(_, c)| c));
    let owner = g.owner_like(company.and_then(|(_, c)| c.owner.as_ref()), 0.8);
    let created = g.in_history();
    let activity = Activity::new(g, created);
    let updated = g.between(activity.latest().unwrap_or(created), g.now);

    let mut object = g.record(ObjectType::Contact, id, created, updated);
    let p = &mut object.properties;
    p.set("firstname", first);
    p.set("lastname", last);
    p.set("email", email);
    p.set("phone", phone(g, country.dial));
    p.set_opt("company", company.map(|(_, c)| c.name.clone()));
    p.set("jobtitle", *g.pick(JOB_TITLES));
    p.set("country", country.name);
    p.set("city", city);
    p.set("lifecyclestage", g.weighted(BASE_LIFECYCLE));
    p.set_opt("hs_lead_status", (!g.chance(0.15)).then(|| g.weighted(LEAD_STATUSES).to_owned()));
    p.set("hubspotscore", score(g).to_string());
    p.set_opt("hubspot_owner_id", owner);
    activity.write(p);
    Contact { object, company: company.map(|(i, _)| i) }
}

/// Lifecycle before deals are counted; deals promote contacts to opportunity or customer.
const BASE_LIFECYCLE: &[(&str, u32)] = &[
    ("subscriber", 20),
    ("lead", 35),
    ("marketingqualifiedlead", 18),
    ("salesqualifiedlead", 12),
    ("opportunity", 3),
    ("customer", 7),
    ("evangelist", 2),
    ("other", 3),
];

/// Lead statuses other than `OPEN_DEAL`, which is set for contacts with an open deal.
const LEAD_STATUSES: &[(&str, u32)] = &[
    ("NEW", 20),
    ("OPEN", 15),
    ("IN_PROGRESS", 15),
    ("ATTEMPTED_TO_CONTACT", 15),
    ("CONNECTED", 15),
    ("UNQUALIFIED", 10),
    ("BAD_TIMING", 10),
];

/// 0–100, most contacts in the lower half.
fn score(g: &mut Gen) -> u32 {
    let u: f64 = g.range(0.0..1.0);
    (u.powf(1.5) * 100.0).round() as u32
}

/// `first.last@companydomain`; people without a company use a free-mail address, often with digits.
fn email(g: &mut Gen, first: &str, last: &str, company: Option<&Company>, taken: &mut HashSet<String>) -> String {
    let local = format!("{first}.{last}");
    match company {
        Some(c) => unique_email(&local, &c.domain, taken),
        None => {
            let domain = *g.pick(FREE_MAIL_DOMAINS);
            let local = if g.chance(0.4) { format!("{local}{}", g.range(1..100)) } else { local };
            unique_email(&local, domain, taken)
        }
    }
}

/// Mostly the company's location; remote workers and company-less contacts live anywhere.
fn location(g: &mut Gen, company: Option<&Company>) -> (&'static Country, &'static str) {
    match company {
        Some(c) if g.chance(0.9) => (c.country, c.city),
        _ => {
            let country = g.pick(COUNTRIES);
            (country, *g.pick(country.cities))
        }
    }
}

/// `+1 415 555-0123`: the 555 exchange keeps numbers fictional.
fn phone(g: &mut Gen, dial: &str) -> String {
    format!("{dial} {} 555-{:04}", g.range(201..990), g.range(0..10_000))
}

/// Sales and marketing activity; many contacts were never called or never opened an e-mail.
struct Activity {
    contacted: Option<DateTime<Utc>>,
    notes: u32,
    opened: Option<DateTime<Utc>>,
    clicked: Option<DateTime<Utc>>,
}

impl Activity {
    fn new(g: &mut Gen, created: DateTime<Utc>) -> Self {
        let contacted = g.maybe_since(created, 0.3);
        let notes = match contacted {
            Some(_) => g.skewed(1.0, 15.0, 1.5).round() as u32,
            None => g.range(0..=2),
        };
        let opened = g.maybe_since(created, 0.4);
        // A click implies an open at or after it.
        let clicked = match opened {
            Some(open) if g.chance(0.5) => Some(g.between(created, open)),
            _ => None,
        };
        Self { contacted, notes, opened, clicked }
    }

    /// Activity modifies the record, so the last-modified date cannot be earlier.
    fn latest(&self) -> Option<DateTime<Utc>> {
        self.contacted.max(self.opened)
    }

    fn write(&self, p: &mut PropertyMap) {
        p.set_opt("notes_last_contacted", self.contacted.map(iso));
        p.set("num_notes", self.notes.to_string());
        p.set_opt("hs_email_last_open_date", self.opened.map(iso));
        p.set_opt("hs_email_last_click_date", self.clicked.map(iso));
    }
}
