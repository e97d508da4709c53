//! The custom properties a real portal's admins add, and their values on some records. Drawn from a stream of
//! their own, after everything else, so that every built-in value stays what it was before they existed.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use hubspot::{CrmObject, ObjectType, PropertyDefinition, PropertyOption};

use crate::model::PortalSpec;

/// `(type, name, label, property type, field type, options as (value, label))`.
type Custom =
    (ObjectType, &'static str, &'static str, &'static str, &'static str, &'static [(&'static str, &'static str)]);

const CUSTOM: &[Custom] = &[
    (ObjectType::Contact, "renewal_date", "Renewal date", "date", "date", &[]),
    (
        ObjectType::Contact,
        "tier",
        "Tier",
        "enumeration",
        "select",
        &[("gold", "Gold"), ("silver", "Silver"), ("bronze", "Bronze")],
    ),
    (ObjectType::Contact, "custom_score", "Custom score", "number", "number", &[]),
    (
        ObjectType::Company,
        "account_health",
        "Account health",
        "enumeration",
        "select",
        &[("healthy", "Healthy"), ("at_risk", "At risk"), ("churning", "Churning")],
    ),
    (
        ObjectType::Deal,
        "forecast_category",
        "Forecast category",
        "enumeration",
        "select",
        &[("pipeline", "Pipeline"), ("best_case", "Best case"), ("commit", "Commit"), ("omitted", "Omitted")],
    ),
];

/// The share of records that hold a value of each custom property.
const FILLED: f64 = 0.3;

/// The portal's custom property definitions, made when the portal was set up (`setup`).
pub(crate) fn definitions(setup: DateTime<Utc>) -> Vec<(ObjectType, PropertyDefinition)> {
    CUSTOM
        .iter()
        .map(|&(object_type, name, label, property_type, field_type, options)| {
            let mut p = PropertyDefinition::custom(name, label, property_type, field_type);
            p.group_name = format!("{}information", object_type.singular());
            p.options = options
                .iter()
                .zip(0..)
                .map(|(&(value, label), display_order)| PropertyOption {
                    label: label.to_owned(),
                    value: value.to_owned(),
                    display_order,
                    hidden: false,
                })
                .collect();
            p.created_at = Some(setup);
            p.updated_at = Some(setup);
            (object_type, p)
        })
        .collect()
}

/// Sets custom values on about [`FILLED`] of the records of each type, from a stream seeded apart from the main one.
pub(crate) fn fill(spec: &PortalSpec, now: DateTime<Utc>, records: [(ObjectType, &mut [CrmObject]); 3]) {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xC0FFEE);
    for (object_type, objects) in records {
        for object in objects.iter_mut().filter(|o| !o.archived) {
            for &(_, name, _, property_type, _, options) in CUSTOM.iter().filter(|c| c.0 == object_type) {
                if !rng.random_bool(FILLED) {
                    continue;
                }
                let value = match property_type {
                    "date" => (now + Duration::days(rng.random_range(-60..365))).format("%Y-%m-%d").to_string(),
                    "number" => rng.random_range(0..100).to_string(),
                    _ => options[rng.random_range(0..options.len())].0.to_owned(),
                };
                object.properties.insert(name.to_owned(), Some(value));
            }
        }
    }
}
