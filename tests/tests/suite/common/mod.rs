//! Shared by the end-to-end query tests: a mirror holding archived rows and a few hand-made values, the expected
//! typed value of a HubSpot property (computed the way HubSpot's strings read), and walkers over connections.

#![allow(dead_code)]

use std::{cmp::Ordering, collections::HashSet, fmt::Display};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tests::{
    Backend, Mirror, TestDb, generator,
    hubspot::{self, CrmObject, ObjectType, Portal},
    small_spec,
};

/// The contact whose first name holds LIKE wildcards, so `search` and `contains` must read them literally.
pub const WILDCARD_FIRST_NAME: &str = "Zoe_100%";
/// A property no generated record has, set on one contact.
pub const CUSTOM_PROPERTY: (&str, &str) = ("custom_score", "42");

/// Every n-th record of each type (at offset) is archived; lists, associations and analytics must hide them.
fn archived(object_type: ObjectType, index: usize) -> bool {
    match object_type {
        ObjectType::Contact => index % 10 == 7,
        ObjectType::Company => index % 12 == 5,
        ObjectType::Deal => index % 9 == 4,
        ObjectType::Ticket => index % 8 == 3,
        ObjectType::Custom(_) => index % 11 == 6,
    }
}

/// The small generated portal, with some records archived, one contact named with LIKE wildcards, one without a
/// name, and one carrying a custom property.
pub fn portal() -> Portal {
    portal_of(&small_spec(4242))
}

/// The portal `spec` describes, archived and touched as [`portal`] is.
pub fn portal_of(spec: &generator::PortalSpec) -> Portal {
    let mut portal = generator::generate(spec);
    for object_type in ObjectType::BUILT_IN {
        let objects = match object_type {
            ObjectType::Contact => &mut portal.contacts,
            ObjectType::Company => &mut portal.companies,
            ObjectType::Deal => &mut portal.deals,
            ObjectType::Ticket => &mut portal.tickets,
            ObjectType::Custom(_) => continue,
        };
        for (i, o) in objects.iter_mut().enumerate() {
            o.archived = archived(object_type, i);
        }
    }
    let contacts = &mut portal.contacts;
    contacts[3].properties.insert("firstname".into(), Some(WILDCARD_FIRST_NAME.into()));
    contacts[5].properties.insert("firstname".into(), None);
    contacts[5].properties.insert("lastname".into(), None);
    contacts[6].properties.insert(CUSTOM_PROPERTY.0.into(), Some(CUSTOM_PROPERTY.1.into()));
    portal
}

/// A fresh mirror holding [`portal`].
pub async fn mirror(backend: Backend) -> Mirror {
    mirror_of(backend, &small_spec(4242)).await
}

/// A fresh mirror holding [`portal_of`] `spec`.
pub async fn mirror_of(backend: Backend, spec: &generator::PortalSpec) -> Mirror {
    let portal = portal_of(spec);
    let db = TestDb::migrated(backend).await;
    server::mirror::write_portal(&db.db, &portal).await.expect("write portal");
    Mirror { db, portal, schema: schema::build() }
}

// ---------------------------------------------------------------------------------------------------------------
// Expected values, read from the generated property strings.

pub fn text(o: &CrmObject, name: &str) -> Option<String> {
    o.properties.get(name).cloned().flatten().filter(|v| !v.is_empty())
}

pub fn float(o: &CrmObject, name: &str) -> Option<f64> {
    text(o, name)?.parse().ok()
}

pub fn int(o: &CrmObject, name: &str) -> Option<i64> {
    float(o, name).map(|v| v.round() as i64)
}

pub fn time(o: &CrmObject, name: &str) -> Option<DateTime<Utc>> {
    text(o, name).map(|t| DateTime::parse_from_rfc3339(&t).expect("generated ISO time").with_timezone(&Utc))
}

pub fn flag(o: &CrmObject, name: &str) -> Option<bool> {
    text(o, name).map(|v| v == "true")
}

/// Live (not archived) records, in generation (= HubSpot id) order.
pub fn live(objects: &[CrmObject]) -> impl Iterator<Item = &CrmObject> {
    objects.iter().filter(|o| !o.archived)
}

