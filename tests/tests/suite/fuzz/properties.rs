//! `where.properties`: filters on any property of the portal, by name, with values given as text and read as the
//! property's type. Names defined and not, operators with values of the right type and of none, and values of the
//! wrong GraphQL type.

use proptest::{collection::vec, prelude::*};

use super::input::{Input, any_scalar, weird_date, weird_int, weird_string};

/// Names of the generated portal's contact properties (custom and HubSpot's), and ones it does not define.
const NAMES: &[&str] =
    &["renewal_date", "tier", "custom_score", "email", "lifecyclestage", "createdate", "no_such_thing", ""];

/// A value as text, of the kind a property of some type holds, or not.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        2 => weird_string(),
        1 => weird_date(),
        1 => weird_int().prop_map(|n| n.to_string()),
        1 => proptest::sample::select(["gold", "silver", "true", "false", "1e309", "-0", "NaN", " 5 "].as_slice())
            .prop_map(str::to_owned),
    ]
    .boxed()
}

/// One operator with a value of its GraphQL type, or (now and then) of any other.
fn operator() -> BoxedStrategy<(String, Input)> {
    let single = proptest::sample::select(["eq", "ne", "lt", "lte", "gt", "gte", "contains"].as_slice());
    let list = proptest::sample::select(["in", "notIn", "between"].as_slice());
    prop_oneof![
        6 => (single, text()).prop_map(|(op, v)| (op.to_owned(), Input::Str(v))),
        3 => (list, vec(text(), 0..4))
            .prop_map(|(op, vs)| (op.to_owned(), Input::List(vs.into_iter().map(Input::Str).collect()))),
        1 => any::<bool>().prop_map(|b| ("isNull".to_owned(), Input::Bool(b))),
        1 => (proptest::sample::select(["eq", "in", "isNull", "between", "name"].as_slice()), any_scalar())
            .prop_map(|(op, v)| (op.to_owned(), v)),
    ]
    .boxed()
}

/// One filter: a name (usually) and a few operators, each named once.
fn filter() -> BoxedStrategy<Input> {
    let name = prop_oneof![6 => proptest::sample::select(NAMES).prop_map(str::to_owned), 1 => weird_string()];
    (proptest::option::weighted(0.95, name), vec(operator(), 0..4))
        .prop_map(|(name, ops)| {
            let mut fields: Vec<(String, Input)> =
                name.map(|n| ("name".to_owned(), Input::Str(n))).into_iter().collect();
            for (op, value) in ops {
                if fields.iter().all(|(n, _)| *n != op) {
                    fields.push((op, value));
                }
            }
            Input::Object(fields)
        })
        .boxed()
}

/// The value of `properties`: a list of filters, one filter alone (GraphQL reads it as a list of one), or any
/// scalar.
pub fn properties() -> BoxedStrategy<Input> {
    prop_oneof![
        6 => vec(filter(), 0..4).prop_map(Input::List),
        1 => filter(),
        1 => any_scalar(),
    ]
    .boxed()
}
