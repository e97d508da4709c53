//! Builds a whole portal from a [`PortalSpec`]. A single seeded ChaCha stream drives every choice, in a fixed
//! order, so the same spec always yields the same portal (no clock, no thread RNG).

mod campaigns;
mod companies;
mod contacts;
mod custom;
mod deals;
mod machines;
mod owners;
mod properties;
mod rollup;
mod tickets;

use chrono::{DateTime, Duration, Utc};
use rand::distr::uniform::{SampleRange, SampleUniform};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use machines::machine_type;
pub use properties::generated_properties;
pub(crate) use properties::{PropertyMap, Props};

use crate::generate::companies::Company;
use crate::generate::contacts::Contact;
use crate::pipelines::{renewals_pipeline, sales_pipeline, support_pipeline};
use crate::time::{between, truncate_ms};
use hubspot::iso;
use hubspot::{CrmObject, ObjectType, Portal};

use crate::model::PortalSpec;
use properties::templates;

/// How far back the generated history reaches.
const HISTORY_DAYS: i64 = 730;

/// Generates the portal `spec` describes. Deterministic: equal specs give equal portals.
pub fn generate(spec: &PortalSpec) -> Portal {
    let mut g = Gen::new(spec);
    let owners = owners::generate(&mut g, spec.owners);
    g.owner_ids = owners.iter().map(|o| o.id.to_string()).collect();
    // The portal (and its pipelines) predates every record in it.
    let setup = g.start - Duration::days(150);
    let (sales, renewals, support) = (sales_pipeline(setup), renewals_pipeline(setup), support_pipeline(setup));
    let mut links = Vec::with_capacity(expected_links(spec));
    let mut companies = companies::generate(&mut g, spec.companies);
    let mut contacts = contacts::generate(&mut g, &companies, spec.contacts, &mut links);
    let population = Population::new(&companies, &contacts);
    let deals = deals::generate(&mut g, [&sales, &renewals], &population, spec.deals, &mut links);
    let tickets = tickets::generate(&mut g, &support, &population, spec.tickets, &mut links);
    rollup::apply(&mut companies, &mut contacts, &deals);
    let campaigns = campaigns::generate(&mut g, spec.campaigns);
    let mut contacts: Vec<CrmObject> = contacts.into_iter().map(|c| c.object).collect();
    let mut companies: Vec<CrmObject> = companies.into_iter().map(|c| c.object).collect();
    let mut deals: Vec<CrmObject> = deals.into_iter().map(|d| d.object).collect();
    custom::fill(
        spec,
        g.now,
        [(ObjectType::Contact, &mut contacts), (ObjectType::Company, &mut companies), (ObjectType::Deal, &mut deals)],
    );
    let machines = machines::generate(spec, setup, g.now, &companies);
    links.extend(machines.links);
    Portal {
        portal_id: spec.portal_id,
        name: format!("Demo portal {}", spec.portal_id),
        owners,
        pipelines: vec![sales, renewals, support],
        contacts,
        companies,
        deals,
        tickets,
        campaigns,
        associations: links,
        custom_properties: custom::definitions(setup),
        custom_objects: [(machines.schema.object_type, machines.records)].into_iter().collect(),
        schemas: vec![machines.schema],
        association_labels: Vec::new(),
    }
}

/// Roughly how many association rows the spec yields (both directions), so that the vector of hundreds of
/// thousands of rows is not reallocated as it grows.
fn expected_links(spec: &PortalSpec) -> usize {
    4 * spec.contacts + 2 * 3 * spec.deals + 4 * spec.tickets
}

/// The generator's state: the random stream, the time window and what later steps draw on.
pub(crate) struct Gen {
    pub rng: ChaCha8Rng,
    /// `spec.now` at millisecond precision, so that every timestamp survives a trip through [`iso`].
    pub now: DateTime<Utc>,
    /// Start of the generated history.
    pub start: DateTime<Utc>,
    pub owner_ids: Vec<String>,
    /// All-null property maps, indexed by `ObjectType as usize`.
    templates: [PropertyMap; 4],
}