/// HubSpot ids of the live records matching `keep`, ascending.
pub fn ids_where(objects: &[CrmObject], keep: impl Fn(&CrmObject) -> bool) -> Vec<i64> {
    let mut ids: Vec<i64> = live(objects).filter(|o| keep(o)).map(|o| o.id).collect();
    ids.sort_unstable();
    ids
}

pub fn find(objects: &[CrmObject], id: i64) -> &CrmObject {
    objects.iter().find(|o| o.id == id).unwrap_or_else(|| panic!("no record {id}"))
}

/// The distinct live records of `to` associated with `from`/`from_id`, ascending.
pub fn associated(portal: &Portal, from: ObjectType, from_id: i64, to: ObjectType) -> Vec<i64> {
    let archived: HashSet<i64> = portal.objects(to).iter().filter(|o| o.archived).map(|o| o.id).collect();
    let mut ids: Vec<i64> = portal
        .associations
        .iter()
        .filter(|a| a.from_type == from && a.from_id == from_id && a.to_type == to && !archived.contains(&a.to_id))
        .map(|a| a.to_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The generated owner of a record, by its `hubspot_owner_id`.
pub fn owner_of<'a>(portal: &'a Portal, o: &CrmObject) -> Option<&'a hubspot::Owner> {
    let id = int(o, "hubspot_owner_id")?;
    portal.owners.iter().find(|w| w.id == id)
}

// ---------------------------------------------------------------------------------------------------------------
// Typed fields: how a GraphQL field reads its property.

/// How a property string becomes a field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    Time,
    Flag,
}

/// A field value as the API should return it; ordered within a kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Text(String),
    Num(f64),
    Time(DateTime<Utc>),
    Bool(bool),
}

/// The value of `property` of `o` read as `kind`; `@id`, `@created` and `@updated` name the record's own fields.
pub fn value(o: &CrmObject, property: &str, kind: Kind) -> Option<Val> {
    match property {
        "@id" => return Some(Val::Num(o.id as f64)),
        "@created" => return Some(Val::Time(o.created_at)),
        "@updated" => return Some(Val::Time(o.updated_at)),
        _ => {}
    }
    match kind {
        Kind::Text => text(o, property).map(Val::Text),
        Kind::Int => int(o, property).map(|v| Val::Num(v as f64)),
        Kind::Float => float(o, property).map(Val::Num),
        Kind::Time => time(o, property).map(Val::Time),
        Kind::Flag => flag(o, property).map(Val::Bool),
    }
}

fn cmp_val(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Text(a), Val::Text(b)) => a.cmp(b),
        (Val::Num(a), Val::Num(b)) => a.partial_cmp(b).expect("no NaN"),
        (Val::Time(a), Val::Time(b)) => a.cmp(b),
        (Val::Bool(a), Val::Bool(b)) => a.cmp(b),
        _ => panic!("values of different kinds: {a:?} {b:?}"),
    }
}

/// Asserts that a field of a response holds `expected`: text, numbers and flags as JSON, floats within 1e-6,
/// times as the same instant.
pub fn assert_value(actual: &Value, expected: Option<Val>, what: &str) {
    match (actual, expected) {
        (Value::Null, None) => {}
        (Value::String(s), Some(Val::Text(e))) => assert_eq!(s, &e, "{what}"),
        (Value::Number(n), Some(Val::Num(e))) => {
            let n = n.as_f64().unwrap();
            assert!((n - e).abs() < 1e-6, "{what}: {n} != {e}");
        }
        (Value::String(s), Some(Val::Time(e))) => assert_eq!(parse_time(s), e, "{what}"),
        (Value::Bool(b), Some(Val::Bool(e))) => assert_eq!(*b, e, "{what}"),
        (actual, expected) => panic!("{what}: got {actual}, expected {expected:?}"),
    }
}

/// A DateTime the API returned (RFC 3339).
pub fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("`{s}` is not RFC 3339: {e}")).with_timezone(&Utc)
}

pub fn approx(actual: &Value, expected: f64, what: &str) {
    let a = actual.as_f64().unwrap_or_else(|| panic!("{what}: {actual} is not a number"));
    let tolerance = 1e-6 * expected.abs().max(1.0);
    assert!((a - expected).abs() <= tolerance, "{what}: {a} != {expected}");
}

