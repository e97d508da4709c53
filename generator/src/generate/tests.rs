use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};

use hubspot::{AssociationKind, ObjectType, Portal, iso};

use crate::{PortalSpec, generate};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 0).unwrap() + Duration::nanoseconds(123_456_789)
}

fn demo() -> Portal {
    generate(&PortalSpec::demo(12345, now()))
}

fn prop<'a>(object: &'a hubspot::CrmObject, key: &str) -> Option<&'a str> {
    object.properties.get(key).and_then(|v| v.as_deref())
}

#[test]
fn same_spec_same_portal() {
    let spec = PortalSpec::sized(1, 42, 300, 60, 150, now());
    assert_eq!(generate(&spec), generate(&spec));
}

#[test]
fn different_seeds_differ() {
    let a = generate(&PortalSpec::sized(1, 1, 300, 60, 150, now()));
    let b = generate(&PortalSpec::sized(1, 2, 300, 60, 150, now()));
    assert_ne!(a.contacts, b.contacts);
    assert_ne!(a.companies, b.companies);
    assert_ne!(a.deals, b.deals);
}

#[test]
fn sizes_and_ids() {
    let p = demo();
    assert_eq!(p.name, "Demo portal 12345");
    assert_eq!((p.contacts.len(), p.companies.len(), p.deals.len()), (2_000, 400, 1_000));
    assert_eq!((p.tickets.len(), p.owners.len(), p.campaigns.len()), (500, 12, 20));
    let firsts = [(ObjectType::Contact, 1001), (ObjectType::Company, 5_000_001), (ObjectType::Deal, 9_000_001)];
    for (ty, first) in firsts.into_iter().chain([(ObjectType::Ticket, 12_000_001)]) {
        for (i, o) in p.objects(ty).iter().enumerate() {
            assert_eq!(o.id, first + i as i64);
            assert_eq!(prop(o, "hs_object_id"), Some(o.id.to_string().as_str()));
            assert!(!o.archived);
        }
    }
    assert_eq!(p.owners[0].id, 70_000_001);
}

#[test]
fn sized_derives_the_rest() {
    let s = PortalSpec::sized(1, 1, 100_000, 20_000, 50_000, now());
    assert_eq!((s.tickets, s.owners, s.campaigns), (25_000, 40, 50));
    let s = PortalSpec::sized(1, 1, 10, 10, 9, now());
    assert_eq!((s.tickets, s.owners, s.campaigns), (4, 5, 10));
    assert_eq!(PortalSpec::sized(1, 1, 0, 1_000_000, 0, now()).owners, 100);
}

#[test]
fn every_record_has_every_generated_property() {
    let p = demo();
    for ty in ObjectType::BUILT_IN {
        let expected: Vec<&str> = crate::generated_properties(ty).to_vec();
        let custom: Vec<&str> =
            p.custom_properties.iter().filter(|(t, _)| *t == ty).map(|(_, d)| d.name.as_str()).collect();
        for o in p.objects(ty) {
            let built_in = o.properties.keys().map(String::as_str).filter(|k| !custom.contains(k));
            assert!(built_in.eq(expected.iter().copied()), "{ty:?} {}", o.id);
        }
    }
}

