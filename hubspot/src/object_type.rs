//! The CRM object types that have records, properties and associations, and their names on the wire: HubSpot's
//! built-in ones and a portal's custom object types.

use std::{
    collections::BTreeSet,
    fmt,
    sync::{LazyLock, Mutex},
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The CRM object types that have records, properties and associations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    Contact,
    Company,
    Deal,
    Ticket,
    /// A portal's own object type (HubSpot's custom objects), named by its `objectTypeId`.
    Custom(CustomType),
}

/// A custom object type's `objectTypeId` (`2-1234567`): HubSpot's stable name for it, accepted in every REST path
/// and carried by its webhook events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomType(&'static str);

impl fmt::Debug for CustomType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The custom type ids seen, each kept once for the life of the process so `ObjectType` stays `Copy` and its names
/// `&'static str`. Bounded: a portal has a handful of custom types, and ids past the bound are refused.
static INTERNED: LazyLock<Mutex<BTreeSet<&'static str>>> = LazyLock::new(Mutex::default);
const MAX_CUSTOM_TYPES: usize = 4096;

impl CustomType {
    /// The type with this `objectTypeId`; `None` unless it has HubSpot's form (`2-` and digits).
    pub fn new(object_type_id: &str) -> Option<CustomType> {
        let digits = object_type_id.strip_prefix("2-")?;
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut interned = INTERNED.lock().expect("custom type ids");
        if let Some(known) = interned.get(object_type_id) {
            return Some(CustomType(known));
        }
        if interned.len() >= MAX_CUSTOM_TYPES {
            return None;
        }
        let leaked: &'static str = Box::leak(object_type_id.to_owned().into_boxed_str());
        interned.insert(leaked);
        Some(CustomType(leaked))
    }

    pub fn id(self) -> &'static str {
        self.0
    }
}

impl ObjectType {
    /// HubSpot's built-in types; a portal's custom types come from its schemas.
    pub const BUILT_IN: [ObjectType; 4] = [Self::Contact, Self::Company, Self::Deal, Self::Ticket];

    /// A custom type by its `objectTypeId`.
    pub fn custom(object_type_id: &str) -> Option<ObjectType> {
        CustomType::new(object_type_id).map(Self::Custom)
    }

    /// The type a mirror row names: a built-in singular name (`contact`) or a custom type's `objectTypeId`.
    pub fn from_singular(name: &str) -> Option<ObjectType> {
        Self::BUILT_IN.into_iter().find(|t| t.singular() == name).or_else(|| Self::custom(name))
    }

    /// The type a REST path names: a built-in plural (`contacts`), HubSpot's ids for them (`0-1`), or a custom
    /// type's `objectTypeId`.
    pub fn from_path(name: &str) -> Option<ObjectType> {
        Self::BUILT_IN
            .into_iter()
            .find(|t| t.plural() == name || t.singular() == name || t.type_id() == name)
            .or_else(|| Self::custom(name))
    }

    pub fn is_custom(self) -> bool {
        matches!(self, Self::Custom(_))
    }

    /// Singular name as stored in the mirror's tables (`contact`; a custom type's `objectTypeId`).
    pub fn singular(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Company => "company",
            Self::Deal => "deal",
            Self::Ticket => "ticket",
            Self::Custom(t) => t.0,
        }
    }

    /// Name as used in HubSpot's REST paths (`contacts`; a custom type's `objectTypeId`).
    pub fn plural(self) -> &'static str {
        match self {
            Self::Contact => "contacts",
            Self::Company => "companies",
            Self::Deal => "deals",
            Self::Ticket => "tickets",
            Self::Custom(t) => t.0,
        }
    }

    /// HubSpot's `objectTypeId` (`0-1` for contacts).
    pub fn type_id(self) -> &'static str {
        match self {
            Self::Contact => "0-1",
            Self::Company => "0-2",
            Self::Deal => "0-3",
            Self::Ticket => "0-5",
            Self::Custom(t) => t.0,
        }
    }

    /// The property holding the last-modified time: `lastmodifieddate` for contacts, `hs_lastmodifieddate`
    /// for the others (HubSpot's naming is historical).
    pub fn last_modified_property(self) -> &'static str {
        match self {
            Self::Contact => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }
}

impl Serialize for ObjectType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.singular())
    }
}

impl<'de> Deserialize<'de> for ObjectType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_singular(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown object type `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_custom_ids_are_checked() {
        for t in ObjectType::BUILT_IN {
            assert_eq!(ObjectType::from_singular(t.singular()), Some(t));
            assert_eq!(ObjectType::from_path(t.plural()), Some(t));
            assert_eq!(ObjectType::from_path(t.type_id()), Some(t));
        }
        let custom = ObjectType::custom("2-1234567").expect("a custom id");
        assert_eq!(custom.plural(), "2-1234567");
        assert_eq!(ObjectType::from_singular("2-1234567"), Some(custom));
        assert_eq!(serde_json::to_string(&custom).unwrap(), "\"2-1234567\"");
        assert_eq!(serde_json::from_str::<ObjectType>("\"deal\"").unwrap(), ObjectType::Deal);
        for bad in ["2-", "2-x1", "3-12", "p_machines", ""] {
            assert_eq!(ObjectType::custom(bad), None, "{bad}");
        }
    }
}
