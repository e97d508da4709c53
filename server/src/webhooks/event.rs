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
}
