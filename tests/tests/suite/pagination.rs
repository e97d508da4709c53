//! `orderBy` and keyset paging: walking a whole list forward (`first`/`after`) or backward (`last`/`before`) yields
//! exactly the order computed from the generated portal, nulls last in both directions and ties broken by HubSpot
//! id; cursors jump into the middle of a list; bad page arguments are refused naming the argument.

use crate::common;

use crate::common::{
    CAMPAIGNS, COMPANIES, CONTACTS, DEALS, Kind, List, OWNERS, SortKey, TICKETS, asc, assert_bad_argument, desc,
    ids_of, node_keys, order_by, sorted_ids, value, walk_backward, walk_forward, with,
};
use hubspot::{CrmObject, ObjectType};
use serde_json::{Value, json};
use tests::{Mirror, on_both};

/// The live records in the order `keys` give, kept by `keep`.
fn expected_order(objects: &[CrmObject], keys: &[SortKey], keep: impl Fn(&CrmObject) -> bool) -> Vec<i64> {
    sorted_ids(objects, keys).into_iter().filter(|id| keep(common::find(objects, *id))).collect()
}

/// Walks the list sorted by `keys` (and filtered by `where`) forward and backward with odd page sizes; both walks
/// give `expected`.
async fn assert_walks(mirror: &Mirror, list: &List, keys: &[SortKey], filter: Value, expected: &[i64]) {
    let args = json!({ "orderBy": order_by(keys), "where": filter });
    let forward = ids_of(&walk_forward(mirror, list, "hubspotId", &args, 23).await);
    assert_eq!(forward, expected, "{} forward by {keys:?}", list.field);
    let backward = ids_of(&walk_backward(mirror, list, "hubspotId", &args, 17).await);
    assert_eq!(backward, expected, "{} backward by {keys:?}", list.field);
}

/// [`assert_walks`] over every live record of a type.
async fn assert_order(mirror: &Mirror, list: &List, object_type: ObjectType, keys: &[SortKey]) {
    let expected = sorted_ids(mirror.portal.objects(object_type), keys);
    assert_walks(mirror, list, keys, Value::Null, &expected).await;
}

/// For a nullable first key: the data has both nulls and values, and the expected order puts the nulls last.
fn assert_nulls_last(objects: &[CrmObject], key: SortKey, order: &[i64]) {
    let is_null = |id: &i64| value(common::find(objects, *id), key.property, key.kind).is_none();
    let nulls = order.iter().filter(|id| is_null(id)).count();
    assert!(nulls > 0 && nulls < order.len(), "{} has nulls and values ({nulls} of {})", key.field, order.len());
    assert!(order[order.len() - nulls..].iter().all(is_null), "nulls last by {key:?}");
}

const LAST_NAME: SortKey = asc("LAST_NAME", "lastname", Kind::Text);
const LEAD_STATUS: SortKey = asc("LEAD_STATUS", "hs_lead_status", Kind::Text);
const LAST_CONTACTED: SortKey = asc("LAST_CONTACTED_AT", "notes_last_contacted", Kind::Time);
const TOTAL_REVENUE: SortKey = asc("TOTAL_REVENUE", "total_revenue", Kind::Float);
const NOTES_UPDATED: SortKey = asc("NOTES_LAST_UPDATED_AT", "notes_last_updated", Kind::Time);
const CLOSED_AT: SortKey = asc("CLOSED_AT", "closed_date", Kind::Time);

fn reversed(key: SortKey) -> SortKey {
    SortKey { desc: !key.desc, ..key }
}

