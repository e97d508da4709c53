//! A record read from HubSpot merged into the version the mirror holds, per property: a property the read did not
//! ask for keeps its value, and a value changed after the read's `updatedAt` (a webhook) is not overwritten.

use std::collections::BTreeMap;

use entities::object_properties;
use hubspot::CrmObject;

/// Per property, when its value held changed (ms): the recorded change time, else the held version's `updatedAt`.
pub(super) fn held_times(row: &object_properties::Model) -> (BTreeMap<String, Option<String>>, BTreeMap<String, i64>) {
    let properties: BTreeMap<String, Option<String>> = serde_json::from_str(&row.properties).unwrap_or_default();
    let mut times: BTreeMap<String, i64> = serde_json::from_str(&row.property_times).unwrap_or_default();
    let version_ms = row.updated_at.timestamp_millis();
    for key in properties.keys() {
        times.entry(key.clone()).or_insert(version_ms);
    }
    (properties, times)
}

/// `read` merged into `held`, with the change times to store; `None` when the read is older than the version held
/// (it changes nothing).
pub(super) fn merge(held: Option<&object_properties::Model>, read: &CrmObject) -> Option<(CrmObject, String)> {
    let Some(row) = held else {
        return Some((read.clone(), "{}".to_owned()));
    };
    if read.updated_at < row.updated_at {
        return None;
    }
    let (mut properties, mut times) = held_times(row);
    let read_ms = read.updated_at.timestamp_millis();
    for (name, value) in &read.properties {
        if times.get(name).is_some_and(|&at| at > read_ms) {
            continue;
        }
        properties.insert(name.clone(), value.clone());
        times.insert(name.clone(), read_ms);
    }
    let object = CrmObject { properties, ..read.clone() };
    Some((object, serde_json::to_string(&times).unwrap_or_else(|_| "{}".into())))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn held(properties: &[(&str, &str)], times: &str, updated_ms: i64) -> object_properties::Model {
        let map: BTreeMap<&str, &str> = properties.iter().copied().collect();
        object_properties::Model {
            portal_id: 1,
            object_type: "contact".into(),
            hubspot_id: 7,
            properties: serde_json::to_string(&map).unwrap(),
            property_times: times.into(),
            updated_at: at(updated_ms),
        }
    }

    fn read(properties: &[(&str, Option<&str>)], updated_ms: i64) -> CrmObject {
        CrmObject {
            id: 7,
            properties: properties.iter().map(|(k, v)| (k.to_string(), v.map(str::to_owned))).collect(),
            created_at: at(0),
            updated_at: at(updated_ms),
            archived: false,
        }
    }

    #[test]
    fn a_property_the_read_did_not_ask_for_is_kept() {
        let row = held(&[("email", "a@x.io"), ("renewal_date", "2026-03-01")], "{}", 1_000);
        let (object, _) = merge(Some(&row), &read(&[("email", Some("b@x.io"))], 2_000)).unwrap();
        assert_eq!(object.properties["email"].as_deref(), Some("b@x.io"));
        assert_eq!(object.properties["renewal_date"].as_deref(), Some("2026-03-01"));
    }

    #[test]
    fn a_newer_change_survives_a_read_that_predates_it() {
        // A webhook set `tier` at 3,000; HubSpot's answer dates from 2,500 (the change reached the mirror first).
        let row = held(&[("tier", "gold")], r#"{"tier":3000}"#, 2_000);
        let (object, times) =
            merge(Some(&row), &read(&[("tier", Some("silver")), ("city", Some("Oslo"))], 2_500)).unwrap();
        assert_eq!(object.properties["tier"].as_deref(), Some("gold"));
        assert_eq!(object.properties["city"].as_deref(), Some("Oslo"));
        let times: BTreeMap<String, i64> = serde_json::from_str(&times).unwrap();
        assert_eq!((times["tier"], times["city"]), (3_000, 2_500));
    }

    #[test]
    fn an_older_read_changes_nothing_and_a_cleared_value_is_cleared() {
        let row = held(&[("tier", "gold")], "{}", 2_000);
        assert!(merge(Some(&row), &read(&[("tier", Some("bronze"))], 1_000)).is_none());
        let (object, _) =
            merge(Some(&row), &read(&[("tier", None)], 2_000 + Duration::seconds(1).num_milliseconds())).unwrap();
        assert_eq!(object.properties["tier"], None);
    }
}