/// Every value the generator writes is one HubSpot would take: each name is defined (by HubSpot or as one of the
/// portal's custom properties), each enumeration value is among its options, each number parses.
#[test]
fn every_value_fits_its_definition() {
    let p = demo();
    for ty in ObjectType::BUILT_IN {
        let mut defined = hubspot::default_properties(ty);
        defined.extend(p.custom_properties.iter().filter(|(t, _)| *t == ty).map(|(_, d)| d.clone()));
        let stages: Vec<&str> =
            p.pipelines.iter().flat_map(|x| x.stages.iter().map(|s| s.id.as_str()).chain([x.id.as_str()])).collect();
        let owners: Vec<String> = p.owners.iter().map(|o| o.id.to_string()).collect();
        for name in crate::generated_properties(ty) {
            assert!(defined.iter().any(|d| d.name == *name), "{ty:?} {name} is defined");
        }
        for o in p.objects(ty) {
            for (name, value) in o.properties.iter().filter_map(|(k, v)| Some((k, v.as_deref()?))) {
                let d = defined.iter().find(|d| d.name == *name).unwrap_or_else(|| panic!("{ty:?} {name}"));
                match d.property_type.as_str() {
                    "number" => assert!(value.parse::<f64>().is_ok(), "{ty:?} {name} {value}"),
                    "enumeration" if name == "hubspot_owner_id" => assert!(owners.iter().any(|x| x == value)),
                    "enumeration"
                        if ["pipeline", "dealstage", "hs_pipeline", "hs_pipeline_stage"].contains(&name.as_str()) =>
                    {
                        assert!(stages.contains(&value), "{ty:?} {name} {value}")
                    }
                    "enumeration" | "bool" if name != "hs_merged_object_ids" => {
                        assert!(d.option_label(value).is_some(), "{ty:?} {name} {value} is an option")
                    }
                    _ => {}
                }
            }
        }
    }
    let custom: Vec<&str> = p.custom_properties.iter().map(|(_, d)| d.name.as_str()).collect();
    assert_eq!(custom, ["renewal_date", "tier", "custom_score", "account_health", "forecast_category"]);
    let tiers = p.contacts.iter().filter(|c| prop(c, "tier").is_some()).count();
    assert!((400..800).contains(&tiers), "about 30% of 2,000 contacts have a tier: {tiers}");
}

#[test]
fn timestamps_are_consistent() {
    let p = demo();
    let now = now();
    for ty in ObjectType::BUILT_IN {
        for o in p.objects(ty) {
            assert!(o.created_at <= o.updated_at && o.updated_at <= now, "{ty:?} {}", o.id);
            assert!(o.created_at >= now - Duration::days(731));
            assert_eq!(prop(o, "createdate"), Some(iso(o.created_at).as_str()));
            assert_eq!(prop(o, ty.last_modified_property()), Some(iso(o.updated_at).as_str()));
        }
    }
    let activity = ["notes_last_contacted", "hs_email_last_open_date", "hs_email_last_click_date"];
    for c in &p.contacts {
        for key in activity {
            if let Some(at) = prop(c, key) {
                let at: DateTime<Utc> = at.parse().unwrap();
                assert!(c.created_at <= at && at <= c.updated_at, "{key} of {}", c.id);
            }
        }
    }
}

#[test]
fn every_association_has_both_ends_and_directions() {
    let p = demo();
    let ids: HashSet<(ObjectType, i64)> =
        ObjectType::BUILT_IN.iter().flat_map(|&ty| p.objects(ty).iter().map(move |o| (ty, o.id))).collect();
    let links: HashSet<(ObjectType, i64, ObjectType, i64, i32)> =
        p.associations.iter().map(|a| (a.from_type, a.from_id, a.to_type, a.to_id, a.type_id)).collect();
    assert_eq!(links.len(), p.associations.len(), "no duplicates");
    for a in p.associations.iter().filter(|a| !a.from_type.is_custom() && !a.to_type.is_custom()) {
        assert!(ids.contains(&(a.from_type, a.from_id)) && ids.contains(&(a.to_type, a.to_id)));
        assert_eq!(a.category, "HUBSPOT_DEFINED");
        let kind = AssociationKind::by_type_id(a.type_id).expect("known type id");
        assert_eq!((kind.from, kind.to, kind.primary), (a.from_type, a.to_type, a.primary));
        assert_eq!(a.label.as_deref(), a.primary.then_some("Primary"));
        assert!(links.contains(&(a.to_type, a.to_id, a.from_type, a.from_id, kind.inverse_type_id)));
    }
}

#[test]
fn primary_company_links_come_with_unlabeled_ones() {
    let p = demo();
    let pairs = |type_id| -> HashSet<(i64, i64)> {
        p.associations.iter().filter(|a| a.type_id == type_id).map(|a| (a.from_id, a.to_id)).collect()
    };
    assert_eq!(pairs(1), pairs(279));
    assert_eq!(pairs(2), pairs(280));
    let without = p.contacts.iter().filter(|c| prop(c, "company").is_none()).count();
    assert_eq!(without, 100, "5% of contacts have no company");
    assert_eq!(pairs(1).len(), p.contacts.len() - without);
}

