//! `where` on every list: each operator on fields of every kind (text, int, float, datetime, id, bool), `and`/`or`/
//! `not`, association hops (`some`/`none`), and `search`; each result is the set computed from the generated portal.

use crate::common;

use crate::common::{
    CAMPAIGNS, COMPANIES, CONTACTS, DEALS, List, OWNERS, TICKETS, WILDCARD_FIRST_NAME, assert_bad_argument, associated,
    float, ids_of, ids_where, int, iso, live, node_keys, text, time, walk_forward,
};
use hubspot::{CrmObject, ObjectType, Portal};
use serde_json::{Value, json};
use tests::{Mirror, on_both};

/// The ids a list returns for `args` (`where`, `search`), all pages walked, in default (HubSpot id) order.
async fn returned(mirror: &Mirror, list: &List, args: Value) -> Vec<i64> {
    ids_of(&walk_forward(mirror, list, "hubspotId", &args, 100).await)
}

/// The list returns exactly the live records `keep` selects, and that is some of them but not all (so the filter
/// is seen to act).
async fn assert_filter(
    mirror: &Mirror,
    list: &List,
    object_type: ObjectType,
    args: Value,
    keep: impl Fn(&CrmObject) -> bool,
) {
    let objects = mirror.portal.objects(object_type);
    let expected = ids_where(objects, keep);
    let all = live(objects).count();
    assert!(!expected.is_empty() && expected.len() < all, "{args} should keep some of {all}, keeps {}", expected.len());
    assert_eq!(returned(mirror, list, args.clone()).await, expected, "{} with {args}", list.field);
}

/// Like [`assert_filter`] for filters expected to keep nothing or everything.
async fn assert_filter_exact(
    mirror: &Mirror,
    list: &List,
    object_type: ObjectType,
    args: Value,
    keep: impl Fn(&CrmObject) -> bool,
) {
    let expected = ids_where(mirror.portal.objects(object_type), keep);
    assert_eq!(returned(mirror, list, args.clone()).await, expected, "{} with {args}", list.field);
}

fn lower(v: Option<String>) -> Option<String> {
    v.map(|s| s.to_lowercase())
}

fn has_associated(
    portal: &Portal,
    from: ObjectType,
    id: i64,
    to: ObjectType,
    keep: impl Fn(&CrmObject) -> bool,
) -> bool {
    associated(portal, from, id, to).into_iter().any(|t| keep(common::find(portal.objects(to), t)))
}

on_both!(lists_count_only_live_records, |backend| async move {
    let mirror = common::mirror(backend).await;
    let query = "{ contacts { totalCount } companies { totalCount } deals { totalCount } tickets { totalCount }
                   owners { totalCount } campaigns { totalCount } }";
    let data = mirror.data(query, json!({})).await;
    let p = &mirror.portal;
    for (field, objects) in
        [("contacts", &p.contacts), ("companies", &p.companies), ("deals", &p.deals), ("tickets", &p.tickets)]
    {
        assert!(objects.iter().any(|o| o.archived), "the portal has archived {field}");
        assert_eq!(data[field]["totalCount"], json!(live(objects).count()), "{field}");
    }
    assert_eq!(data["owners"]["totalCount"], json!(p.owners.len()));
    assert_eq!(data["campaigns"]["totalCount"], json!(p.campaigns.len()));
});

