//! Input values that can be written both as GraphQL text and as JSON, so one generated filter is sent as a literal
//! and as a variable, and the scalars a careless or hostile caller sends: empty, wildcard, quoted, unicode, very long
//! strings, out-of-range numbers, dates that are not dates.

use std::fmt::Write;

use proptest::{collection::vec, prelude::*};
use serde_json::Value;

/// A GraphQL input value with no variables in it.
#[derive(Clone, Debug)]
pub enum Input {
    Null,
    Bool(bool),
    Int(i64),
    /// Finite only: neither GraphQL text nor JSON can write the others.
    Float(f64),
    Str(String),
    List(Vec<Input>),
    Object(Vec<(String, Input)>),
}

impl Input {
    /// `{name: value}`.
    pub fn field(name: &str, value: Input) -> Self {
        Self::Object(vec![(name.to_owned(), value)])
    }

    /// The value as GraphQL text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => write!(out, "{b}").expect("write to a String"),
            Self::Int(i) => write!(out, "{i}").expect("write to a String"),
            // `{:?}` always writes a decimal point or an exponent, so the parser reads a Float, as JSON's does.
            Self::Float(f) => write!(out, "{f:?}").expect("write to a String"),
            // A JSON string is a GraphQL string with the same meaning (both escape `"`, `\` and control characters).
            Self::Str(s) => out.push_str(&Value::from(s.as_str()).to_string()),
            Self::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_text(out);
                }
                out.push(']');
            }
            Self::Object(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(name);
                    out.push_str(": ");
                    value.write_text(out);
                }
                out.push('}');
            }
        }
    }

    /// The same value as JSON, for a variable.
    pub fn json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::from(*b),
            Self::Int(i) => Value::from(*i),
            Self::Float(f) => Value::from(*f),
            Self::Str(s) => Value::from(s.as_str()),
            Self::List(items) => Value::Array(items.iter().map(Self::json).collect()),
            Self::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect()),
        }
    }
}

/// Strings that have broken filters elsewhere: LIKE wildcards and escapes, quotes, SQL, NUL, right-to-left marks,
/// astral characters, and strings long enough to pass SQLite's LIKE pattern limit (50,000 bytes).
pub fn weird_string() -> BoxedStrategy<String> {
    const FIXED: &[&str] = &[
        "",
        " ",
        "%",
        "_",
        "\\",
        "%_\\%",
        "'",
        "''",
        "\"",
        "' OR 1=1 --",
        "\0",
        "a\0b",
        "\u{202e}moc.elpmaxe",
        "Zoë 😀 ﷽",
        "ǅ",
        "İ",
        "ß",
        "lead",
        "customer",
        "@",
        "Zoe_100%",
        "\"\"\"",
        "\\u0000",
        "*",
        "NEAR(a b)",
        "a OR b",
        "\"a\" \"b\"",
        "a:b",
        "^a",
        "-a",
    ];
    prop_oneof![
        4 => proptest::sample::select(FIXED).prop_map(str::to_owned),
        3 => any::<String>(),
        2 => "[a-z%_ ]{0,12}",
    ]
    .boxed()
}

/// A weird string, or now and then one of up to 70,000 characters (280 KB).
pub fn weird_or_long_string() -> BoxedStrategy<String> {
    let long = (proptest::sample::select(["a", "%", "é", "😀", "\\", "\""].as_slice()), 1usize..70_000)
        .prop_map(|(s, n)| s.repeat(n));
    prop_oneof![9 => weird_string(), 1 => long].boxed()
}

/// Integers inside and outside `Int`'s 32 bits.
pub fn weird_int() -> BoxedStrategy<i64> {
    prop_oneof![
        4 => -3i64..1000,
        2 => any::<i32>().prop_map(i64::from),
        1 => any::<i64>(),
        1 => proptest::sample::select(vec![
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MIN,
            i64::MAX,
        ]),
    ]
    .boxed()
}

/// Finite floats, the extremes and the subnormals included.
pub fn weird_float() -> BoxedStrategy<f64> {
    prop_oneof![
        3 => -1e6f64..1e9,
        1 => proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        1 => proptest::sample::select(vec![f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324, -0.0, 1e-7]),
    ]
    .boxed()
}

/// Dates as a caller writes them: valid, out of chrono's range, impossible, partial, or not dates at all.
pub fn weird_date() -> BoxedStrategy<String> {
    const FIXED: &[&str] = &[
        "2026-06-15T12:00:00Z",
        "1970-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "+275760-09-13T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "2026-02-30T00:00:00Z",
        "2026-06-15T12:00:00+14:00",
        "2026-06-15T12:00:00-25:00",
        "2026-06-15",
        "12:00:00",
        "now",
        "",
        "2026-06-15T12:00:00.12345678901234567890Z",
    ];
    prop_oneof![
        4 => proptest::sample::select(FIXED).prop_map(str::to_owned),
        1 => (0i64..=9999, 1u32..=12, 1u32..=31, 0u32..=24)
            .prop_map(|(y, m, d, h)| format!("{y:04}-{m:02}-{d:02}T{h:02}:00:00Z")),
        1 => weird_string(),
    ]
    .boxed()
}

/// Any scalar, of any type: what a field gets when the caller sends the wrong type.
pub fn any_scalar() -> BoxedStrategy<Input> {
    prop_oneof![
        Just(Input::Null),
        any::<bool>().prop_map(Input::Bool),
        weird_int().prop_map(Input::Int),
        weird_float().prop_map(Input::Float),
        weird_string().prop_map(Input::Str),
        Just(Input::List(vec![])),
        Just(Input::Object(vec![])),
    ]
    .boxed()
}

/// List lengths: mostly short, and around and far past the 1,000 values an input list may hold.
pub fn list_len() -> BoxedStrategy<usize> {
    prop_oneof![6 => 0usize..4, 1 => 995usize..1006, 1 => 1006usize..2500].boxed()
}

/// A list of `len()` values: short lists hold distinct values, long ones repeat one (generating a thousand
/// distinct values per case costs time and finds nothing more).
pub fn list_of(value: BoxedStrategy<Input>) -> BoxedStrategy<Input> {
    list_len()
        .prop_flat_map(move |len| {
            if len < 4 {
                vec(value.clone(), len).prop_map(Input::List).boxed()
            } else {
                value.clone().prop_map(move |v| Input::List(vec![v; len])).boxed()
            }
        })
        .boxed()
}