#[test]
fn contacts_work_at_their_company() {
    let p = demo();
    let companies: HashMap<i64, &hubspot::CrmObject> = p.companies.iter().map(|c| (c.id, c)).collect();
    for a in p.associations.iter().filter(|a| a.type_id == 1) {
        let contact = &p.contacts[(a.from_id - 1001) as usize];
        let company = companies[&a.to_id];
        assert_eq!(prop(contact, "company"), prop(company, "name"));
        let domain = prop(company, "domain").unwrap();
        assert!(prop(contact, "email").unwrap().ends_with(&format!("@{domain}")));
    }
}

#[test]
fn emails_and_domains_are_unique() {
    let p = demo();
    let big = generate(&PortalSpec::sized(1, 3, 20_000, 2_000, 100, now()));
    for portal in [&p, &big] {
        let emails: HashSet<&str> = portal.contacts.iter().map(|c| prop(c, "email").unwrap()).collect();
        assert_eq!(emails.len(), portal.contacts.len());
        assert!(emails.iter().all(|e| *e == e.to_lowercase() && e.contains('@')));
        let domains: HashSet<&str> = portal.companies.iter().map(|c| prop(c, "domain").unwrap()).collect();
        assert_eq!(domains.len(), portal.companies.len());
    }
    let owners: HashSet<&str> = p.owners.iter().map(|o| o.email.as_str()).collect();
    assert_eq!(owners.len(), p.owners.len());
}

#[test]
fn deals_match_their_stage() {
    let p = demo();
    let now = now();
    let mut this_month = (0, 0);
    for d in &p.deals {
        let pipeline = p.pipelines.iter().find(|x| Some(x.id.as_str()) == prop(d, "pipeline")).unwrap();
        let stage = pipeline.stage(prop(d, "dealstage").unwrap()).unwrap();
        assert_eq!(prop(d, "hs_is_closed"), Some(stage.is_closed().to_string().as_str()));
        assert_eq!(prop(d, "hs_is_closed_won"), Some(stage.is_won().to_string().as_str()));
        assert_eq!(prop(d, "hs_deal_stage_probability"), stage.probability());
        let amount: u64 = prop(d, "amount").unwrap().parse().unwrap();
        assert!((500..=250_000).contains(&amount));
        assert!(prop(d, "dealname").unwrap().contains(" – "));
        let close: DateTime<Utc> = prop(d, "closedate").unwrap().parse().unwrap();
        if stage.is_closed() {
            assert!(d.created_at <= close && close <= now);
        } else {
            assert!(close > now && close <= now + Duration::days(180));
        }
        if iso(close)[..7] == iso(now)[..7] {
            if stage.is_closed() { this_month.0 += 1 } else { this_month.1 += 1 }
        }
    }
    assert!(this_month.0 > 0 && this_month.1 > 0, "{this_month:?}");
}

#[test]
fn deals_belong_to_a_company_and_its_contacts() {
    let p = demo();
    let primary_company: HashMap<i64, i64> =
        p.associations.iter().filter(|a| a.type_id == 1).map(|a| (a.from_id, a.to_id)).collect();
    let mut per_deal: HashMap<i64, (Vec<i64>, Vec<i64>)> = HashMap::new();
    for a in &p.associations {
        match a.type_id {
            5 => per_deal.entry(a.from_id).or_default().0.push(a.to_id),
            3 => per_deal.entry(a.from_id).or_default().1.push(a.to_id),
            _ => {}
        }
    }
    assert_eq!(per_deal.len(), p.deals.len());
    for (companies, contacts) in per_deal.values() {
        assert_eq!(companies.len(), 1);
        assert!((1..=3).contains(&contacts.len()));
        assert!(contacts.iter().all(|c| primary_company.get(c) == Some(&companies[0])));
    }
}

#[test]
fn company_rollups_match_associations() {
    let p = demo();
    let count = |type_id, id| p.associations.iter().filter(|a| a.type_id == type_id && a.from_id == id).count();
    for c in p.companies.iter().take(50) {
        assert_eq!(prop(c, "num_associated_contacts"), Some(count(2, c.id).to_string().as_str()));
        assert_eq!(prop(c, "num_associated_deals"), Some(count(6, c.id).to_string().as_str()));
    }
}

