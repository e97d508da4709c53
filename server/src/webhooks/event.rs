//! One event of a delivery, read from HubSpot's JSON: the fields the log indexes, and the whole event as sent.

use serde_json::Value;

/// The kinds the applier knows; others are kept and counted, not applied.
pub const KNOWN_KINDS: [&str; 6] = ["creation", "deletion", "propertyChange", "associationChange", "restore", "merge"];

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub portal_id: i64,
    pub event_id: i64,
    /// `contact.propertyChange` and the like (`subscriptionType`, or the older `eventType`).
    pub subscription_type: String,
    pub object_id: i64,
    /// Milliseconds since the epoch.
    pub occurred_at: i64,
    pub payload: Value,
}

impl Event {
    /// The identity duplicates share: HubSpot does not promise `eventId` is unique on its own.
    pub fn dedupe_key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.portal_id, self.subscription_type, self.object_id, self.occurred_at, self.event_id
        )
    }

    /// Whether the applier knows this type.
    pub fn is_known(&self) -> bool {
        if self.subscription_type == "contact.privacyDeletion" {
            return true;
        }
        self.subscription_type.split_once('.').is_some_and(|(object, kind)| {
            hubspot::ObjectType::from_singular(object).is_some() && KNOWN_KINDS.contains(&kind)
        })
    }
}

/// Reads a delivery: a JSON array of event objects, each with at least `portalId`, `occurredAt` and a type. The
/// error names what is wrong and where.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Event>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Array(items) = value else { return Err("the body is not a JSON array of events".to_owned()) };
    items.into_iter().enumerate().map(|(i, item)| parse_event(item).map_err(|e| format!("event [{i}]: {e}"))).collect()
}

fn parse_event(payload: Value) -> Result<Event, String> {
    if !payload.is_object() {
        return Err("not a JSON object".to_owned());
    }
    let payload = without_nul(payload);
    let int = |key: &str| -> Result<Option<i64>, String> {
        match payload.get(key) {
            None | Some(Value::Null) => Ok(None),
            // Ids may come as numbers or, from some senders, as digit strings.
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| format!("`{key}` is not an integer")),
            Some(Value::String(s)) => s.parse().map(Some).map_err(|_| format!("`{key}` is not an integer")),
            Some(_) => Err(format!("`{key}` is not an integer")),
        }
    };
    let subscription_type = ["subscriptionType", "eventType"]
        .iter()
        .find_map(|key| payload.get(*key).and_then(Value::as_str))
        .ok_or("`subscriptionType` (or `eventType`) is missing")?;
    let subscription_type = typed_subscription(subscription_type, payload.get("objectTypeId").and_then(Value::as_str));
    Ok(Event {
        portal_id: int("portalId")?.ok_or("`portalId` is missing")?,
        event_id: int("eventId")?.unwrap_or(0),
        object_id: int("objectId")?.unwrap_or(0),
        occurred_at: int("occurredAt")?.ok_or("`occurredAt` is missing")?,
        subscription_type,
        payload,
    })
}

/// `payload` with every NUL character (`\u0000`, in a key or a string) replaced by U+FFFD. Postgres stores none in
/// text or JSON, so one would fail the whole delivery's insert for good (a 503 HubSpot retries for a day); no CRM
/// value means anything by it. Depth is bounded by the JSON parser's recursion limit (128).
fn without_nul(value: Value) -> Value {
    let clean = |s: String| if s.contains('\0') { s.replace('\0', "\u{FFFD}") } else { s };
    match value {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (clean(k), without_nul(v))).collect()),
        other => other,
    }
}

