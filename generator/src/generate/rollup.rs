//! HubSpot's calculated properties: counts and revenue on companies, and lifecycle stages that deals
//! promote (a contact on an open deal is an opportunity, on a won deal a customer).

use super::Props;
use super::companies::Company;
use super::contacts::Contact;
use super::deals::Deal;
use hubspot::CrmObject;

/// Lifecycle stages from earliest to latest; `other` sits below all of them so that deals promote it.
const LIFECYCLE_ORDER: &[&str] = &[
    "other",
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
];

#[derive(Default)]
struct Tally {
    contacts: usize,
    deals: usize,
    won_revenue: u64,
    open: bool,
    won: bool,
}

pub(super) fn apply(companies: &mut [Company], contacts: &mut [Contact], deals: &[Deal]) {
    let mut by_company: Vec<Tally> = companies.iter().map(|_| Tally::default()).collect();
    let mut by_contact: Vec<Tally> = contacts.iter().map(|_| Tally::default()).collect();
    for c in contacts.iter().filter_map(|c| c.company) {
        by_company[c].contacts += 1;
    }
    for deal in deals {
        let parties = deal.company.map(|c| &mut by_company[c]);
        count_deal(parties, deal);
        for &p in &deal.contacts {
            count_deal(Some(&mut by_contact[p]), deal);
        }
    }
    for (company, tally) in companies.iter_mut().zip(&by_company) {
        company_rollup(&mut company.object, tally);
    }
    for (contact, tally) in contacts.iter_mut().zip(&by_contact) {
        contact_rollup(&mut contact.object, tally);
    }
}

fn count_deal(tally: Option<&mut Tally>, deal: &Deal) {
    let Some(t) = tally else { return };
    t.deals += 1;
    t.open |= !deal.closed;
    if deal.won {
        t.won = true;
        t.won_revenue += deal.amount;
    }
}

fn company_rollup(object: &mut CrmObject, tally: &Tally) {
    let p = &mut object.properties;
    p.set("num_associated_contacts", tally.contacts.to_string());
    p.set("num_associated_deals", tally.deals.to_string());
    // HubSpot leaves the revenue roll-up empty until a deal is won.
    p.set_opt("total_revenue", tally.won.then(|| tally.won_revenue.to_string()));
    promote(object, tally);
}

fn contact_rollup(object: &mut CrmObject, tally: &Tally) {
    if tally.open {
        object.properties.set("hs_lead_status", "OPEN_DEAL");
    }
    promote(object, tally);
}

/// Raises `lifecyclestage` to what the deals imply; stages never move backwards.
fn promote(object: &mut CrmObject, tally: &Tally) {
    let implied = match (tally.won, tally.open) {
        (true, _) => "customer",
        (false, true) => "opportunity",
        (false, false) => return,
    };
    let rank = |stage: &str| LIFECYCLE_ORDER.iter().position(|s| *s == stage);
    let current = object.properties.get("lifecyclestage").cloned().flatten();
    if current.as_deref().and_then(rank) < rank(implied) {
        object.properties.set("lifecyclestage", implied);
    }
}
