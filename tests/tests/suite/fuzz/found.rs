//! What the fuzz properties found, each pinned as a test of its own so it runs whatever the seed: filters wide or deep
//! enough to overflow the stack, and inputs the databases refused (an `INTERNAL` error to the caller).

use serde_json::{Value, json};
use tests::{Backend, Mirror};

use super::on_a_worker_stack;

fn code_and_argument(response: &Value) -> (&str, &str) {
    let extensions = &response["errors"][0]["extensions"];
    let code = extensions["code"].as_str().unwrap_or_else(|| panic!("no code: {response}"));
    (code, extensions["argument"].as_str().or(extensions["limit"].as_str()).unwrap_or_default())
}

fn repeated(item: &str, n: usize) -> String {
    vec![item; n].join(", ")
}

/// `{or: [inner, {}, {}, …]}` with `width` elements, `levels` times.
fn wide_and_nested(levels: usize, width: usize, inner: &str) -> String {
    (0..levels).fold(inner.to_owned(), |w, _| format!("{{or: [{w}, {}]}}", repeated("{}", width - 1)))
}

#[test]
fn wide_and_or_filters_answer_without_overflowing_the_stack() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Sqlite));
        let run = |query: String| runtime.block_on(mirror.run(&query, json!({})));
        // 500 filters in one `or` overflowed a 2 MiB stack while sea-query rendered them as a chain; 1,000 went past
        // SQLite's 1,000 levels of expression (an internal error).
        for combinator in ["or", "and"] {
            let filters = repeated("{email: {eq: \"nobody@example.com\"}}", 1_000);
            let response = run(format!("{{ contacts(where: {{{combinator}: [{filters}]}}) {{ totalCount }} }}"));
            assert_eq!(response["data"]["contacts"]["totalCount"], json!(0), "{combinator}: {response}");
        }
        let response =
            run(format!("{{ contacts(where: {{not: {{or: [{}]}}}}) {{ totalCount }} }}", repeated("{}", 999)));
        assert_eq!(response["data"]["contacts"]["totalCount"], json!(0), "{response}");
        // Seven `or`s of 1,000 inside one another (60 KB of text), as deep as the input depth allows.
        let filter = wide_and_nested(7, 1_000, "{email: {eq: \"nobody@example.com\"}}");
        let response = run(format!("{{ contacts(where: {filter}) {{ totalCount }} }}"));
        assert_eq!(response["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()), "{response:.300}");
    });
}

#[test]
fn filters_as_deep_as_the_input_depth_allows_answer_on_a_worker_stack() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Sqlite));
        // Ten `and`s (depth 21, under the old cap of 32) overflowed a debug build's 2 MiB worker stack.
        let nested = |levels: usize| {
            let filter = (0..levels).fold("{email: {eq: \"x\"}}".to_owned(), |w, _| format!("{{and: [{w}]}}"));
            runtime.block_on(mirror.run(&format!("{{ contacts(where: {filter}) {{ totalCount }} }}"), json!({})))
        };
        assert_eq!(nested(7)["data"]["contacts"]["totalCount"], json!(0));
        assert_eq!(code_and_argument(&nested(10)), ("LIMIT_EXCEEDED", "inputDepth"));
    });
}

const BY_VARIABLE: &str = "query($w: ContactWhere) { contacts(where: $w) { totalCount } }";

#[test]
fn contains_and_starts_with_longer_than_sqlite_takes_are_refused_as_bad_input() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Sqlite));
        let run = |w: Value| runtime.block_on(mirror.run(BY_VARIABLE, json!({ "w": w })));
        // SQLite refuses LIKE patterns over 50,000 bytes: 25,000 `%`, escaped, were an internal error.
        let wildcards = run(json!({"email": {"startsWith": "%".repeat(25_000)}}));
        assert_eq!(code_and_argument(&wildcards), ("BAD_USER_INPUT", "where.email.startsWith"));
        let long = run(json!({"email": {"contains": "a".repeat(60_000)}}));
        assert_eq!(code_and_argument(&long), ("BAD_USER_INPUT", "where.email.contains"));
        let fine = run(json!({"email": {"contains": "%_".repeat(500)}}));
        assert_eq!(fine["data"]["contacts"]["totalCount"], json!(0), "{fine}");
    });
}

