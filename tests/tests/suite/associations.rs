//! Association connections both ways (contact ↔ companies, deals, tickets; company ↔ deals, tickets; deal and ticket
//! → contacts, companies): the distinct live records the generated associations link, in HubSpot id order, paged.

use crate::common;

use crate::common::{
    COMPANIES, CONTACTS, DEALS, List, TICKETS, assert_bad_argument, associated, live, node_ids, walk_forward,
};
use hubspot::ObjectType;
use serde_json::{Value, json};
use tests::{Mirror, on_both};

/// The connections each type offers, by field name and target type.
fn connections(object_type: ObjectType) -> &'static [(&'static str, ObjectType)] {
    match object_type {
        ObjectType::Contact => {
            &[("companies", ObjectType::Company), ("deals", ObjectType::Deal), ("tickets", ObjectType::Ticket)]
        }
        ObjectType::Company => {
            &[("contacts", ObjectType::Contact), ("deals", ObjectType::Deal), ("tickets", ObjectType::Ticket)]
        }
        ObjectType::Deal | ObjectType::Ticket => {
            &[("contacts", ObjectType::Contact), ("companies", ObjectType::Company)]
        }
        ObjectType::Custom(_) => &[],
    }
}

/// `field(first: 100) { totalCount nodes { hubspotId } }` for each connection of the type.
fn connection_selection(object_type: ObjectType) -> String {
    let fields: Vec<String> = connections(object_type)
        .iter()
        .map(|(field, _)| format!("{field}(first: 100) {{ totalCount nodes {{ hubspotId }} }}"))
        .collect();
    format!("hubspotId {}", fields.join(" "))
}

/// A node's connections hold exactly the distinct live records associated with it, ascending.
fn assert_node_connections(mirror: &Mirror, node: &Value, object_type: ObjectType) -> usize {
    let id: i64 = node["hubspotId"].as_str().unwrap().parse().unwrap();
    let mut linked = 0;
    for (field, target) in connections(object_type) {
        let expected = associated(&mirror.portal, object_type, id, *target);
        assert_eq!(node_ids(&node[*field]), expected, "{object_type:?} {id} `{field}`");
        assert_eq!(node[*field]["totalCount"], json!(expected.len()), "{object_type:?} {id} `{field}` totalCount");
        linked += expected.len();
    }
    linked
}

/// Every live record of a list, with its connections, checked against the generated associations.
async fn assert_list_connections(mirror: &Mirror, list: &List, object_type: ObjectType) {
    let nodes = walk_forward(mirror, list, &connection_selection(object_type), &json!({}), 50).await;
    assert_eq!(nodes.len(), live(mirror.portal.objects(object_type)).count());
    let linked: usize = nodes.iter().map(|n| assert_node_connections(mirror, n, object_type)).sum();
    assert!(linked > nodes.len(), "{} are linked to records", list.field);
}

on_both!(contact_connections_hold_their_associated_records, |backend| async move {
    let mirror = common::mirror(backend).await;
    assert_list_connections(&mirror, &CONTACTS, ObjectType::Contact).await;
});

on_both!(company_connections_hold_their_associated_records, |backend| async move {
    let mirror = common::mirror(backend).await;
    assert_list_connections(&mirror, &COMPANIES, ObjectType::Company).await;
});

on_both!(deal_and_ticket_connections_hold_their_associated_records, |backend| async move {
    let mirror = common::mirror(backend).await;
    assert_list_connections(&mirror, &DEALS, ObjectType::Deal).await;
    assert_list_connections(&mirror, &TICKETS, ObjectType::Ticket).await;
});

on_both!(single_objects_reach_their_associations_both_ways, |backend| async move {
    let mirror = common::mirror(backend).await;
    let p = &mirror.portal;
    for (root, object_type, id) in [
        ("contact", ObjectType::Contact, live(&p.contacts).nth(4).unwrap().id),
        ("company", ObjectType::Company, live(&p.companies).nth(2).unwrap().id),
        ("deal", ObjectType::Deal, live(&p.deals).nth(3).unwrap().id),
        ("ticket", ObjectType::Ticket, live(&p.tickets).nth(1).unwrap().id),
    ] {
        let query = format!("query($id: ID!) {{ {root}(id: $id) {{ {} }} }}", connection_selection(object_type));
        let data = mirror.data(&query, json!({ "id": id.to_string() })).await;
        assert!(assert_node_connections(&mirror, &data[root], object_type) > 0, "{root} {id} has associations");
    }
    // Read from the other end, a deal's company lists the deal, and the deal's contacts list it too.
    let deal = live(&p.deals).nth(3).unwrap().id;
    for company in associated(p, ObjectType::Deal, deal, ObjectType::Company) {
        assert!(associated(p, ObjectType::Company, company, ObjectType::Deal).contains(&deal));
    }
});