impl Gen {
    fn new(spec: &PortalSpec) -> Self {
        let now = truncate_ms(spec.now);
        Self {
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            now,
            start: now - Duration::days(HISTORY_DAYS),
            owner_ids: Vec::new(),
            templates: templates(),
        }
    }

    /// A live record holding the properties every object has (its id and its create and modify dates); the
    /// others are null until set.
    pub fn record(
        &self,
        object_type: ObjectType,
        id: i64,
        created: DateTime<Utc>,
        updated: DateTime<Utc>,
    ) -> CrmObject {
        let index = ObjectType::BUILT_IN.iter().position(|t| *t == object_type).expect("a built-in type");
        let mut properties = self.templates[index].clone();
        properties.set("hs_object_id", id.to_string());
        properties.set("createdate", iso(created));
        properties.set(object_type.last_modified_property(), iso(updated));
        CrmObject { id, properties, created_at: created, updated_at: updated, archived: false }
    }

    /// A uniformly chosen element; `items` must not be empty (the word lists never are).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    /// An element chosen with the given relative weights.
    pub fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        self.weighted_by(items, |(_, w)| *w).0
    }

    /// An element chosen in proportion to `weight`; `items` must not be empty.
    pub fn weighted_by<'a, T>(&mut self, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
        let total: u32 = items.iter().map(&weight).sum();
        let mut roll = self.rng.random_range(0..total);
        for item in items {
            if roll < weight(item) {
                return item;
            }
            roll -= weight(item);
        }
        &items[items.len() - 1]
    }

    pub fn range<T: SampleUniform, R: SampleRange<T>>(&mut self, range: R) -> T {
        self.rng.random_range(range)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// A number in `[low, high]`, log-distributed and skewed towards `low` by `skew` (> 1 skews more).
    pub fn skewed(&mut self, low: f64, high: f64, skew: f64) -> f64 {
        let u: f64 = self.rng.random();
        (low.ln() + u.powf(skew) * (high.ln() - low.ln())).exp()
    }

    pub fn between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        between(&mut self.rng, from, to)
    }

    /// An instant in the generated history.
    pub fn in_history(&mut self) -> DateTime<Utc> {
        self.between(self.start, self.now)
    }

    /// An instant between `from` and now, or nothing with probability `p_none`.
    pub fn maybe_since(&mut self, from: DateTime<Utc>, p_none: f64) -> Option<DateTime<Utc>> {
        (!self.chance(p_none)).then(|| self.between(from, self.now))
    }

    /// Any owner of the portal (none when the portal has no owners).
    pub fn random_owner(&mut self) -> Option<String> {
        if self.owner_ids.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..self.owner_ids.len());
        Some(self.owner_ids[i].clone())
    }

    /// `preferred` most of the time (`p`), else any owner: accounts mostly stay with one rep.
    pub fn owner_like(&mut self, preferred: Option<&String>, p: f64) -> Option<String> {
        match preferred {
            Some(owner) if self.chance(p) => Some(owner.clone()),
            _ => self.random_owner(),
        }
    }
}

/// The companies and contacts that deals and tickets are attached to.
pub(crate) struct Population<'a> {
    pub companies: &'a [Company],
    pub contacts: &'a [Contact],
    /// Indexes of each company's contacts.
    pub members: Vec<Vec<usize>>,
}

impl<'a> Population<'a> {
    fn new(companies: &'a [Company], contacts: &'a [Contact]) -> Self {
        let mut members = vec![Vec::new(); companies.len()];
        for (i, contact) in contacts.iter().enumerate() {
            if let Some(c) = contact.company {
                members[c].push(i);
            }
        }
        Self { companies, contacts, members }
    }
}

#[cfg(test)]
mod tests;