/// A cursor of `orderBy: {field: EMAIL}` at `email`.
fn email_cursor(email: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(json!({"s": "email:asc,hubspot_id:asc", "v": [email, 1]}).to_string())
}

#[test]
fn nul_characters_and_arguments_past_the_bound_parameters_are_refused_on_postgres() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Postgres));
        let run = |query: &str, variables: Value| runtime.block_on(mirror.run(query, variables));
        // Postgres stores no U+0000: each of these failed its statement, an internal error.
        for w in [
            json!({"email": {"eq": "a\u{0}b"}}),
            json!({"email": {"contains": "\u{0}"}}),
            json!({"or": [{"lastName": {"in": ["x", "\u{0}"]}}]}),
            json!({"companies": {"some": {"name": {"startsWith": "\u{0}"}}}}),
        ] {
            let response = run(BY_VARIABLE, json!({ "w": w }));
            assert_eq!(code_and_argument(&response).0, "BAD_USER_INPUT", "{w}: {response}");
        }
        let search = run("{ contacts(search: \"ab\\u0000cd\") { totalCount } }", json!({}));
        assert_eq!(code_and_argument(&search), ("BAD_USER_INPUT", "search"));
        let page = "query($after: String) { contacts(orderBy: {field: EMAIL}, after: $after) { totalCount } }";
        let cursor = run(page, json!({ "after": email_cursor("\u{0}") }));
        assert_eq!(code_and_argument(&cursor), ("BAD_USER_INPUT", "after"));
        assert!(run(page, json!({ "after": email_cursor("a") }))["data"]["contacts"]["totalCount"].is_number());

        // 66 lists of 1,000 ids are 66,000 bound parameters, past Postgres's 65,535 (SQLite takes 32,766); a
        // variable used in 20 places counts 20 times.
        let ids: Vec<i64> = (1..=1_000).collect();
        let lists = |n: usize| json!({ "or": vec![json!({"hubspotId": {"in": ids}}); n] });
        assert_eq!(code_and_argument(&run(BY_VARIABLE, json!({ "w": lists(66) }))), ("LIMIT_EXCEEDED", "inputValues"));
        let reused = format!(
            "query($ids: [ID!]) {{ contacts(where: {{or: [{}]}}) {{ totalCount }} }}",
            repeated("{hubspotId: {in: $ids}}", 20)
        );
        assert_eq!(code_and_argument(&run(&reused, json!({ "ids": ids }))), ("LIMIT_EXCEEDED", "inputValues"));
        let fine = run(BY_VARIABLE, json!({ "w": lists(9) }));
        assert!(fine["data"]["contacts"]["totalCount"].is_number(), "{fine:.300}");
    });
}

#[test]
fn nul_characters_in_property_filters_are_refused_naming_the_operator_on_postgres() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Postgres));
        // Each failed its statement on Postgres, an internal error.
        for (filter, argument) in [
            (json!({"name": "tier", "contains": "\u{0}"}), "where.properties[0].contains"),
            (json!({"name": "email", "eq": "a\u{0}b"}), "where.properties[0].eq"),
            (json!({"name": "tier", "in": ["gold", "\u{0}"]}), "where.properties[0].in"),
        ] {
            let w = json!({ "properties": [filter] });
            let response = runtime.block_on(mirror.run(BY_VARIABLE, json!({ "w": w })));
            assert_eq!(code_and_argument(&response), ("BAD_USER_INPUT", argument), "{w}: {response}");
        }
    });
}
