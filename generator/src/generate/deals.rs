//! Deals: each belongs to one company and one to three of its contacts, sits in a stage of the sales or
//! renewals pipeline, and carries the closed/won flags and probability of that stage.

use chrono::{DateTime, Duration, Utc};
use rand::seq::IndexedRandom;

use super::companies::CompanyPicker;
use super::{Gen, Population, Props};
use crate::data::{DEAL_PRODUCTS, RENEWAL_PRODUCTS};
use crate::pipelines::RENEWALS_PIPELINE;
use crate::time::{month_start, next_month_start};
use hubspot::iso;
use hubspot::{Association, CrmObject, ObjectType, Pipeline, Stage};
use hubspot::{DEAL_COMPANY_PRIMARY, DEAL_CONTACT};

const FIRST_DEAL_ID: i64 = 9_000_001;
/// Share of deals in the renewals pipeline.
const RENEWAL_SHARE: f64 = 0.15;

pub(crate) struct Deal {
    pub object: CrmObject,
    pub company: Option<usize>,
    pub contacts: Vec<usize>,
    pub closed: bool,
    pub won: bool,
    pub amount: u64,
}

/// The deal's side of the population: whom it is sold to.
struct Buyer {
    company: Option<usize>,
    contacts: Vec<usize>,
    name: String,
    owner: Option<String>,
    /// The deal cannot predate its company or contacts.
    earliest: DateTime<Utc>,
}

pub(super) fn generate(
    g: &mut Gen,
    [sales, renewals]: [&Pipeline; 2],
    population: &Population,
    count: usize,
    links: &mut Vec<Association>,
) -> Vec<Deal> {
    let companies = population.companies;
    // Deals go to companies that have someone to sell to, if any company does.
    let staffed = (0..companies.len()).filter(|&c| !population.members[c].is_empty());
    let picker = CompanyPicker::new(companies, staffed).or_else(|| CompanyPicker::new(companies, 0..companies.len()));
    (0..count)
        .map(|i| {
            let buyer = buyer(g, population, picker.as_ref());
            let pipeline = if g.chance(RENEWAL_SHARE) { renewals } else { sales };
            let deal = deal(g, FIRST_DEAL_ID + i as i64, pipeline, buyer);
            link(&deal, population, links);
            deal
        })
        .collect()
}

fn buyer(g: &mut Gen, population: &Population, picker: Option<&CompanyPicker>) -> Buyer {
    let company = picker.map(|p| p.pick(g));
    let contacts = match company {
        Some(c) => {
            let size = g.weighted(&[(1usize, 55), (2, 30), (3, 15)]);
            population.members[c].choose_multiple(&mut g.rng, size).copied().collect()
        }
        // No companies at all: sell to a single person.
        None if !population.contacts.is_empty() => vec![g.range(0..population.contacts.len())],
        None => Vec::new(),
    };
    let people = contacts.iter().map(|&p| &population.contacts[p]);
    let earliest = company
        .map(|c| population.companies[c].created())
        .into_iter()
        .chain(people.clone().map(|p| p.object.created_at))
        .max()
        .unwrap_or(g.start);
    let (name, owner) = match company.map(|c| &population.companies[c]) {
        Some(c) => (c.name.clone(), c.owner.clone()),
        None => (people.map(|p| p.full_name()).next().unwrap_or_else(|| "New customer".to_owned()), None),
    };
    Buyer { company, contacts, name, owner, earliest }
}

fn deal(g: &mut Gen, id: i64, pipeline: &Pipeline, buyer: Buyer) -> Deal {
    let created = g.between(buyer.earliest, g.now);
    let stage = stage(g, pipeline, (g.now - created).num_days());
    let closed = stage.is_closed();
    let won = stage.is_won();
    let close_date = close_date(g, created, closed);
    let updated = g.between(if closed { close_date } else { created }, g.now);
    let amount = amount(g);
    let renewal = pipeline.id == RENEWALS_PIPELINE;
    let product = *g.pick(if renewal { RENEWAL_PRODUCTS } else { DEAL_PRODUCTS });

    let mut object = g.record(ObjectType::Deal, id, created, updated);
    let p = &mut object.properties;
    p.set("dealname", format!("{} – {product}", buyer.name));
    p.set("amount", amount.to_string());
    p.set("pipeline", pipeline.id.as_str());
    p.set("dealstage", stage.id.as_str());
    p.set("closedate", iso(close_date));
    p.set_opt("hubspot_owner_id", g.owner_like(buyer.owner.as_ref(), 0.7));
    p.set("hs_is_closed", closed.to_string());
    p.set("hs_is_closed_won", won.to_string());
    p.set_opt("hs_deal_stage_probability", stage.probability().map(str::to_owned));
    p.set("dealtype", if renewal { "existingbusiness" } else { "newbusiness" });
    Deal { object, company: buyer.company, contacts: buyer.contacts, closed, won, amount }
}

/// Old deals are mostly decided (a little over half of them won); open ones thin out towards the end of
/// the pipeline.
fn stage<'a>(g: &mut Gen, pipeline: &'a Pipeline, age_days: i64) -> &'a Stage {
    let p_closed = (age_days as f64 / 240.0).clamp(0.15, 0.9);
    let candidates: Vec<(&Stage, u32)> = if g.chance(p_closed) {
        let won = g.chance(0.55);
        pipeline.stages.iter().filter(|s| s.is_closed() && s.is_won() == won).map(|s| (s, 1)).collect()
    } else {
        let open: Vec<&Stage> = pipeline.stages.iter().filter(|s| !s.is_closed()).collect();
        let n = open.len() as u32;
        open.into_iter().zip(0..).map(|(s, i)| (s, n - i)).collect()
    };
    if candidates.is_empty() { g.pick(&pipeline.stages) } else { g.weighted(&candidates) }
}

/// Closed deals closed in the past (some this month); open ones are expected within 180 days (some still
/// this month), so "closing this month" reports have rows on both sides.
fn close_date(g: &mut Gen, created: DateTime<Utc>, closed: bool) -> DateTime<Utc> {
    if closed {
        let from = if g.chance(0.15) { created.max(month_start(g.now)) } else { created };
        return g.between(from, g.now);
    }
    let soon = g.now + Duration::minutes(1);
    let month_end = next_month_start(g.now) - Duration::milliseconds(1);
    if month_end > soon && g.chance(0.25) {
        g.between(soon, month_end)
    } else {
        g.between(soon, g.now + Duration::days(180))
    }
}

/// 500–250,000, mostly small: rounded to 50 below 10k and to 500 above.
fn amount(g: &mut Gen) -> u64 {
    let raw = g.skewed(500.0, 250_000.0, 1.4);
    let step = if raw < 10_000.0 { 50.0 } else { 500.0 };
    ((raw / step).round() * step).clamp(500.0, 250_000.0) as u64
}

fn link(deal: &Deal, population: &Population, links: &mut Vec<Association>) {
    if let Some(c) = deal.company {
        DEAL_COMPANY_PRIMARY.link(links, deal.object.id, population.companies[c].object.id);
    }
    for &p in &deal.contacts {
        DEAL_CONTACT.link(links, deal.object.id, population.contacts[p].object.id);
    }
}