/// The subscription type under the name the mirror gives the object type: events of the generic subscriptions
/// (`object.propertyChange`) and of custom objects (`p_machines.creation`) name their type by `objectTypeId`, so
/// `object.creation` of `2-1234567` is logged as `2-1234567.creation` and of `0-1` as `contact.creation`.
fn typed_subscription(subscription_type: &str, object_type_id: Option<&str>) -> String {
    let (object, kind) = subscription_type.split_once('.').unwrap_or((subscription_type, ""));
    let named = hubspot::ObjectType::from_singular(object).is_some();
    match object_type_id.and_then(hubspot::ObjectType::from_path) {
        Some(t) if !named => format!("{}.{kind}", t.singular()),
        _ => subscription_type.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_both_type_fields_and_names_what_is_wrong() {
        let batch =
            br#"[{"portalId":1,"occurredAt":5,"eventId":"7","objectId":9,"subscriptionType":"contact.creation"},
                         {"portalId":1,"occurredAt":6,"eventType":"deal.futureThing","extra":true}]"#;
        let events = parse_batch(batch).unwrap();
        assert_eq!(events[0].event_id, 7);
        assert!(events[0].is_known());
        assert_eq!(events[1].subscription_type, "deal.futureThing");
        assert!(!events[1].is_known());
        assert_eq!(events[0].dedupe_key(), "1:contact.creation:9:5:7");

        assert!(parse_batch(b"{}").unwrap_err().contains("array"));
        assert_eq!(
            parse_batch(br#"[{"occurredAt":1,"eventType":"x"}]"#).unwrap_err(),
            "event [0]: `portalId` is missing"
        );
        assert!(parse_batch(br#"[{"portalId":1,"occurredAt":1}]"#).unwrap_err().contains("subscriptionType"));
        assert!(parse_batch(br#"[1]"#).unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn generic_and_custom_subscriptions_are_named_by_their_object_type() {
        let batch =
            br#"[{"portalId":1,"occurredAt":5,"subscriptionType":"object.propertyChange","objectTypeId":"2-77"},
                         {"portalId":1,"occurredAt":5,"subscriptionType":"p1_machines.creation","objectTypeId":"2-77"},
                         {"portalId":1,"occurredAt":5,"subscriptionType":"object.deletion","objectTypeId":"0-3"},
                         {"portalId":1,"occurredAt":5,"subscriptionType":"object.creation"}]"#;
        let events = parse_batch(batch).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.subscription_type.as_str()).collect();
        assert_eq!(types, ["2-77.propertyChange", "2-77.creation", "deal.deletion", "object.creation"]);
        assert!(events[0].is_known() && events[2].is_known());
        assert!(!events[3].is_known());
    }

    #[test]
    fn nul_characters_are_kept_as_replacement_characters() {
        let events = parse_batch(
            br#"[{"portalId":1,"occurredAt":5,"subscriptionType":"contact.property\u0000Change",
            "propertyValue":"a\u0000b","x\u0000":["\u0000"]}]"#,
        )
        .unwrap();
        assert_eq!(events[0].subscription_type, "contact.property\u{FFFD}Change");
        assert_eq!(events[0].payload["propertyValue"], "a\u{FFFD}b");
        assert_eq!(events[0].payload["x\u{FFFD}"][0], "\u{FFFD}");
    }

    /// Any JSON value, a few levels deep: numbers of every range, strings with NULs and digits.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
            "\\PC{0,12}".prop_map(Value::from),
            "[\\x00-\\x1f]{1,3}".prop_map(Value::from),
            "-?[0-9]{1,22}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("\\PC{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An object shaped like an event: HubSpot's field names, each with a plausible value or any other.
    fn event_like() -> impl Strategy<Value = Value> {
        const FIELDS: [&str; 9] = [
            "portalId",
            "occurredAt",
            "eventId",
            "objectId",
            "subscriptionType",
            "eventType",
            "objectTypeId",
            "propertyName",
            "propertyValue",
        ];
        let plausible = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<i64>().prop_map(|n| Value::from(n.to_string())),
            "(contact|company|deal|ticket|object|p_[a-z]{1,6}|[a-z]{0,5})\\.(creation|deletion|propertyChange|merge|restore|associationChange|privacyDeletion|[a-z]{0,5})"
                .prop_map(Value::from),
            "[0-2]-[0-9]{1,4}".prop_map(Value::from),
        ];
        let value = prop_oneof![3 => plausible, 1 => any_json()];
        proptest::collection::vec((proptest::sample::select(FIELDS.to_vec()), value), 0..10)
            .prop_map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
    }

    proptest! {
        #![proptest_config(crate::webhooks::fuzz_config(512))]

        /// Any bytes at all are read as a delivery or refused with a reason (never a panic).
        #[test]
        fn arbitrary_bytes_are_read_or_refused_with_a_reason(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Err(reason) = parse_batch(&body) {
                prop_assert!(reason.starts_with("the body is not") || reason.starts_with("event ["), "{reason}");
            }
        }

        /// Arrays of event-shaped objects: each is read, keeping the whole event as sent (but NULs), or the refusal names
        /// the first event that is wrong and what is wrong with it.
        #[test]
        fn event_arrays_are_read_whole_or_refused_naming_the_event(
            items in proptest::collection::vec(prop_oneof![8 => event_like(), 1 => any_json()], 0..6),
        ) {
            let body = serde_json::to_vec(&items).expect("JSON");
            match parse_batch(&body) {
                Ok(events) => {
                    prop_assert_eq!(events.len(), items.len());
                    for (event, item) in events.iter().zip(&items) {
                        prop_assert_eq!(&event.payload, &without_nul(item.clone()));
                    }
                }
                Err(reason) => {
                    let failed = (0..items.len()).find(|i| reason.starts_with(&format!("event [{i}]: ")));
                    prop_assert!(failed.is_some(), "{}", reason);
                    let i = failed.unwrap_or_default();
                    prop_assert!(parse_batch(&serde_json::to_vec(&items[..i]).expect("JSON")).is_ok());
                    prop_assert!(reason.contains('`') || reason.contains("not a JSON object"), "{}", reason);
                }
            }
        }
    }
}
