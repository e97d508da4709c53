//! Random query texts: operations built from the schema's fields with random aliases, fragments (cyclic ones too),
//! page sizes of any value and type, and selections of any depth; bracket runs far past the nesting cap; token soup;
//! and any of these cut short or sprinkled with garbage, leaving strings, block strings and brackets unterminated.

use proptest::{collection::vec, prelude::*};
use serde_json::{Value, json};

use super::input::weird_string;

/// A `first:`/`last:` value as a caller may write it: negative, zero, the cap, past it, past 32 bits, of another type,
/// or a variable.
fn page_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(["-1", "0", "1", "3", "100", "101"].as_slice()).prop_map(str::to_owned),
        2 => proptest::sample::select(
            [
                "-1",
                "0",
                "1",
                "100",
                "101",
                "2147483647",
                "2147483648",
                "-2147483649",
                "99999999999999999999999",
                "1.5",
                "1e400",
                "-0",
                "\"3\"",
                "null",
                "[1]",
                "{a: 1}",
                "true",
                "$n",
                "$s",
                "$missing",
                "ASC",
            ]
            .as_slice()
        )
        .prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ]
}

/// The variables a text may refer to, of the declared type or not.
fn page_variables() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        (-5i64..200).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        weird_string().prop_map(Value::from),
        Just(json!([1, 2])),
        Just(json!({"a": 1})),
        Just(json!(true)),
    ];
    (value.clone(), value).prop_map(|(n, s)| json!({"n": n, "s": s}))
}

/// A list field of the records, its arguments and its selection `depth` lists deep (selections past 12 levels are
/// refused; the rows of nested lists count against the complexity limit).
fn list_field(depth: u32) -> BoxedStrategy<String> {
    let args = (
        proptest::sample::select(["first", "last", "after", "before", "search", "nope"].as_slice()),
        page_value(),
        proptest::option::weighted(0.3, weird_string()),
    )
        .prop_map(|(name, value, cursor)| match (name, cursor) {
            ("after" | "before" | "search", Some(text)) => format!("({name}: {})", Value::from(text)),
            _ => format!("({name}: {value})"),
        });
    let field = proptest::sample::select(["contacts", "companies", "deals", "tickets"].as_slice());
    // Mostly fields every record has, so that some operations run; now and then one that is not there.
    let leaf = prop_oneof![
        8 => proptest::sample::select(["id", "hubspotId", "__typename"].as_slice()),
        1 => proptest::sample::select(["email", "name", "...F0", "...F1", "nope"].as_slice()),
    ];
    let inner = if depth == 0 {
        leaf.prop_map(|f| format!("nodes {{ {f} }}")).boxed()
    } else {
        let sub = list_field(depth - 1);
        prop_oneof![
            leaf.prop_map(|f| format!("nodes {{ {f} }}")),
            sub.clone().prop_map(|f| format!("nodes {{ id {f} }}")),
            sub.prop_map(|f| format!("edges {{ cursor node {{ {f} }} }}")),
        ]
        .boxed()
    };
    (field, proptest::option::of(args), inner)
        .prop_map(|(field, args, inner)| format!("{field}{} {{ totalCount {inner} }}", args.unwrap_or_default()))
        .boxed()
}

/// One root selection, and whether it is aliased.
fn root_selection() -> impl Strategy<Value = (bool, String)> {
    let field = prop_oneof![
        4 => list_field(14),
        1 => proptest::sample::select(
            [
                "crmSummary { contacts }",
                "__typename",
                "__schema { types { name fields { name } } }",
                "node(id: \"Q29udGFjdDox\") { id }",
                "contact(id: \"1\", fresh: $b) { id }",
                "contact(id: \"\") { id }",
                "...F0",
                "...Nope",
                "... on Query { __typename }",
                "... on Contact { id }",
                "syncStatus { objectType }",
                "growth(metric: CONTACTS, periods: 100000) { count }",
                "campaignPerformance(first: -1) { overall { sent } }",
            ]
            .as_slice()
        )
        .prop_map(str::to_owned),
    ];
    (any::<bool>(), field).prop_map(|(aliased, field)| (aliased && !field.starts_with("..."), field))
}