// ---------------------------------------------------------------------------------------------------------------
// Orders: the order a list must return, computed in Rust.

/// One `orderBy` key: the GraphQL enum value, the property it sorts on, how to read it, and the direction.
#[derive(Clone, Copy, Debug)]
pub struct SortKey {
    pub field: &'static str,
    pub property: &'static str,
    pub kind: Kind,
    pub desc: bool,
}

pub const fn asc(field: &'static str, property: &'static str, kind: Kind) -> SortKey {
    SortKey { field, property, kind, desc: false }
}

pub const fn desc(field: &'static str, property: &'static str, kind: Kind) -> SortKey {
    SortKey { field, property, kind, desc: true }
}

/// The `orderBy` argument for `keys`.
pub fn order_by(keys: &[SortKey]) -> Value {
    keys.iter().map(|k| json!({ "field": k.field, "direction": if k.desc { "DESC" } else { "ASC" } })).collect()
}

/// Compares two optional sort values: nulls last in both directions.
pub fn cmp_nulls_last(a: &Option<Val>, b: &Option<Val>, desc: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let o = cmp_val(a, b);
            if desc { o.reverse() } else { o }
        }
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

/// The live records' ids in the order `keys` sort them: nulls last, ties by HubSpot id ascending.
pub fn sorted_ids(objects: &[CrmObject], keys: &[SortKey]) -> Vec<i64> {
    let mut rows: Vec<&CrmObject> = live(objects).collect();
    rows.sort_by(|a, b| {
        keys.iter()
            .map(|k| cmp_nulls_last(&value(a, k.property, k.kind), &value(b, k.property, k.kind), k.desc))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.id.cmp(&b.id))
    });
    rows.iter().map(|o| o.id).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Lists and connections.

/// A top-level list of the API and the names of its input types.
#[derive(Clone, Copy, Debug)]
pub struct List {
    pub field: &'static str,
    pub where_type: &'static str,
    pub order_type: &'static str,
}

pub const CONTACTS: List = List { field: "contacts", where_type: "ContactWhere", order_type: "ContactOrderBy" };
pub const COMPANIES: List = List { field: "companies", where_type: "CompanyWhere", order_type: "CompanyOrderBy" };
pub const DEALS: List = List { field: "deals", where_type: "DealWhere", order_type: "DealOrderBy" };
pub const TICKETS: List = List { field: "tickets", where_type: "TicketWhere", order_type: "TicketOrderBy" };
pub const OWNERS: List = List { field: "owners", where_type: "OwnerWhere", order_type: "OwnerOrderBy" };
pub const CAMPAIGNS: List = List { field: "campaigns", where_type: "CampaignWhere", order_type: "CampaignOrderBy" };

impl List {
    /// The list with every argument as a variable, selecting `nodes { <selection> }`, the page info and the count.
    pub fn query(&self, selection: &str) -> String {
        let List { field, where_type, order_type } = self;
        format!(
            "query($where: {where_type}, $orderBy: [{order_type}!], $search: String, $first: Int, $after: String, \
             $last: Int, $before: String) {{
               {field}(where: $where, orderBy: $orderBy, search: $search, first: $first, after: $after, last: $last,
                       before: $before) {{
                 totalCount
                 pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                 edges {{ cursor }}
                 nodes {{ {selection} }}
               }}
             }}"
        )
    }
}

/// `base` (an object of variables) with `extra` added.
pub fn with(base: &Value, extra: Value) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    out.extend(extra.as_object().cloned().unwrap_or_default());
    Value::Object(out)
}

/// The HubSpot ids of a connection's nodes, as numbers.
pub fn node_ids(connection: &Value) -> Vec<i64> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no nodes in {connection}"))
        .iter()
        .map(|n| n["hubspotId"].as_str().expect("hubspotId").parse().expect("numeric hubspotId"))
        .collect()
}

/// The HubSpot ids of a connection's nodes as they came (campaign ids are UUIDs).
pub fn node_keys(connection: &Value) -> Vec<String> {
    connection["nodes"].as_array().unwrap().iter().map(|n| n["hubspotId"].as_str().unwrap().to_owned()).collect()
}