on_both!(contacts_walk_in_every_order_both_ways, |backend| async move {
    let mirror = common::mirror(backend).await;
    let orders: Vec<Vec<SortKey>> = vec![
        vec![LAST_NAME, desc("FIRST_NAME", "firstname", Kind::Text)],
        vec![desc("HUBSPOT_SCORE", "hubspotscore", Kind::Int)],
        vec![desc("HUBSPOT_ID", "@id", Kind::Int)],
        vec![
            asc("COUNTRY", "country", Kind::Text),
            desc("HUBSPOT_SCORE", "hubspotscore", Kind::Int),
            asc("CREATED_AT", "@created", Kind::Time),
        ],
        vec![desc("EMAIL", "email", Kind::Text)],
        vec![asc("NUM_NOTES", "num_notes", Kind::Int), desc("UPDATED_AT", "@updated", Kind::Time)],
        vec![desc("COMPANY_NAME", "company", Kind::Text), asc("CITY", "city", Kind::Text)],
    ];
    for keys in &orders {
        assert_order(&mirror, &CONTACTS, ObjectType::Contact, keys).await;
    }
});

on_both!(nullable_keys_sort_nulls_last_in_both_directions, |backend| async move {
    let mirror = common::mirror(backend).await;
    let cases = [
        (&CONTACTS, ObjectType::Contact, LEAD_STATUS),
        (&CONTACTS, ObjectType::Contact, LAST_CONTACTED),
        (&COMPANIES, ObjectType::Company, TOTAL_REVENUE),
        (&COMPANIES, ObjectType::Company, NOTES_UPDATED),
        (&TICKETS, ObjectType::Ticket, CLOSED_AT),
    ];
    for (list, object_type, key) in cases {
        for key in [key, reversed(key)] {
            let objects = mirror.portal.objects(object_type);
            let expected = sorted_ids(objects, &[key]);
            assert_nulls_last(objects, key, &expected);
            assert_walks(&mirror, list, &[key], Value::Null, &expected).await;
        }
    }
    // A nullable key before another: ties among nulls follow the second key.
    let keys = [reversed(LEAD_STATUS), desc("HUBSPOT_SCORE", "hubspotscore", Kind::Int)];
    assert_order(&mirror, &CONTACTS, ObjectType::Contact, &keys).await;
});

on_both!(companies_deals_and_tickets_walk_in_several_orders, |backend| async move {
    let mirror = common::mirror(backend).await;
    let companies: Vec<Vec<SortKey>> = vec![
        vec![desc("ANNUAL_REVENUE", "annualrevenue", Kind::Float)],
        vec![asc("NAME", "name", Kind::Text)],
        vec![desc("NUM_ASSOCIATED_DEALS", "num_associated_deals", Kind::Int), asc("NAME", "name", Kind::Text)],
        vec![asc("INDUSTRY", "industry", Kind::Text), desc("NUMBER_OF_EMPLOYEES", "numberofemployees", Kind::Int)],
    ];
    for keys in &companies {
        assert_order(&mirror, &COMPANIES, ObjectType::Company, keys).await;
    }
    let deals: Vec<Vec<SortKey>> = vec![
        vec![desc("AMOUNT", "amount", Kind::Float), asc("CLOSE_DATE", "closedate", Kind::Time)],
        vec![asc("STAGE_ID", "dealstage", Kind::Text)],
        vec![desc("PROBABILITY", "hs_deal_stage_probability", Kind::Float)],
        vec![asc("PIPELINE_ID", "pipeline", Kind::Text), desc("NAME", "dealname", Kind::Text)],
    ];
    for keys in &deals {
        assert_order(&mirror, &DEALS, ObjectType::Deal, keys).await;
    }
    let tickets = [desc("PRIORITY", "hs_ticket_priority", Kind::Text), desc("CREATED_AT", "@created", Kind::Time)];
    assert_order(&mirror, &TICKETS, ObjectType::Ticket, &tickets).await;
    let tickets = [asc("STAGE_ID", "hs_pipeline_stage", Kind::Text), asc("SUBJECT", "subject", Kind::Text)];
    assert_order(&mirror, &TICKETS, ObjectType::Ticket, &tickets).await;
});

on_both!(a_filtered_list_walks_in_order, |backend| async move {
    let mirror = common::mirror(backend).await;
    let keys = [reversed(LAST_CONTACTED), LAST_NAME];
    let filter = json!({ "lifecycleStage": { "in": ["lead", "customer", "opportunity"] } });
    let keep = |c: &CrmObject| {
        matches!(common::text(c, "lifecyclestage").as_deref(), Some("lead" | "customer" | "opportunity"))
    };
    let expected = expected_order(&mirror.portal.contacts, &keys, keep);
    assert_walks(&mirror, &CONTACTS, &keys, filter, &expected).await;
});