on_both!(string_operators_on_contacts, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let sample = live(&m.portal.contacts).nth(10).unwrap();
    let first = text(sample, "firstname").unwrap();
    let last = text(sample, "lastname").unwrap();
    let company = text(sample, "company").unwrap();
    let fragment = company[1..4].to_uppercase();
    let ln = |c: &CrmObject| text(c, "lastname");
    let status = |c: &CrmObject| text(c, "hs_lead_status");

    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"firstName": {"eq": first}}}), |c| {
        text(c, "firstname").as_ref() == Some(&first)
    })
    .await;
    // `ne` and `notIn` keep contacts without a lead status.
    assert!(live(&m.portal.contacts).any(|c| status(c).is_none()), "some contacts have no lead status");
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"leadStatus": {"ne": "NEW"}}}), |c| {
        status(c).as_deref() != Some("NEW")
    })
    .await;
    assert_filter(
        m,
        &CONTACTS,
        ObjectType::Contact,
        json!({"where": {"leadStatus": {"notIn": ["NEW", "OPEN"]}}}),
        |c| !matches!(status(c).as_deref(), Some("NEW" | "OPEN")),
    )
    .await;
    assert_filter(
        m,
        &CONTACTS,
        ObjectType::Contact,
        json!({"where": {"lifecycleStage": {"in": ["lead", "customer"]}}}),
        |c| matches!(text(c, "lifecyclestage").as_deref(), Some("lead" | "customer")),
    )
    .await;
    // `contains` and `startsWith` ignore case.
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"companyName": {"contains": fragment}}}), |c| {
        lower(text(c, "company")).is_some_and(|n| n.contains(&fragment.to_lowercase()))
    })
    .await;
    let initial = last[..1].to_lowercase();
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastName": {"startsWith": initial}}}), |c| {
        lower(ln(c)).is_some_and(|n| n.starts_with(&initial))
    })
    .await;
    // Comparisons are exact and case-sensitive.
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastName": {"lt": last}}}), |c| {
        ln(c).is_some_and(|n| n < last)
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastName": {"lte": last}}}), |c| {
        ln(c).is_some_and(|n| n <= last)
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastName": {"gt": last}}}), |c| {
        ln(c).is_some_and(|n| n > last)
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastName": {"gte": last}}}), |c| {
        ln(c).is_some_and(|n| n >= last)
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastName": {"between": ["C", last]}}}), |c| {
        ln(c).is_some_and(|n| n.as_str() >= "C" && n <= last)
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"companyName": {"isNull": true}}}), |c| {
        text(c, "company").is_none()
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"companyName": {"isNull": false}}}), |c| {
        text(c, "company").is_some()
    })
    .await;
    // `eq` does not ignore case.
    let shouted = text(sample, "email").unwrap().to_uppercase();
    assert_filter_exact(m, &CONTACTS, ObjectType::Contact, json!({"where": {"email": {"eq": shouted}}}), |_| false)
        .await;
    // Several operators on one field all hold.
    assert_filter(
        m,
        &CONTACTS,
        ObjectType::Contact,
        json!({"where": {"lastName": {"gte": "C", "lt": last, "ne": "Davis"}}}),
        |c| ln(c).is_some_and(|n| n.as_str() >= "C" && n < last && n != "Davis"),
    )
    .await;
});

on_both!(string_contains_reads_wildcards_literally, |backend| async move {
    let mirror = common::mirror(backend).await;
    let wildcard = mirror.portal.contacts[3].id;
    for pattern in ["%", "_1", "E_100%"] {
        let args = json!({"where": {"firstName": {"contains": pattern}}});
        assert_eq!(returned(&mirror, &CONTACTS, args).await, [wildcard], "contains {pattern}");
    }
    let args = json!({"where": {"firstName": {"startsWith": "zoe_"}}});
    assert_eq!(returned(&mirror, &CONTACTS, args).await, [wildcard]);
    assert_filter_exact(
        &mirror,
        &CONTACTS,
        ObjectType::Contact,
        json!({"where": {"firstName": {"startsWith": "%"}}}),
        |_| false,
    )
    .await;
    // A backslash (the escape character of the LIKE patterns) is a character like any other.
    let args = json!({"where": {"firstName": {"contains": "\\"}}});
    assert!(returned(&mirror, &CONTACTS, args).await.is_empty());
});

/// What an int operator keeps, for a score.
type IntCheck = Box<dyn Fn(i64) -> bool>;

