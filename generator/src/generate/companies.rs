//! Companies: unique names and domains, a location, a size and an owner. Counts and lifecycle are rolled
//! up from contacts and deals later.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;

use super::{Gen, Props};
use crate::data::{COMPANY_QUALIFIERS, COMPANY_STEMS, COMPANY_SUFFIXES, COUNTRIES, Country, INDUSTRIES};
use hubspot::iso;
use hubspot::{CrmObject, ObjectType};

const FIRST_COMPANY_ID: i64 = 5_000_001;

/// A generated company and what contacts, deals and tickets borrow from it.
pub(crate) struct Company {
    pub object: CrmObject,
    pub name: String,
    pub domain: String,
    pub country: &'static Country,
    pub city: &'static str,
    pub owner: Option<String>,
    /// Bigger companies get more contacts and deals.
    pub weight: f64,
}

impl Company {
    pub fn created(&self) -> DateTime<Utc> {
        self.object.created_at
    }
}

pub(super) fn generate(g: &mut Gen, count: usize) -> Vec<Company> {
    let names = names(g, count);
    let mut domains = HashSet::new();
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let domain = unique_domain(&name, &mut domains);
            company(g, FIRST_COMPANY_ID + i as i64, name, domain)
        })
        .collect()
}

fn company(g: &mut Gen, id: i64, name: String, domain: String) -> Company {
    let country = g.weighted_by(COUNTRIES, |c| c.weight);
    let city = *g.pick(country.cities);
    let owner = g.random_owner();
    let employees = employees(g);
    let created = g.in_history();
    let notes_updated = g.maybe_since(created, 0.3);
    // Logging a note modifies the record.
    let updated = g.between(notes_updated.unwrap_or(created), g.now);

    let mut object = g.record(ObjectType::Company, id, created, updated);
    let p = &mut object.properties;
    p.set("name", name.as_str());
    p.set("domain", domain.as_str());
    p.set("industry", *g.pick(INDUSTRIES));
    p.set("country", country.name);
    p.set("city", city);
    p.set("numberofemployees", employees.to_string());
    p.set("annualrevenue", annual_revenue(g, employees).to_string());
    p.set("lifecyclestage", g.weighted(BASE_LIFECYCLE));
    p.set_opt("hubspot_owner_id", owner.clone());
    p.set_opt("notes_last_updated", notes_updated.map(iso));
    let weight = 1.0 + f64::from(employees).ln();
    Company { object, name, domain, country, city, owner, weight }
}

/// Lifecycle before any deal exists; deals promote it to opportunity or customer.
const BASE_LIFECYCLE: &[(&str, u32)] =
    &[("lead", 50), ("subscriber", 10), ("marketingqualifiedlead", 15), ("salesqualifiedlead", 15), ("other", 10)];

/// Distinct names: every "Stem Suffix" pair first (shuffled), then "Qualifier Stem Suffix", then numbered
/// repeats for portals bigger than that.
fn names(g: &mut Gen, count: usize) -> Vec<String> {
    let plain = COMPANY_STEMS.len() * COMPANY_SUFFIXES.len();
    let mut pool: Vec<usize> = (0..plain).collect();
    pool.shuffle(&mut g.rng);
    if count > plain {
        let mut qualified: Vec<usize> = (plain..plain * (1 + COMPANY_QUALIFIERS.len())).collect();
        qualified.shuffle(&mut g.rng);
        pool.extend(qualified);
    }
    (0..count)
        .map(|i| {
            let name = render_name(pool[i % pool.len()]);
            match i / pool.len() {
                0 => name,
                round => format!("{name} {}", round + 1),
            }
        })
        .collect()
}

/// Name number `index` of the combination space (see [`names`]).
fn render_name(index: usize) -> String {
    let plain = COMPANY_STEMS.len() * COMPANY_SUFFIXES.len();
    let (qualifier, rest) = (index / plain, index % plain);
    let stem = COMPANY_STEMS[rest / COMPANY_SUFFIXES.len()];
    let suffix = COMPANY_SUFFIXES[rest % COMPANY_SUFFIXES.len()];
    match qualifier {
        0 => format!("{stem} {suffix}"),
        q => format!("{} {stem} {suffix}", COMPANY_QUALIFIERS[q - 1]),
    }
}

/// `northwindlabs.com` from "Northwind Labs"; numbered if two names squash to the same letters.
fn unique_domain(name: &str, taken: &mut HashSet<String>) -> String {
    let base: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    let mut domain = format!("{base}.com");
    let mut n = 2;
    while !taken.insert(domain.clone()) {
        domain = format!("{base}{n}.com");
        n += 1;
    }
    domain
}

/// Mostly small businesses, a long tail up to 20,000 people.
fn employees(g: &mut Gen) -> u32 {
    let n = g.skewed(2.0, 20_000.0, 1.8);
    let n = if n < 100.0 { n.round() } else { (n / 10.0).round() * 10.0 };
    n as u32
}

/// Revenue per employee between 60k and 250k, rounded to the thousand.
fn annual_revenue(g: &mut Gen, employees: u32) -> u64 {
    let per_head = g.range(60_000u64..=250_000);
    (u64::from(employees) * per_head).div_ceil(1_000) * 1_000
}

/// Picks companies in proportion to their weight.
pub(crate) struct CompanyPicker {
    /// Indexes into the company list, with the cumulative weight up to and including each.
    cumulative: Vec<(usize, f64)>,
}

impl CompanyPicker {
    /// A picker over the given company indexes; `None` when there are none.
    pub fn new(companies: &[Company], eligible: impl IntoIterator<Item = usize>) -> Option<Self> {
        let mut total = 0.0;
        let cumulative: Vec<(usize, f64)> = eligible
            .into_iter()
            .map(|i| {
                total += companies[i].weight;
                (i, total)
            })
            .collect();
        (!cumulative.is_empty()).then_some(Self { cumulative })
    }

    pub fn pick(&self, g: &mut Gen) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1].1;
        let roll = g.range(0.0..total);
        let at = self.cumulative.partition_point(|&(_, c)| c <= roll);
        self.cumulative[at.min(self.cumulative.len() - 1)].0
    }
}
