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