/// Up to four fragments `F0`…`F3`, each spreading others or itself, on types that exist or not.
fn fragments() -> impl Strategy<Value = String> {
    let fragment = (
        proptest::sample::select(["Query", "Contact", "Company", "ContactConnection", "Nope"].as_slice()),
        vec(0usize..5, 0..3),
        proptest::sample::select(["id", "__typename", "contacts { totalCount }", "a: id b: id"].as_slice()),
    );
    prop_oneof![2 => Just(vec![]), 1 => vec(fragment, 1..4)].prop_map(|fragments| {
        let mut text = String::new();
        for (i, (on, spreads, own)) in fragments.into_iter().enumerate() {
            let spreads: String = spreads.iter().map(|s| format!(" ...F{s}")).collect();
            text.push_str(&format!(" fragment F{i} on {on} {{ {own}{spreads} }}"));
        }
        text
    })
}

/// A well-formed operation, by and large: a header, a few or many (aliased) root fields, fragments.
fn operation() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        4 => proptest::sample::select(["", "query", "query Q"].as_slice()),
        1 => proptest::sample::select([
            "query($n: Int, $s: String, $b: Boolean)",
            "query($n: Int!)",
            "query($n: [[Int]])",
            "mutation",
            "subscription",
            "query Q($n: Int = \"x\")",
        ]
        .as_slice()),
    ];
    let count = prop_oneof![6 => 1usize..4, 1 => 45usize..56, 1 => 95usize..110];
    let roots = count.prop_flat_map(|n| {
        // Many roots repeat one, as an alias bomb does.
        (root_selection(), vec(root_selection(), n.min(4)))
            .prop_map(move |(first, more)| (0..n).map(|i| more.get(i).unwrap_or(&first).clone()).collect::<Vec<_>>())
    });
    (header, roots, fragments()).prop_map(|(header, roots, fragments)| {
        let roots: Vec<String> = roots
            .iter()
            .enumerate()
            .map(|(i, (aliased, field))| if *aliased { format!("a{i}: {field}") } else { field.clone() })
            .collect();
        format!("{header} {{ {} }}{fragments}", roots.join(" "))
    })
}

/// Brackets of random kinds nested up to 200 deep, closed, left open, or closed by the wrong kind.
fn brackets() -> impl Strategy<Value = String> {
    let open = proptest::sample::select(['{', '[', '('].as_slice());
    let closing = prop_oneof![Just("match"), Just("none"), Just("wrong")];
    (vec(open, 0..=200), closing, proptest::sample::select(["contacts", "a: 1", "\"{\"", "# {", ""].as_slice()))
        .prop_map(|(opens, closing, middle)| {
            let mut text: String = opens.iter().collect();
            text.push_str(middle);
            for c in opens.iter().rev() {
                text.push(match (closing, c) {
                    ("none", _) => continue,
                    ("wrong", '{') => ']',
                    ("wrong", _) => '}',
                    (_, '{') => '}',
                    (_, '[') => ']',
                    _ => ')',
                });
            }
            text
        })
}

/// Tokens of the language and garbage, in any order.
fn soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => proptest::sample::select(
            [
                "{", "}", "[", "]", "(", ")", "query", "fragment", "on", "...", "$n", ":", "=", "!", "@include(if: $b)",
                "@skip", "contacts", "totalCount", "nodes", "id", "first:", "\"", "\"\"\"", "\\", "#", "\n", "\"abc",
                "\"\"\"abc", "\"\\u12\"", "\"\\uD800\"", "1e", "0x10", "-", "&", "|", "\u{feff}", "\0", "😀",
            ]
            .as_slice()
        )
        .prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
        1 => "[ -~]{1,8}",
    ];
    vec(token, 0..120).prop_map(|tokens| tokens.join(" "))
}

/// `text` cut at a random character, with garbage inserted at another, or as it is.
fn damaged(text: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let garbage = prop_oneof![
        Just("\"".to_owned()),
        Just("\"\"\"".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\\".to_owned()),
        any::<String>(),
    ];
    (text, any::<prop::sample::Index>(), any::<prop::sample::Index>(), garbage, 0u8..4).prop_map(
        |(text, cut, at, garbage, how)| {
            let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            match how {
                0 | 1 => text,
                2 => text[..boundaries[cut.index(boundaries.len())]].to_owned(),
                _ => {
                    let at = boundaries[at.index(boundaries.len())];
                    format!("{}{garbage}{}", &text[..at], &text[at..])
                }
            }
        },
    )
}

/// A query text and the variables sent with it.
pub fn request() -> impl Strategy<Value = (String, Value)> {
    let text = prop_oneof![4 => damaged(operation()), 1 => damaged(brackets()), 1 => soup()];
    (text, page_variables())
}