on_both!(int_operators_on_contacts_and_companies, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let score = |c: &CrmObject| int(c, "hubspotscore");
    let pivot = score(live(&m.portal.contacts).nth(3).unwrap()).unwrap();
    let other = score(live(&m.portal.contacts).nth(4).unwrap()).unwrap();
    let cases: Vec<(Value, IntCheck)> = vec![
        (json!({"eq": pivot}), Box::new(move |s| s == pivot)),
        (json!({"ne": pivot}), Box::new(move |s| s != pivot)),
        (json!({"in": [pivot, other]}), Box::new(move |s| s == pivot || s == other)),
        (json!({"notIn": [pivot, other]}), Box::new(move |s| s != pivot && s != other)),
        (json!({"lt": 30}), Box::new(|s| s < 30)),
        (json!({"lte": 30}), Box::new(|s| s <= 30)),
        (json!({"gt": 30}), Box::new(|s| s > 30)),
        (json!({"gte": 30}), Box::new(|s| s >= 30)),
        (json!({"between": [20, 40]}), Box::new(|s| (20..=40).contains(&s))),
    ];
    for (filter, keep) in cases {
        let args = json!({"where": {"hubspotScore": filter}});
        assert_filter(m, &CONTACTS, ObjectType::Contact, args, |c| score(c).is_some_and(&keep)).await;
    }
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"where": {"numberOfEmployees": {"gt": 100}}}), |c| {
        int(c, "numberofemployees").is_some_and(|n| n > 100)
    })
    .await;
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"where": {"numAssociatedDeals": {"eq": 0}}}), |c| {
        int(c, "num_associated_deals") == Some(0)
    })
    .await;
});

on_both!(float_operators_on_companies_and_deals, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let revenue = |c: &CrmObject| float(c, "annualrevenue");
    let total = |c: &CrmObject| float(c, "total_revenue");
    let pivot = revenue(live(&m.portal.companies).nth(2).unwrap()).unwrap();
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"where": {"annualRevenue": {"gt": pivot}}}), |c| {
        revenue(c).is_some_and(|r| r > pivot)
    })
    .await;
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"where": {"annualRevenue": {"lte": pivot}}}), |c| {
        revenue(c).is_some_and(|r| r <= pivot)
    })
    .await;
    let mut revenues: Vec<f64> = live(&m.portal.companies).filter_map(revenue).collect();
    revenues.sort_by(f64::total_cmp);
    let (low, high) = (revenues[revenues.len() / 4], revenues[revenues.len() * 3 / 4]);
    assert_filter(
        m,
        &COMPANIES,
        ObjectType::Company,
        json!({"where": {"annualRevenue": {"between": [low, high]}}}),
        |c| revenue(c).is_some_and(|r| (low..=high).contains(&r)),
    )
    .await;
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"where": {"totalRevenue": {"isNull": true}}}), |c| {
        total(c).is_none()
    })
    .await;
    let won = total(live(&m.portal.companies).find(|c| total(c).is_some()).unwrap()).unwrap();
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"where": {"totalRevenue": {"ne": won}}}), |c| {
        total(c) != Some(won)
    })
    .await;
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"where": {"totalRevenue": {"gte": won}}}), |c| {
        total(c).is_some_and(|t| t >= won)
    })
    .await;

    let amount = |d: &CrmObject| float(d, "amount");
    let (a, b) = (amount(&m.portal.deals[0]).unwrap(), amount(&m.portal.deals[1]).unwrap());
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"amount": {"eq": a}}}), |d| amount(d) == Some(a)).await;
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"amount": {"in": [a, b]}}}), |d| {
        amount(d) == Some(a) || amount(d) == Some(b)
    })
    .await;
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"amount": {"notIn": [a, b]}}}), |d| {
        amount(d) != Some(a) && amount(d) != Some(b)
    })
    .await;
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"amount": {"lt": 5000.5}}}), |d| {
        amount(d).is_some_and(|x| x < 5000.5)
    })
    .await;
    let probability = |d: &CrmObject| float(d, "hs_deal_stage_probability");
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"probability": {"eq": 0.2}}}), |d| {
        probability(d) == Some(0.2)
    })
    .await;
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"probability": {"gt": 0.0, "lt": 1.0}}}), |d| {
        probability(d).is_some_and(|p| p > 0.0 && p < 1.0)
    })
    .await;
});