on_both!(a_pair_linked_under_two_type_ids_appears_once, |backend| async move {
    let mirror = common::mirror(backend).await;
    let p = &mirror.portal;
    let contact =
        live(&p.contacts).find(|c| !associated(p, ObjectType::Contact, c.id, ObjectType::Company).is_empty()).unwrap();
    let rows: Vec<i32> = p
        .associations
        .iter()
        .filter(|a| a.from_id == contact.id && a.to_type == ObjectType::Company)
        .map(|a| a.type_id)
        .collect();
    assert!(rows.len() >= 2, "the contact's company link is reported under several type ids: {rows:?}");
    let query = "query($id: ID!) { contact(id: $id) { companies { totalCount nodes { hubspotId } } } }";
    let data = mirror.data(query, json!({ "id": contact.id.to_string() })).await;
    assert_eq!(data["contact"]["companies"]["totalCount"], 1);
    assert_eq!(
        node_ids(&data["contact"]["companies"]),
        associated(p, ObjectType::Contact, contact.id, ObjectType::Company)
    );
});

on_both!(archived_records_drop_out_of_connections, |backend| async move {
    let mirror = common::mirror(backend).await;
    let p = &mirror.portal;
    let archived: Vec<i64> = p.contacts.iter().filter(|c| c.archived).map(|c| c.id).collect();
    // A company one of whose contacts is archived.
    let company = live(&p.companies)
        .find(|co| {
            p.associations
                .iter()
                .any(|a| a.from_id == co.id && a.to_type == ObjectType::Contact && archived.contains(&a.to_id))
        })
        .expect("a company with an archived contact");
    let query = "query($id: ID!) { company(id: $id) { contacts { totalCount nodes { hubspotId } } } }";
    let data = mirror.data(query, json!({ "id": company.id.to_string() })).await;
    let ids = node_ids(&data["company"]["contacts"]);
    assert!(ids.iter().all(|id| !archived.contains(id)), "no archived contact in {ids:?}");
    assert_eq!(ids, associated(p, ObjectType::Company, company.id, ObjectType::Contact));
});

/// The company with the most live contacts, and those contacts.
fn busiest_company(mirror: &Mirror) -> (i64, Vec<i64>) {
    let p = &mirror.portal;
    live(&p.companies)
        .map(|c| (c.id, associated(p, ObjectType::Company, c.id, ObjectType::Contact)))
        .max_by_key(|(id, contacts)| (contacts.len(), -id))
        .unwrap()
}

const PAGE: &str = r#"query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    company(id: $id) {
        contacts(first: $first, after: $after, last: $last, before: $before) {
            totalCount
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            nodes { hubspotId }
        }
    }
}"#;

on_both!(association_connections_page_both_ways, |backend| async move {
    let mirror = common::mirror(backend).await;
    let (company, expected) = busiest_company(&mirror);
    assert!(expected.len() >= 7, "the busiest company has several contacts ({})", expected.len());

    let mut forward = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = mirror.data(PAGE, json!({ "id": company.to_string(), "first": 3, "after": after })).await;
        let conn = &data["company"]["contacts"];
        assert_eq!(conn["totalCount"], json!(expected.len()));
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], json!(after.is_some()));
        forward.extend(node_ids(conn));
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert_eq!(node_ids(conn).len(), 3);
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(forward, expected, "forward pages");

    let mut backward: Vec<Vec<i64>> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = mirror.data(PAGE, json!({ "id": company.to_string(), "last": 2, "before": before })).await;
        let conn = &data["company"]["contacts"];
        assert_eq!(conn["pageInfo"]["hasNextPage"], json!(before.is_some()));
        backward.push(node_ids(conn));
        if conn["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
        before = conn["pageInfo"]["startCursor"].as_str().map(str::to_owned);
    }
    let backward: Vec<i64> = backward.into_iter().rev().flatten().collect();
    assert_eq!(backward, expected, "backward pages");

    let error = mirror.error(PAGE, json!({ "id": company.to_string(), "first": 101 })).await;
    assert_bad_argument(&error, "first");
    let error = mirror.error(PAGE, json!({ "id": company.to_string(), "after": "garbage" })).await;
    assert_bad_argument(&error, "after");
});

on_both!(nested_connections_page_per_parent, |backend| async move {
    let mirror = common::mirror(backend).await;
    let selection = "hubspotId contacts(first: 2) { totalCount pageInfo { hasNextPage } nodes { hubspotId } }
                     deals(last: 1) { pageInfo { hasPreviousPage } nodes { hubspotId } }";
    let nodes = walk_forward(&mirror, &COMPANIES, selection, &json!({}), 100).await;
    let p = &mirror.portal;
    let mut paged = 0;
    for node in &nodes {
        let id: i64 = node["hubspotId"].as_str().unwrap().parse().unwrap();
        let contacts = associated(p, ObjectType::Company, id, ObjectType::Contact);
        assert_eq!(node_ids(&node["contacts"]), contacts.iter().take(2).copied().collect::<Vec<_>>(), "company {id}");
        assert_eq!(node["contacts"]["totalCount"], json!(contacts.len()));
        assert_eq!(node["contacts"]["pageInfo"]["hasNextPage"], json!(contacts.len() > 2));
        let deals = associated(p, ObjectType::Company, id, ObjectType::Deal);
        assert_eq!(node_ids(&node["deals"]), deals.last().copied().into_iter().collect::<Vec<_>>(), "company {id}");
        assert_eq!(node["deals"]["pageInfo"]["hasPreviousPage"], json!(deals.len() > 1));
        paged += usize::from(contacts.len() > 2);
    }
    assert!(paged > 0, "some companies have more than a page of contacts");
});