on_both!(owners_and_campaigns_walk_in_order, |backend| async move {
    let mirror = common::mirror(backend).await;
    let walk = |list: &'static List, keys: Value| {
        let mirror = &mirror;
        async move {
            let args = json!({ "orderBy": keys });
            let forward = walk_forward(mirror, list, "hubspotId", &args, 3).await;
            let backward = walk_backward(mirror, list, "hubspotId", &args, 4).await;
            assert_eq!(forward, backward, "{} forward and backward agree", list.field);
            forward.iter().map(|n| n["hubspotId"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    let mut owners = mirror.portal.owners.clone();
    owners.sort_by(|a, b| b.email.cmp(&a.email));
    let expected: Vec<String> = owners.iter().map(|o| o.id.to_string()).collect();
    assert_eq!(walk(&OWNERS, json!([{ "field": "EMAIL", "direction": "DESC" }])).await, expected);

    let mut campaigns = mirror.portal.campaigns.clone();
    // Planned campaigns have sent nothing: their ties fall back to the id.
    campaigns.sort_by(|a, b| b.stats.sent.cmp(&a.stats.sent).then_with(|| a.id.cmp(&b.id)));
    assert!(campaigns.iter().filter(|c| c.stats.sent == 0).count() > 1, "some campaigns tie on sent");
    let expected: Vec<String> = campaigns.iter().map(|c| c.id.clone()).collect();
    assert_eq!(walk(&CAMPAIGNS, json!([{ "field": "SENT", "direction": "DESC" }])).await, expected);
    campaigns.sort_by(|a, b| a.name.cmp(&b.name));
    let expected: Vec<String> = campaigns.iter().map(|c| c.id.clone()).collect();
    assert_eq!(walk(&CAMPAIGNS, json!([{ "field": "NAME" }])).await, expected);
});

/// Every edge of a list in one order: its cursor and the node's HubSpot id.
async fn edges(mirror: &Mirror, list: &List, args: &Value) -> Vec<(String, i64)> {
    let query = list.query("hubspotId");
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = mirror.data(&query, with(args, json!({ "first": 100, "after": after }))).await;
        let conn = &data[list.field];
        let cursors = conn["edges"].as_array().unwrap().iter().map(|e| e["cursor"].as_str().unwrap().to_owned());
        out.extend(cursors.zip(common::node_ids(conn)));
        if conn["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = out.last().map(|e| e.0.clone());
    }
}

on_both!(cursors_jump_into_the_middle_in_either_direction, |backend| async move {
    let mirror = common::mirror(backend).await;
    for keys in [
        vec![reversed(LAST_CONTACTED)],
        vec![LEAD_STATUS, LAST_NAME],
        vec![desc("HUBSPOT_SCORE", "hubspotscore", Kind::Int)],
    ] {
        let args = json!({ "orderBy": order_by(&keys) });
        let all = edges(&mirror, &CONTACTS, &args).await;
        let ids: Vec<i64> = all.iter().map(|e| e.1).collect();
        assert_eq!(ids, sorted_ids(&mirror.portal.contacts, &keys));
        // Positions in the valued part, at the boundary with the nulls, and among them.
        let first_null = ids
            .iter()
            .position(|id| value(common::find(&mirror.portal.contacts, *id), keys[0].property, keys[0].kind).is_none());
        let mut positions = vec![0, 1, 57, ids.len() - 2, ids.len() - 1];
        if let Some(n) = first_null {
            positions.extend([n - 1, n, n + 1]);
        }
        for i in positions {
            let cursor = &all[i].0;
            let after =
                mirror.data(&CONTACTS.query("hubspotId"), with(&args, json!({ "first": 5, "after": cursor }))).await;
            assert_eq!(
                common::node_ids(&after["contacts"]),
                ids[i + 1..(i + 6).min(ids.len())],
                "5 after #{i} by {keys:?}"
            );
            let before =
                mirror.data(&CONTACTS.query("hubspotId"), with(&args, json!({ "last": 5, "before": cursor }))).await;
            assert_eq!(common::node_ids(&before["contacts"]), ids[i.saturating_sub(5)..i], "5 before #{i} by {keys:?}");
            assert_eq!(before["contacts"]["pageInfo"]["hasPreviousPage"], json!(i > 5));
            assert_eq!(after["contacts"]["pageInfo"]["hasNextPage"], json!(i + 6 < ids.len()));
        }
    }
});

on_both!(page_sizes_default_to_and_stop_at_a_hundred, |backend| async move {
    let mirror = common::mirror(backend).await;
    let live = common::live(&mirror.portal.contacts).count();
    assert!(live > 100);
    let query = CONTACTS.query("hubspotId");
    let default = mirror.data(&query, json!({})).await;
    assert_eq!(node_keys(&default["contacts"]).len(), 100, "first defaults to 100");
    assert_eq!(default["contacts"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(default["contacts"]["totalCount"], json!(live));
    let hundred = mirror.data(&query, json!({ "first": 100 })).await;
    assert_eq!(hundred, default);
    let last = mirror.data(&query, json!({ "last": 100 })).await;
    let tail = sorted_ids(&mirror.portal.contacts, &[]);
    assert_eq!(common::node_ids(&last["contacts"]), tail[live - 100..]);
    let none = mirror.data(&query, json!({ "first": 0 })).await;
    assert!(node_keys(&none["contacts"]).is_empty());
    assert_eq!(none["contacts"]["pageInfo"]["hasNextPage"], true);

    assert_bad_argument(&mirror.error(&query, json!({ "first": 101 })).await, "first");
    assert_bad_argument(&mirror.error(&query, json!({ "first": -1 })).await, "first");
    assert_bad_argument(&mirror.error(&query, json!({ "last": 101 })).await, "last");
    let both = mirror.error(&query, json!({ "first": 5, "last": 5 })).await;
    assert_eq!(both["extensions"]["code"], "BAD_USER_INPUT", "{both}");
    assert!(["first", "last"].contains(&both["extensions"]["argument"].as_str().unwrap()), "{both}");
});

on_both!(cursors_are_refused_where_they_do_not_belong, |backend| async move {
    let mirror = common::mirror(backend).await;
    let query = CONTACTS.query("hubspotId");
    let by_name = json!({ "orderBy": order_by(&[LAST_NAME]) });
    let page = mirror.data(&query, with(&by_name, json!({ "first": 3 }))).await;
    let cursor = page["contacts"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();

    // The same order takes it; another order, or none, refuses it naming the argument.
    mirror.data(&query, with(&by_name, json!({ "first": 3, "after": cursor }))).await;
    let by_email = json!({ "orderBy": order_by(&[asc("EMAIL", "email", Kind::Text)]) });
    let error = mirror.error(&query, with(&by_email, json!({ "first": 3, "after": cursor }))).await;
    assert_bad_argument(&error, "after");
    let by_name_desc = json!({ "orderBy": order_by(&[reversed(LAST_NAME)]) });
    assert_bad_argument(&mirror.error(&query, with(&by_name_desc, json!({ "after": cursor }))).await, "after");
    assert_bad_argument(&mirror.error(&query, json!({ "last": 3, "before": cursor })).await, "before");
    assert_bad_argument(&mirror.error(&query, json!({ "after": "not-a-cursor" })).await, "after");
    assert_bad_argument(&mirror.error(&query, json!({ "last": 2, "before": "%%%" })).await, "before");
    // `after` goes with `first`, `before` with `last`.
    assert_bad_argument(&mirror.error(&query, with(&by_name, json!({ "last": 3, "after": cursor }))).await, "after");
    assert_bad_argument(&mirror.error(&query, with(&by_name, json!({ "first": 3, "before": cursor }))).await, "before");
});