/// Every node of a connection, walked forward with `first: page` from the start, checking each page's info and
/// that `totalCount` agrees with what was walked.
pub async fn walk_forward(mirror: &Mirror, list: &List, selection: &str, args: &Value, page: usize) -> Vec<Value> {
    let query = list.query(selection);
    let mut nodes = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    for _ in 0..1000 {
        let data = mirror.data(&query, with(args, json!({ "first": page, "after": after }))).await;
        let conn = &data[list.field];
        let got = conn["nodes"].as_array().unwrap().clone();
        let info = &conn["pageInfo"];
        assert_eq!(info["hasPreviousPage"], json!(after.is_some()), "hasPreviousPage after {after:?}");
        assert_connection_cursors(conn);
        total.get_or_insert(conn["totalCount"].as_u64().unwrap());
        assert_eq!(Some(conn["totalCount"].as_u64().unwrap()), total, "totalCount is the same on every page");
        let more = info["hasNextPage"].as_bool().unwrap();
        if more {
            assert_eq!(got.len(), page, "a page before the last is full");
        } else {
            assert!(got.len() <= page);
        }
        nodes.extend(got);
        if !more {
            assert_eq!(total, Some(nodes.len() as u64), "totalCount counts every row walked");
            return nodes;
        }
        after = Some(info["endCursor"].as_str().expect("endCursor on a page with more").to_owned());
    }
    panic!("the walk did not end");
}

/// Every node of a connection, walked backward with `last: page` from the end; returned in list order.
pub async fn walk_backward(mirror: &Mirror, list: &List, selection: &str, args: &Value, page: usize) -> Vec<Value> {
    let query = list.query(selection);
    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..1000 {
        let data = mirror.data(&query, with(args, json!({ "last": page, "before": before }))).await;
        let conn = &data[list.field];
        let got = conn["nodes"].as_array().unwrap().clone();
        let info = &conn["pageInfo"];
        assert_eq!(info["hasNextPage"], json!(before.is_some()), "hasNextPage before {before:?}");
        assert_connection_cursors(conn);
        let more = info["hasPreviousPage"].as_bool().unwrap();
        if more {
            assert_eq!(got.len(), page, "a page after the first is full");
        }
        pages.push(got);
        if !more {
            let nodes: Vec<Value> = pages.into_iter().rev().flatten().collect();
            assert_eq!(conn["totalCount"].as_u64(), Some(nodes.len() as u64));
            return nodes;
        }
        before = Some(info["startCursor"].as_str().expect("startCursor on a page with more").to_owned());
    }
    panic!("the walk did not end");
}

/// `startCursor`/`endCursor` are the cursors of the first and last edges.
fn assert_connection_cursors(conn: &Value) {
    let edges = conn["edges"].as_array().unwrap();
    assert_eq!(edges.len(), conn["nodes"].as_array().unwrap().len());
    match (edges.first(), edges.last()) {
        (Some(first), Some(last)) => {
            assert_eq!(conn["pageInfo"]["startCursor"], first["cursor"]);
            assert_eq!(conn["pageInfo"]["endCursor"], last["cursor"]);
        }
        _ => assert!(conn["pageInfo"]["startCursor"].is_null() && conn["pageInfo"]["endCursor"].is_null()),
    }
}

pub fn ids_of(nodes: &[Value]) -> Vec<i64> {
    nodes.iter().map(|n| n["hubspotId"].as_str().unwrap().parse().unwrap()).collect()
}

/// Asserts that an error names `argument` as bad user input.
pub fn assert_bad_argument(error: &Value, argument: &str) {
    assert!(!error.is_null(), "expected an error naming `{argument}`");
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error:#}");
    assert_eq!(error["extensions"]["argument"], argument, "{error:#}");
}

/// The Relay global ID of an object: URL-safe base64 (no padding) of `Type:hubspotId`.
pub fn global_id(type_name: &str, hubspot_id: impl Display) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = format!("{type_name}:{hubspot_id}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// `hubspot::iso`, for DateTime variables.
pub fn iso(t: DateTime<Utc>) -> String {
    hubspot::iso(t)
}
