//! Support tickets: each raised by one contact, and so tied to that contact's company.

use chrono::Duration;

use super::contacts::Contact;
use super::{Gen, Population, Props};
use crate::data::{TICKET_DETAILS, TICKET_SOURCES, TICKET_SUBJECTS};
use hubspot::iso;
use hubspot::{Association, CrmObject, ObjectType, Pipeline, Stage};
use hubspot::{CONTACT_TICKET, TICKET_COMPANY_PRIMARY};

const FIRST_TICKET_ID: i64 = 12_000_001;

pub(super) fn generate(
    g: &mut Gen,
    pipeline: &Pipeline,
    population: &Population,
    count: usize,
    links: &mut Vec<Association>,
) -> Vec<CrmObject> {
    (0..count)
        .map(|i| {
            let reporter = (!population.contacts.is_empty()).then(|| g.range(0..population.contacts.len()));
            let contact = reporter.map(|r| &population.contacts[r]);
            let ticket = ticket(g, FIRST_TICKET_ID + i as i64, pipeline, contact);
            if let Some(contact) = contact {
                CONTACT_TICKET.link(links, contact.object.id, ticket.id);
                if let Some(c) = contact.company {
                    TICKET_COMPANY_PRIMARY.link(links, ticket.id, population.companies[c].object.id);
                }
            }
            ticket
        })
        .collect()
}

fn ticket(g: &mut Gen, id: i64, pipeline: &Pipeline, contact: Option<&Contact>) -> CrmObject {
    let created = g.between(contact.map_or(g.start, |c| c.object.created_at), g.now);
    let stage = stage(g, pipeline, (g.now - created).num_days());
    // Most tickets are solved within a few weeks.
    let closed = stage.is_closed().then(|| g.between(created, (created + Duration::days(30)).min(g.now)));
    let updated = g.between(closed.unwrap_or(created), g.now);

    let mut object = g.record(ObjectType::Ticket, id, created, updated);
    let p = &mut object.properties;
    p.set("subject", *g.pick(TICKET_SUBJECTS));
    p.set("content", content(g));
    p.set("hs_pipeline", pipeline.id.as_str());
    p.set("hs_pipeline_stage", stage.id.as_str());
    p.set("hs_ticket_priority", g.weighted(&[("LOW", 40), ("MEDIUM", 40), ("HIGH", 20)]));
    p.set_opt("closed_date", closed.map(iso));
    p.set_opt("hubspot_owner_id", g.random_owner());
    p.set("source_type", *g.pick(TICKET_SOURCES));
    object
}

/// Tickets older than a couple of months are nearly all closed; open ones are mostly new.
fn stage<'a>(g: &mut Gen, pipeline: &'a Pipeline, age_days: i64) -> &'a Stage {
    let p_closed = (age_days as f64 / 60.0).clamp(0.2, 0.97);
    let want_closed = g.chance(p_closed);
    let candidates: Vec<(&Stage, u32)> =
        pipeline.stages.iter().filter(|s| s.is_closed() == want_closed).zip([4, 3, 3, 1]).collect();
    if candidates.is_empty() { g.pick(&pipeline.stages) } else { g.weighted(&candidates) }
}

/// Two distinct sentences of detail.
fn content(g: &mut Gen) -> String {
    let first = g.range(0..TICKET_DETAILS.len());
    let second = (first + g.range(1..TICKET_DETAILS.len())) % TICKET_DETAILS.len();
    format!("{} {}", TICKET_DETAILS[first], TICKET_DETAILS[second])
}