on_both!(datetime_operators_on_contacts_deals_and_tickets, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let mut created: Vec<_> = live(&m.portal.contacts).map(|c| c.created_at).collect();
    created.sort();
    let (early, late) = (created[created.len() / 4], created[created.len() * 3 / 4]);
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"createdAt": {"lt": iso(early)}}}), |c| {
        c.created_at < early
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"createdAt": {"lte": iso(early)}}}), |c| {
        c.created_at <= early
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"createdAt": {"gte": iso(late)}}}), |c| {
        c.created_at >= late
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"createdAt": {"gt": iso(late)}}}), |c| {
        c.created_at > late
    })
    .await;
    assert_filter(
        m,
        &CONTACTS,
        ObjectType::Contact,
        json!({"where": {"createdAt": {"between": [iso(early), iso(late)]}}}),
        |c| early <= c.created_at && c.created_at <= late,
    )
    .await;
    // An offset other than Z names the same instant.
    let offset = early.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap()).to_rfc3339();
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"createdAt": {"lt": offset}}}), |c| {
        c.created_at < early
    })
    .await;

    let contacted = |c: &CrmObject| time(c, "notes_last_contacted");
    let pivot = live(&m.portal.contacts).find_map(contacted).unwrap();
    let other = live(&m.portal.contacts).filter_map(contacted).nth(5).unwrap();
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastContactedAt": {"eq": iso(pivot)}}}), |c| {
        contacted(c) == Some(pivot)
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastContactedAt": {"ne": iso(pivot)}}}), |c| {
        contacted(c) != Some(pivot)
    })
    .await;
    assert_filter(
        m,
        &CONTACTS,
        ObjectType::Contact,
        json!({"where": {"lastContactedAt": {"in": [iso(pivot), iso(other)]}}}),
        |c| contacted(c) == Some(pivot) || contacted(c) == Some(other),
    )
    .await;
    assert_filter(
        m,
        &CONTACTS,
        ObjectType::Contact,
        json!({"where": {"lastContactedAt": {"notIn": [iso(pivot), iso(other)]}}}),
        |c| contacted(c) != Some(pivot) && contacted(c) != Some(other),
    )
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"lastContactedAt": {"isNull": true}}}), |c| {
        contacted(c).is_none()
    })
    .await;

    let close = |d: &CrmObject| time(d, "closedate");
    let now = tests::fixed_now();
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"closeDate": {"gt": iso(now)}}}), |d| {
        close(d).is_some_and(|t| t > now)
    })
    .await;
    let closed = |t: &CrmObject| time(t, "closed_date");
    assert_filter(m, &TICKETS, ObjectType::Ticket, json!({"where": {"closedAt": {"isNull": false}}}), |t| {
        closed(t).is_some()
    })
    .await;
    assert_filter(m, &TICKETS, ObjectType::Ticket, json!({"where": {"closedAt": {"lt": iso(early)}}}), |t| {
        closed(t).is_some_and(|c| c < early)
    })
    .await;
});

on_both!(id_operators_on_owners_and_hubspot_ids, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let owner = |o: &CrmObject| int(o, "hubspot_owner_id");
    let (a, b) = (m.portal.owners[0].id, m.portal.owners[1].id);
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"ownerId": {"eq": a.to_string()}}}), |c| {
        owner(c) == Some(a)
    })
    .await;
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"where": {"ownerId": {"ne": a.to_string()}}}), |c| {
        owner(c) != Some(a)
    })
    .await;
    assert_filter(
        m,
        &COMPANIES,
        ObjectType::Company,
        json!({"where": {"ownerId": {"in": [a.to_string(), b.to_string()]}}}),
        |c| owner(c) == Some(a) || owner(c) == Some(b),
    )
    .await;
    assert_filter(
        m,
        &DEALS,
        ObjectType::Deal,
        json!({"where": {"ownerId": {"notIn": [a.to_string(), b.to_string()]}}}),
        |d| owner(d) != Some(a) && owner(d) != Some(b),
    )
    .await;
    assert_filter_exact(m, &TICKETS, ObjectType::Ticket, json!({"where": {"ownerId": {"isNull": false}}}), |t| {
        owner(t).is_some()
    })
    .await;
    let picked: Vec<i64> = live(&m.portal.tickets).step_by(7).map(|t| t.id).collect();
    let ids: Vec<String> = picked.iter().map(i64::to_string).collect();
    assert_filter(m, &TICKETS, ObjectType::Ticket, json!({"where": {"hubspotId": {"in": ids}}}), |t| {
        picked.contains(&t.id)
    })
    .await;
    let archived = m.portal.tickets.iter().find(|t| t.archived).unwrap().id;
    let args = json!({"where": {"hubspotId": {"eq": archived.to_string()}}});
    assert!(returned(m, &TICKETS, args).await.is_empty(), "an archived ticket is not listed even by id");

    let error = m.error("{ contacts(where: {ownerId: {eq: \"abc\"}}) { totalCount } }", json!({})).await;
    assert_bad_argument(&error, "where.ownerId");
});