#[test]
fn tickets_close_in_the_closed_stage() {
    let p = demo();
    for t in &p.tickets {
        assert_eq!(prop(t, "hs_pipeline"), Some("0"));
        let closed = prop(t, "hs_pipeline_stage") == Some("4");
        assert_eq!(prop(t, "closed_date").is_some(), closed);
        assert!(["LOW", "MEDIUM", "HIGH"].contains(&prop(t, "hs_ticket_priority").unwrap()));
    }
    let with_contact: HashSet<i64> = p.associations.iter().filter(|a| a.type_id == 16).map(|a| a.from_id).collect();
    assert_eq!(with_contact.len(), p.tickets.len());
}

#[test]
fn campaign_stats_add_up() {
    let p = demo();
    let ids: HashSet<&str> = p.campaigns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), p.campaigns.len());
    for c in &p.campaigns {
        let s = &c.stats;
        assert!(s.delivered <= s.sent && s.opened <= s.delivered && s.clicked <= s.opened);
        assert_eq!(s.bounced, s.sent - s.delivered);
        assert!(s.unsubscribed <= s.delivered / 100 + 1);
        assert_eq!(c.id.len(), 36);
        assert!(c.id.chars().all(|ch| ch == '-' || matches!(ch, '0'..='9' | 'a'..='f')));
        assert!(["ACTIVE", "COMPLETED", "PLANNED"].contains(&c.status.as_str()));
    }
}

#[test]
fn empty_and_tiny_portals() {
    let empty = generate(&PortalSpec { owners: 0, campaigns: 0, ..PortalSpec::sized(1, 1, 0, 0, 0, now()) });
    assert!(empty.contacts.is_empty() && empty.associations.is_empty());
    let no_companies = generate(&PortalSpec::sized(1, 1, 20, 0, 10, now()));
    assert!(no_companies.contacts.iter().all(|c| prop(c, "company").is_none()));
    let no_contacts = generate(&PortalSpec::sized(1, 1, 0, 10, 10, now()));
    assert_eq!(no_contacts.deals.len(), 10);
}

#[test]
fn machines_are_a_custom_type_linked_with_companies_both_ways() {
    let p = demo();
    let [schema] = p.schemas.as_slice() else { panic!("one custom object type") };
    let machines = crate::machine_type(12345);
    assert_eq!((schema.object_type, schema.fully_qualified_name.as_str()), (machines, "p12345_machines"));
    let records = p.objects(machines);
    let live_companies = p.companies.iter().filter(|c| !c.archived).count();
    assert_eq!(records.len(), live_companies / 2);
    let mut defined = hubspot::default_properties(machines);
    defined.extend(schema.properties.iter().cloned());
    for record in records {
        for name in &schema.required_properties {
            assert!(prop(record, name).is_some(), "{} lacks {name}", record.id);
        }
        for (name, value) in record.properties.iter().filter_map(|(k, v)| Some((k, v.as_deref()?))) {
            let definition = defined.iter().find(|d| &d.name == name).unwrap_or_else(|| panic!("{name} is defined"));
            if definition.property_type == "enumeration" {
                assert!(definition.option_label(value).is_some(), "{name}={value}");
            }
        }
        assert_eq!(prop(record, "hs_object_id"), Some(record.id.to_string().as_str()));
    }
    let companies: HashSet<i64> = p.companies.iter().map(|c| c.id).collect();
    let links: HashSet<(i64, i64, i32)> = p
        .associations
        .iter()
        .filter(|a| a.from_type == machines || a.to_type == machines)
        .map(|a| {
            assert_eq!(a.category, "USER_DEFINED");
            (a.from_id, a.to_id, a.type_id)
        })
        .collect();
    assert_eq!(links.len(), 2 * records.len(), "each machine has one company, both directions");
    let (to_company, from_company) =
        (schema.association_to(ObjectType::Company), schema.association_from(ObjectType::Company));
    for (from, to, type_id) in &links {
        if Some(*type_id) == to_company {
            assert!(companies.contains(to) && links.contains(&(*to, *from, from_company.unwrap())));
        } else {
            assert_eq!(Some(*type_id), from_company);
        }
    }
}
