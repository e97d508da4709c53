//! Random variables for `query($w: ContactWhere, $ids: [ID!])`: JSON of any shape, its keys mostly the names the
//! input types know (so coercion goes deep), nested up to 150 levels (JSON parsers stop at 128, a client of the
//! schema may not), lists far past their cap, every type where another is expected.

use proptest::{collection::vec, prelude::*};
use serde_json::{Map, Value};

use super::{
    filters::{Kind, where_input},
    input::{list_len, weird_date, weird_float, weird_int, weird_string},
};

/// Keys of `ContactWhere`, its filters and relations, and a few it does not have.
const KEYS: &[&str] = &[
    "and",
    "or",
    "not",
    "email",
    "hubspotId",
    "hubspotScore",
    "createdAt",
    "ownerId",
    "companies",
    "deals",
    "some",
    "none",
    "eq",
    "ne",
    "in",
    "notIn",
    "between",
    "lt",
    "gte",
    "contains",
    "startsWith",
    "isNull",
    "name",
    "",
    "__proto__",
    "nope",
];

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        weird_int().prop_map(Value::from),
        weird_float().prop_map(Value::from),
        weird_string().prop_map(Value::from),
        weird_date().prop_map(Value::from),
    ]
    .boxed()
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![6 => proptest::sample::select(KEYS).prop_map(str::to_owned), 1 => weird_string()]
}

/// A bushy value a few levels deep.
fn bushy() -> BoxedStrategy<Value> {
    scalar()
        .prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..5).prop_map(Value::Array),
                vec((key(), inner), 0..5).prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
            ]
        })
        .boxed()
}

/// A value wrapped `n` times in `[…]`, `{"and": […]}`, `{"not": …}` or `{"companies": {"some": …}}`.
fn deep() -> BoxedStrategy<Value> {
    let depth = prop_oneof![2 => 0usize..4, 1 => 28usize..36, 1 => 36usize..=150];
    (bushy(), depth, 0u8..4)
        .prop_map(|(core, depth, how)| {
            (0..depth).fold(core, |inner, _| match how {
                0 => Value::Array(vec![inner]),
                1 => serde_json::json!({"and": [inner]}),
                2 => serde_json::json!({"not": inner}),
                _ => serde_json::json!({"companies": {"some": inner}}),
            })
        })
        .boxed()
}

/// A list of `list_len()` copies of one value.
fn long() -> BoxedStrategy<Value> {
    (prop_oneof![scalar(), bushy()], list_len()).prop_map(|(v, n)| Value::Array(vec![v; n])).boxed()
}

fn any_value() -> BoxedStrategy<Value> {
    prop_oneof![3 => bushy(), 1 => deep(), 1 => long()].boxed()
}

/// Ids as a caller sends them: numbers, numeric strings, anything else, as many as `list_len()`.
fn ids() -> BoxedStrategy<Value> {
    let id = prop_oneof![
        4 => (0i64..2_000).prop_map(Value::from),
        2 => weird_int().prop_map(|i| Value::from(i.to_string())),
        1 => scalar(),
    ];
    list_len().prop_flat_map(move |n| vec(id.clone(), n.min(8)).prop_map(move |ids| cycle(ids, n))).boxed()
}

/// `n` values taking `values` in turn (`[]` when there are none).
fn cycle(values: Vec<Value>, n: usize) -> Value {
    Value::Array(values.iter().cycle().take(if values.is_empty() { 0 } else { n }).cloned().collect())
}

/// `{"w": …, "ids": …}`, either of them left out or null, now and then more keys or no object at all; `w` is a
/// well-formed filter half the time, so that coercion passes and the filter runs.
pub fn variables() -> impl Strategy<Value = Value> {
    let w = prop_oneof![1 => any_value(), 1 => where_input(Kind::Contact).prop_map(|w| w.json())];
    let ids = prop_oneof![1 => any_value(), 1 => ids()];
    let object =
        (proptest::option::weighted(0.9, w), proptest::option::weighted(0.9, ids), vec((key(), any_value()), 0..2))
            .prop_map(|(w, ids, extra)| {
                let mut map: Map<String, Value> = extra.into_iter().collect();
                map.extend(w.map(|w| ("w".to_owned(), w)));
                map.extend(ids.map(|ids| ("ids".to_owned(), ids)));
                Value::Object(map)
            });
    prop_oneof![8 => object, 1 => any_value()]
}