on_both!(bool_operators_on_deals, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    for value in [true, false] {
        assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"isClosed": {"eq": value}}}), |d| {
            common::flag(d, "hs_is_closed") == Some(value)
        })
        .await;
        assert_filter(m, &DEALS, ObjectType::Deal, json!({"where": {"isClosedWon": {"eq": value}}}), |d| {
            common::flag(d, "hs_is_closed_won") == Some(value)
        })
        .await;
    }
    assert_filter_exact(m, &DEALS, ObjectType::Deal, json!({"where": {"isClosed": {"isNull": true}}}), |_| false).await;
    assert_filter(
        m,
        &DEALS,
        ObjectType::Deal,
        json!({"where": {"isClosed": {"eq": true}, "isClosedWon": {"eq": false}}}),
        |d| common::flag(d, "hs_is_closed") == Some(true) && common::flag(d, "hs_is_closed_won") == Some(false),
    )
    .await;
});

on_both!(and_or_not_combine_filters, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let stage = |c: &CrmObject| text(c, "lifecyclestage");
    let score = |c: &CrmObject| int(c, "hubspotscore").unwrap();
    let country = text(live(&m.portal.contacts).next().unwrap(), "country").unwrap();
    let status = |c: &CrmObject| text(c, "hs_lead_status");

    let or = json!({"where": {"or": [{"lifecycleStage": {"eq": "customer"}}, {"hubspotScore": {"gte": 80}}]}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, or, |c| stage(c).as_deref() == Some("customer") || score(c) >= 80)
        .await;
    let and = json!({"where": {"and": [{"country": {"eq": country}}, {"hubspotScore": {"lt": 50}}]}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, and, |c| {
        text(c, "country").as_ref() == Some(&country) && score(c) < 50
    })
    .await;
    // `not` is the complement: a contact without a lead status is not one whose status is NEW.
    let not = json!({"where": {"not": {"leadStatus": {"eq": "NEW"}}}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, not, |c| status(c).as_deref() != Some("NEW")).await;
    let not_in = json!({"where": {"not": {"leadStatus": {"in": ["NEW", "OPEN"]}}}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, not_in, |c| !matches!(status(c).as_deref(), Some("NEW" | "OPEN")))
        .await;
    let nested = json!({"where": {
        "country": {"eq": country},
        "or": [
            {"and": [{"lifecycleStage": {"in": ["lead", "subscriber"]}}, {"hubspotScore": {"gte": 20}}]},
            {"not": {"or": [{"hubspotScore": {"gte": 10}}, {"lifecycleStage": {"eq": "customer"}}]}}
        ]
    }});
    assert_filter(m, &CONTACTS, ObjectType::Contact, nested, |c| {
        let s = stage(c);
        text(c, "country").as_ref() == Some(&country)
            && ((matches!(s.as_deref(), Some("lead" | "subscriber")) && score(c) >= 20)
                || !(score(c) >= 10 || s.as_deref() == Some("customer")))
    })
    .await;
    // An empty `and` list adds no condition.
    assert_filter_exact(m, &CONTACTS, ObjectType::Contact, json!({"where": {"and": []}}), |_| true).await;
});

on_both!(association_filters_follow_live_links, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let p = &m.portal;
    let industry = text(live(&p.companies).next().unwrap(), "industry").unwrap();
    let in_industry = |c: &CrmObject| text(c, "industry").as_ref() == Some(&industry);

    let args = json!({"where": {"companies": {"some": {"industry": {"eq": industry}}}}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, args, |c| {
        has_associated(p, ObjectType::Contact, c.id, ObjectType::Company, in_industry)
    })
    .await;
    // Without any live company: no company at all, or only an archived one.
    let args = json!({"where": {"companies": {"none": {}}}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, args, |c| {
        associated(p, ObjectType::Contact, c.id, ObjectType::Company).is_empty()
    })
    .await;
    let won = |d: &CrmObject| text(d, "dealstage").as_deref() == Some("closedwon");
    let args = json!({"where": {"deals": {"some": {"stageId": {"eq": "closedwon"}}}}});
    assert_filter(m, &COMPANIES, ObjectType::Company, args, |c| {
        has_associated(p, ObjectType::Company, c.id, ObjectType::Deal, won)
    })
    .await;
    let args = json!({"where": {"deals": {"none": {}}}});
    assert_filter(m, &COMPANIES, ObjectType::Company, args, |c| {
        associated(p, ObjectType::Company, c.id, ObjectType::Deal).is_empty()
    })
    .await;
    let new_lead = |c: &CrmObject| text(c, "hs_lead_status").as_deref() == Some("NEW");
    let args = json!({"where": {"contacts": {"none": {"leadStatus": {"eq": "NEW"}}}}});
    assert_filter(m, &COMPANIES, ObjectType::Company, args, |c| {
        !has_associated(p, ObjectType::Company, c.id, ObjectType::Contact, new_lead)
    })
    .await;
    let customer = |c: &CrmObject| text(c, "lifecyclestage").as_deref() == Some("customer");
    let args =
        json!({"where": {"contacts": {"some": {"lifecycleStage": {"eq": "customer"}}}, "isClosed": {"eq": false}}});
    assert_filter(m, &DEALS, ObjectType::Deal, args, |d| {
        common::flag(d, "hs_is_closed") == Some(false)
            && has_associated(p, ObjectType::Deal, d.id, ObjectType::Contact, customer)
    })
    .await;
    let args = json!({"where": {"companies": {"some": {"industry": {"eq": industry}}}}});
    assert_filter(m, &TICKETS, ObjectType::Ticket, args, |t| {
        has_associated(p, ObjectType::Ticket, t.id, ObjectType::Company, in_industry)
    })
    .await;
    let high = |t: &CrmObject| text(t, "hs_ticket_priority").as_deref() == Some("HIGH");
    let args = json!({"where": {"tickets": {"some": {"priority": {"eq": "HIGH"}}}}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, args, |c| {
        has_associated(p, ObjectType::Contact, c.id, ObjectType::Ticket, high)
    })
    .await;
    // Two hops: contacts at a company that won a deal.
    let args = json!({"where": {"companies": {"some": {"deals": {"some": {"stageId": {"eq": "closedwon"}}}}}}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, args, |c| {
        has_associated(p, ObjectType::Contact, c.id, ObjectType::Company, |co| {
            has_associated(p, ObjectType::Company, co.id, ObjectType::Deal, won)
        })
    })
    .await;
    // `not` around a hop.
    let args = json!({"where": {"not": {"deals": {"some": {}}}}});
    assert_filter(m, &CONTACTS, ObjectType::Contact, args, |c| {
        associated(p, ObjectType::Contact, c.id, ObjectType::Deal).is_empty()
    })
    .await;

    let deep = "{ contacts(where: {companies: {some: {deals: {some: {contacts: {some: {companies: {some: {}}}}}}}}}) {
                   totalCount } }";
    assert_bad_argument(&m.error(deep, json!({})).await, "where");
});

/// What `search` looks in for a contact: names, email, company and phone, lower-cased.
fn contact_search_text(c: &CrmObject) -> String {
    ["firstname", "lastname", "email", "company", "phone"]
        .iter()
        .filter_map(|p| lower(text(c, p)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn matches_words(haystack: &str, search: &str) -> bool {
    search.split_whitespace().all(|w| haystack.contains(&w.to_lowercase()))
}

on_both!(search_matches_every_word_ignoring_case, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let sample = live(&m.portal.contacts).nth(20).unwrap();
    let last = text(sample, "lastname").unwrap();
    let first = text(sample, "firstname").unwrap();
    for search in
        [last.to_uppercase(), format!("{first} {last}"), format!("  {}   {} ", last.to_lowercase(), &first[..2])]
    {
        assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"search": search}), |c| {
            matches_words(&contact_search_text(c), &search)
        })
        .await;
    }
    // The email domain and phone are searched too.
    let email = text(sample, "email").unwrap();
    let domain = email.split('@').nth(1).unwrap().to_owned();
    assert_filter(m, &CONTACTS, ObjectType::Contact, json!({"search": domain}), |c| {
        matches_words(&contact_search_text(c), &domain)
    })
    .await;
    let phone_part = text(sample, "phone").unwrap().rsplit(' ').next().unwrap().to_owned();
    assert_filter_exact(m, &CONTACTS, ObjectType::Contact, json!({"search": phone_part}), |c| {
        matches_words(&contact_search_text(c), &phone_part)
    })
    .await;
    // With `where`, both hold.
    let args = json!({"search": last, "where": {"hubspotScore": {"lt": 50}}});
    assert_filter_exact(m, &CONTACTS, ObjectType::Contact, args, |c| {
        matches_words(&contact_search_text(c), &last) && int(c, "hubspotscore").unwrap() < 50
    })
    .await;
    assert_filter_exact(m, &CONTACTS, ObjectType::Contact, json!({"search": "   "}), |_| true).await;
    assert_filter_exact(m, &CONTACTS, ObjectType::Contact, json!({"search": "qqqzzzxxx"}), |_| false).await;
    let error =
        m.error("query($s: String) { contacts(search: $s) { totalCount } }", json!({"s": "a".repeat(201)})).await;
    assert_bad_argument(&error, "search");
});

on_both!(search_reads_percent_and_underscore_literally, |backend| async move {
    let mirror = common::mirror(backend).await;
    let wildcard = mirror.portal.contacts[3].id;
    assert_eq!(text(&mirror.portal.contacts[3], "firstname").as_deref(), Some(WILDCARD_FIRST_NAME));
    for search in ["%", "_1", "100%", "ZOE_"] {
        assert_eq!(returned(&mirror, &CONTACTS, json!({"search": search})).await, [wildcard], "search {search}");
    }
    assert!(returned(&mirror, &COMPANIES, json!({"search": "%"})).await.is_empty());
});

on_both!(search_on_companies_deals_and_tickets, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let p = &m.portal;
    let company_text = |c: &CrmObject| {
        [lower(text(c, "name")), lower(text(c, "domain"))].into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    let name = text(live(&p.companies).nth(4).unwrap(), "name").unwrap();
    let word = name.split(' ').next().unwrap().to_uppercase();
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"search": word}), |c| {
        matches_words(&company_text(c), &word)
    })
    .await;
    let domain = text(live(&p.companies).nth(4).unwrap(), "domain").unwrap();
    assert_filter(m, &COMPANIES, ObjectType::Company, json!({"search": domain}), |c| {
        matches_words(&company_text(c), &domain)
    })
    .await;

    let deal_text = |d: &CrmObject| lower(text(d, "dealname")).unwrap_or_default();
    assert_filter(m, &DEALS, ObjectType::Deal, json!({"search": "Renewal"}), |d| {
        matches_words(&deal_text(d), "renewal")
    })
    .await;
    let subject = text(live(&p.tickets).next().unwrap(), "subject").unwrap();
    let word = subject.split(' ').find(|w| w.len() > 4).unwrap().to_lowercase();
    assert_filter(m, &TICKETS, ObjectType::Ticket, json!({"search": word}), |t| {
        matches_words(&lower(text(t, "subject")).unwrap_or_default(), &word)
    })
    .await;
});

