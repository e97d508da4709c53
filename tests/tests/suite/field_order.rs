//! Answers keep the order the operation asks for fields in, though async-graphql resolves them concurrently and
//! would answer them in the order they finish (a field that reads nothing first).

use async_graphql::{Request, Value};
use tests::{Backend, Mirror, on_both};

/// The keys of an answer's object, in the order it answers them.
fn keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(fields) => fields.keys().map(|k| k.to_string()).collect(),
        other => panic!("not an object: {other}"),
    }
}

on_both!(answers_keep_the_order_fields_are_asked_in, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    // `__typename` is ready before the lists have read anything; the fragment's fields come where it is spread.
    let query = "query Ordered {
        contacts(first: 2) { totalCount nodes { __typename hubspotId companies { totalCount } email } }
        ...Lists
        __typename
        a: owners { totalCount }
    }
    fragment Lists on Query { z: companies(first: 1) { totalCount } deals(first: 1) { totalCount } }";
    let scope = schema::Scope::new(mirror.db.db.clone(), mirror.portal.portal_id, schema::Role::Admin);
    let response = mirror.schema.execute(Request::new(query).data(scope)).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    assert_eq!(keys(&response.data), ["contacts", "z", "deals", "__typename", "a"]);
    let Value::Object(root) = &response.data else { unreachable!() };
    let Value::Object(contacts) = &root["contacts"] else { panic!("contacts") };
    let Value::List(nodes) = &contacts["nodes"] else { panic!("nodes") };
    assert!(!nodes.is_empty());
    for node in nodes {
        assert_eq!(keys(node), ["__typename", "hubspotId", "companies", "email"]);
    }
});
