//! What no request can do to the gateway: nest input values past the cap (in the query text or in variables), send
//! an alias bomb, list too many values in `in`, ask for more rows than the complexity budget, or cause more HubSpot
//! calls than a request may. Each is refused with its named limit and a client error code, and the process lives on.

use serde_json::{Value, json};
use tests::{Backend, Mirror};

/// `{and: [{and: [ … {email: {eq: "x"}} … ]}]}`, `levels` deep, as GraphQL text.
fn nested_where_text(levels: usize) -> String {
    let mut text = String::with_capacity(levels * 10 + 32);
    for _ in 0..levels {
        text.push_str("{and: [");
    }
    text.push_str("{email: {eq: \"x\"}}");
    for _ in 0..levels {
        text.push_str("]}");
    }
    text
}

/// The same filter as a JSON variable value.
fn nested_where_json(levels: usize) -> Value {
    let mut value = json!({"email": {"eq": "x"}});
    for _ in 0..levels {
        value = json!({"and": [value]});
    }
    value
}

fn limit_of(error: &Value) -> (&str, &str) {
    let code = error["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no code: {error}"));
    let limit = error["extensions"]["limit"].as_str().unwrap_or_else(|| panic!("no limit named: {error}"));
    (code, limit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_filters_are_refused_before_any_recursion() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    for levels in [60, 100_000] {
        let query = format!("{{ contacts(where: {}) {{ totalCount }} }}", nested_where_text(levels));
        let error = mirror.error(&query, json!({})).await;
        assert_eq!(limit_of(&error), ("LIMIT_EXCEEDED", "nesting"), "{levels} levels in the text: {error}");
        assert!(error["message"].as_str().unwrap().contains("64"), "the message names the limit's value: {error}");
    }
    let query = "query($w: ContactWhere) { contacts(where: $w) { totalCount } }";
    let error = mirror.error(query, json!({ "w": nested_where_json(60) })).await;
    assert_eq!(limit_of(&error), ("LIMIT_EXCEEDED", "inputDepth"), "60 levels in a variable: {error}");

    // A filter nested a few levels still runs, and the gateway answers as before.
    let shallow = format!("{{ contacts(where: {}) {{ totalCount }} }}", nested_where_text(4));
    assert_eq!(mirror.data(&shallow, json!({})).await["contacts"]["totalCount"], json!(0));
    let data = mirror
        .data("query($w: ContactWhere) { contacts(where: $w) { totalCount } }", json!({ "w": nested_where_json(4) }));
    assert_eq!(data.await["contacts"]["totalCount"], json!(0));
}

/// `{ a0: field a1: field … }` with `n` aliases of `field`.
fn aliased(n: usize, field: &str) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: {field}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_bombs_wide_operations_deep_selections_and_long_lists_are_refused_by_name() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let bomb = aliased(10_000, "crmSummary { contacts companies openPipelineValue }");
    assert_eq!(limit_of(&mirror.error(&bomb, json!({})).await), ("LIMIT_EXCEEDED", "aliases"));
    let wide = aliased(60, "crmSummary { contacts }");
    assert_eq!(limit_of(&mirror.error(&wide, json!({})).await), ("LIMIT_EXCEEDED", "rootFields"));
    let fine = aliased(40, "crmSummary { contacts }");
    assert_eq!(mirror.data(&fine, json!({})).await["a39"]["contacts"], json!(mirror.portal.contacts.len()));

    // A 100-row list of 100-row lists of 100-row lists may answer with a million rows: over the cost limit, however
    // it is written.
    let rows = "{ companies(first: 100) { nodes { contacts(first: 100) { nodes { deals(first: 100) { nodes { name } } } } } } }";
    let error = mirror.error(rows, json!({})).await;
    assert_eq!(limit_of(&error), ("LIMIT_EXCEEDED", "complexity"), "{error}");
    assert_eq!(error["extensions"]["max"], json!(20_000));
    let by_variable = "query($n: Int) { companies(first: $n) { nodes { contacts { edges { node { deals { nodes { name } } } } } } } }";
    assert_eq!(limit_of(&mirror.error(by_variable, json!({ "n": 100 })).await).1, "complexity");
    let through_fragment = "{ companies { ...rows } } fragment rows on CompanyConnection { nodes { contacts { nodes { \
                            deals { nodes { name } } } } } }";
    assert_eq!(limit_of(&mirror.error(through_fragment, json!({})).await).1, "complexity");
    let smaller = "{ companies(first: 100) { nodes { contacts(first: 100) { nodes { email } } } } }";
    assert!(mirror.data(smaller, json!({})).await["companies"]["nodes"].is_array());

    let level = |field: &str, inner: &str| format!("{field}(first: 1) {{ nodes {{ {inner} }} }}");
    let deep = ["contacts", "companies", "contacts", "companies", "contacts", "companies", "contacts"]
        .iter()
        .rev()
        .fold("hubspotId".to_owned(), |inner, field| level(field, &inner));
    let deep = format!("{{ {deep} }}");
    assert_eq!(limit_of(&mirror.error(&deep, json!({})).await), ("LIMIT_EXCEEDED", "depth"));

    let ids: Vec<String> = (0..1_000_001).map(|i| i.to_string()).collect();
    let query = "query($ids: [ID!]) { contacts(where: {hubspotId: {in: $ids}}) { totalCount } }";
    let error = mirror.error(query, json!({ "ids": ids })).await;
    assert_eq!(limit_of(&error), ("LIMIT_EXCEEDED", "listSize"), "a million ids: {error}");
    let ids: Vec<String> = mirror.portal.contacts.iter().take(1_000).map(|c| c.id.to_string()).collect();
    let data = mirror.data(query, json!({ "ids": ids })).await;
    assert!(data["contacts"]["totalCount"].as_u64().unwrap() > 0, "a thousand ids are taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_causes_at_most_its_share_of_hubspot_calls() {
    let gateway = tests::gateway::Gateway::start(Backend::Sqlite, 100_024).await;
    let before = gateway.requests();
    let fresh = aliased(50, "contact(id: \"1\", fresh: true) { email }");
    let error = gateway.error(&fresh, json!({})).await;
    assert_eq!(limit_of(&error), ("LIMIT_EXCEEDED", "hubspotCalls"), "{error}");
    assert_eq!(error["extensions"]["max"], json!(20));
    assert_eq!(gateway.requests(), before, "refused before any HubSpot call");

    // Records the mirror lacks are read from HubSpot, one call each, until the request's calls are spent.
    let misses = aliased(25, "contact(id: \"$ID\") { email }");
    let misses = (0..25).fold(misses, |q, i| q.replacen("$ID", &(900_000_000 + i).to_string(), 1));
    let answer = gateway.run(&misses, json!({})).await;
    let refused: Vec<&Value> =
        answer["errors"].as_array().unwrap().iter().filter(|e| e["extensions"]["limit"] == "hubspotCalls").collect();
    assert_eq!(refused.len(), 5, "{answer}");
    assert_eq!(gateway.requests(), before + 20, "twenty reads reached HubSpot");
}