on_both!(owners_and_campaigns_filter_and_search, |backend| async move {
    let mirror = common::mirror(backend).await;
    let m = &mirror;
    let p = &m.portal;
    let keys = |args: Value, list: &'static List| async move {
        node_keys(&m.data(&list.query("hubspotId"), args).await[list.field])
    };

    let owner = &p.owners[2];
    let expected: Vec<String> = p
        .owners
        .iter()
        .filter(|o| o.email.contains(&owner.last_name.to_lowercase()))
        .map(|o| o.id.to_string())
        .collect();
    let args = json!({"where": {"email": {"contains": owner.last_name.to_uppercase()}}});
    assert_eq!(keys(args, &OWNERS).await, expected);
    let expected: Vec<String> = p
        .owners
        .iter()
        .filter(|o| {
            format!("{} {} {}", o.email, o.first_name, o.last_name)
                .to_lowercase()
                .contains(&owner.first_name.to_lowercase())
        })
        .map(|o| o.id.to_string())
        .collect();
    assert_eq!(keys(json!({"search": owner.first_name.to_uppercase()}), &OWNERS).await, expected);
    let args = json!({"where": {"not": {"hubspotId": {"eq": owner.id.to_string()}}}});
    assert_eq!(keys(args, &OWNERS).await.len(), p.owners.len() - 1);

    let mut campaigns = p.campaigns.clone();
    campaigns.sort_by(|a, b| a.id.cmp(&b.id));
    let ids = |keep: &dyn Fn(&hubspot::Campaign) -> bool| -> Vec<String> {
        campaigns.iter().filter(|c| keep(c)).map(|c| c.id.clone()).collect()
    };
    let args = json!({"where": {"status": {"eq": "COMPLETED"}, "sent": {"gt": 2000}}});
    let expected = ids(&|c| c.status == "COMPLETED" && c.stats.sent > 2000);
    assert!(!expected.is_empty() && expected.len() < campaigns.len());
    assert_eq!(keys(args, &CAMPAIGNS).await, expected);
    let args = json!({"where": {"or": [{"opened": {"lt": 1000}}, {"clicked": {"gte": 500}}]}});
    assert_eq!(keys(args, &CAMPAIGNS).await, ids(&|c| c.stats.opened < 1000 || c.stats.clicked >= 500));
    let target = &campaigns[3];
    let args = json!({"where": {"hubspotId": {"eq": target.id}}});
    assert_eq!(keys(args, &CAMPAIGNS).await, vec![target.id.clone()]);
    let theme = target.name.split(' ').next().unwrap().to_owned();
    let expected = ids(&|c| c.name.to_lowercase().contains(&theme.to_lowercase()));
    assert_eq!(keys(json!({"search": theme.to_uppercase()}), &CAMPAIGNS).await, expected);
    let cutoff = target.created_at;
    let args = json!({"where": {"createdAt": {"lte": iso(cutoff)}}});
    assert_eq!(keys(args, &CAMPAIGNS).await, ids(&|c| c.created_at <= cutoff));
});

// Errors name the field by its path in the arguments: `where.<field>`.
on_both!(malformed_filters_name_their_field, |backend| async move {
    let mirror = common::mirror(backend).await;
    let error = mirror.error("{ contacts(where: {hubspotScore: {between: [1]}}) { totalCount } }", json!({})).await;
    assert_bad_argument(&error, "where.hubspotScore");
    let error = mirror.error("{ deals(where: {closeDate: {between: []}}) { totalCount } }", json!({})).await;
    assert_bad_argument(&error, "where.closeDate");
    let error =
        mirror.error("{ companies(where: {name: {between: [\"a\", \"b\", \"c\"]}}) { totalCount } }", json!({})).await;
    assert_bad_argument(&error, "where.name");
    let error = mirror.error("{ tickets(where: {hubspotId: {in: [\"1\", \"x\"]}}) { totalCount } }", json!({})).await;
    assert_bad_argument(&error, "where.hubspotId");
});
