//! Webhook deliveries of any body, correctly signed v3, and event arrays of any shape: each is stored or refused
//! with a 4xx whose message says what is wrong, never a panic and never a 503 (HubSpot would retry it for a day,
//! and it would fail every time).

use proptest::{collection::vec, prelude::*};
use serde_json::{Value, json};

use super::input::weird_string;

/// The portal the test mirror serves.
pub const PORTAL: i64 = 4242;

/// A JSON value of any shape and, among strings, NULs and control characters (which not every database stores).
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        weird_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(weird_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// An event as HubSpot sends it, for the served portal or another, with some fields replaced by anything.
fn event(now_ms: i64) -> BoxedStrategy<Value> {
    const KINDS: [&str; 7] =
        ["creation", "deletion", "propertyChange", "merge", "restore", "associationChange", "privacyDeletion"];
    const TYPES: [&str; 6] = ["contact", "company", "deal", "ticket", "object", "p_machines"];
    let occurred = prop_oneof![3 => (now_ms - 86_400_000)..(now_ms + 1_000), 1 => any::<i64>()];
    (
        proptest::sample::select(TYPES.as_slice()),
        proptest::sample::select(KINDS.as_slice()),
        prop_oneof![3 => Just(PORTAL), 1 => any::<i64>()],
        occurred,
        any::<i64>(),
        weird_string(),
        any_json(),
        proptest::option::weighted(0.2, (weird_string(), any_json())),
    )
        .prop_map(|(object, kind, portal, occurred, object_id, property, value, extra)| {
            let mut event = json!({
                "eventId": object_id.wrapping_mul(31),
                "subscriptionId": 1,
                "portalId": portal,
                "appId": 1,
                "occurredAt": occurred,
                "subscriptionType": format!("{object}.{kind}"),
                "attemptNumber": 0,
                "objectId": object_id,
                "objectTypeId": "0-1",
                "propertyName": property,
                "propertyValue": value,
                "changeSource": "CRM",
            });
            if let (Some((key, value)), Value::Object(fields)) = (extra, &mut event) {
                fields.insert(key, value);
            }
            event
        })
        .boxed()
}

/// A delivery's body: any bytes, any JSON, or an array of events.
pub fn body(now_ms: i64) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..128),
        1 => any_json().prop_map(|v| v.to_string().into_bytes()),
        4 => vec(prop_oneof![6 => event(now_ms), 1 => any_json()], 0..5)
            .prop_map(|events| Value::Array(events).to_string().into_bytes()),
    ]
    .boxed()
}
