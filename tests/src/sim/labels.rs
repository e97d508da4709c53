//! A portal's association types: HubSpot's built-in ones and the labels its admins define (`USER_DEFINED`), each
//! label a pair of type ids, one per direction, allocated by the portal and never reused.

use hubspot::{ASSOCIATION_KINDS, AssociationKind, AssociationLabel, ObjectType};

use super::{error::SimError, store::AssocType};

/// The first type id a portal gives a label: above every built-in id the simulator knows, so the two never meet.
const FIRST_USER_DEFINED: i32 = 1_001;

pub const USER_DEFINED: &str = "USER_DEFINED";
pub const HUBSPOT_DEFINED: &str = "HUBSPOT_DEFINED";

/// The labels a portal defined.
#[derive(Debug)]
pub struct Labels {
    pairs: Vec<AssociationLabel>,
    /// The last type id given; ids of deleted labels are not given again.
    last_id: i32,
}

impl Default for Labels {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl Labels {
    /// The labels a generated portal starts with.
    pub fn new(pairs: Vec<AssociationLabel>) -> Self {
        let last_id = pairs.iter().map(|p| p.type_id.max(p.inverse_type_id)).max().unwrap_or(FIRST_USER_DEFINED - 1);
        Self { pairs, last_id: last_id.max(FIRST_USER_DEFINED - 1) }
    }

    /// Every label, each read in both directions (a label between one type and itself is listed twice).
    fn directed(&self) -> impl Iterator<Item = AssociationLabel> + '_ {
        self.pairs.iter().flat_map(|p| [p.clone(), p.inverse()])
    }

    /// The label with type id `type_id` read from `from` to `to`.
    pub fn find(&self, from: ObjectType, to: ObjectType, type_id: i32) -> Option<AssociationLabel> {
        self.directed().find(|l| l.from == from && l.to == to && l.type_id == type_id)
    }

    /// The object types a user-defined type id links, in its direction.
    pub fn ends(&self, type_id: i32) -> Option<(ObjectType, ObjectType)> {
        self.directed().find(|l| l.type_id == type_id).map(|l| (l.from, l.to))
    }

    /// Every type from `from` to `to` as the labels API lists it: HubSpot's built-in ones, then the portal's.
    pub fn between(&self, from: ObjectType, to: ObjectType) -> Vec<AssocType> {
        let built_in = ASSOCIATION_KINDS
            .iter()
            .flat_map(|k| [*k, k.inverse()])
            .filter(|k| k.from == from && k.to == to)
            .map(built_in_type);
        let defined = self.directed().filter(|l| l.from == from && l.to == to).map(|l| user_type(&l));
        built_in.chain(defined).collect()
    }

    /// Defines a label from `from` to `to`; the pair as defined. A name already used between the two is a conflict.
    pub fn define(
        &mut self,
        from: ObjectType,
        to: ObjectType,
        name: &str,
        label: &str,
        inverse_label: Option<&str>,
    ) -> Result<AssociationLabel, SimError> {
        if name.trim().is_empty() || label.trim().is_empty() {
            return Err(SimError::validation("label and name are required"));
        }
        let same_pair = |p: &&AssociationLabel| (p.from, p.to) == (from, to) || (p.from, p.to) == (to, from);
        if self.pairs.iter().filter(same_pair).any(|p| p.name == name) {
            return Err(SimError::conflict(format!(
                "An association definition named {name} already exists between {} and {}",
                from.plural(),
                to.plural()
            )));
        }
        let pair = AssociationLabel {
            from,
            to,
            name: name.to_owned(),
            label: label.to_owned(),
            inverse_label: inverse_label.map(str::to_owned),
            type_id: self.last_id + 1,
            inverse_type_id: self.last_id + 2,
        };
        self.last_id += 2;
        self.pairs.push(pair.clone());
        Ok(pair)
    }

    /// Renames the label whose id from `from` to `to` is `type_id` (and its inverse when `inverse_label` is given);
    /// the pair as it now reads.
    pub fn rename(
        &mut self,
        from: ObjectType,
        to: ObjectType,
        type_id: i32,
        label: &str,
        inverse_label: Option<&str>,
    ) -> Result<AssociationLabel, SimError> {
        if label.trim().is_empty() {
            return Err(SimError::validation("label is required"));
        }
        let pair = self.pairs.iter_mut().find(|p| {
            ((p.from, p.to) == (from, to) && p.type_id == type_id)
                || ((p.to, p.from) == (from, to) && p.inverse_type_id == type_id)
        });
        let pair = pair.ok_or_else(|| unknown(from, to, type_id))?;
        if (pair.from, pair.to, pair.type_id) == (from, to, type_id) {
            pair.label = label.to_owned();
            if let Some(inverse) = inverse_label {
                pair.inverse_label = Some(inverse.to_owned());
            }
        } else if pair.inverse_label.is_none() && inverse_label.is_none() {
            // One label for both directions: renaming it from either end renames both.
            pair.label = label.to_owned();
        } else {
            pair.inverse_label = Some(label.to_owned());
            if let Some(inverse) = inverse_label {
                pair.label = inverse.to_owned();
            }
        }
        Ok(pair.clone())
    }

    /// Forgets the label whose id from `from` to `to` is `type_id`, both directions; the caller checked no link
    /// uses it.
    pub fn remove(&mut self, from: ObjectType, to: ObjectType, type_id: i32) -> Result<AssociationLabel, SimError> {
        let found = self.find(from, to, type_id).ok_or_else(|| unknown(from, to, type_id))?;
        self.pairs.retain(|p| !(p.type_id == found.type_id || p.inverse_type_id == found.type_id));
        Ok(found)
    }

    /// A type a client named for a link from `from` to `to`, completed with its category and label, and the same
    /// type read from the other end. A type id not defined between the two (or named with the wrong category) is
    /// HubSpot's 400.
    pub fn resolve(
        &self,
        from: ObjectType,
        to: ObjectType,
        asked: &AssocType,
    ) -> Result<(AssocType, AssocType), SimError> {
        let built_in = AssociationKind::by_type_id(asked.type_id).filter(|k| k.from == from && k.to == to);
        let found = match built_in {
            Some(kind) if asked.category == HUBSPOT_DEFINED => {
                Some((built_in_type(kind), built_in_type(kind.inverse())))
            }
            Some(_) => None,
            None if asked.category == USER_DEFINED => {
                self.find(from, to, asked.type_id).map(|l| (user_type(&l), user_type(&l.inverse())))
            }
            None => None,
        };
        found.ok_or_else(|| {
            SimError::validation(format!(
                "associationTypeId {} of category {} is not valid between {} and {}",
                asked.type_id,
                asked.category,
                from.plural(),
                to.plural()
            ))
        })
    }
}

fn unknown(from: ObjectType, to: ObjectType, type_id: i32) -> SimError {
    SimError::missing(format!(
        "No user-defined association type {type_id} between {} and {}",
        from.plural(),
        to.plural()
    ))
}

/// A built-in type as HubSpot reports it: `Primary` on primary links, no label otherwise.
pub fn built_in_type(kind: AssociationKind) -> AssocType {
    AssocType {
        category: HUBSPOT_DEFINED.to_owned(),
        type_id: kind.type_id,
        label: kind.primary.then(|| "Primary".to_owned()),
    }
}

fn user_type(label: &AssociationLabel) -> AssocType {
    AssocType { category: USER_DEFINED.to_owned(), type_id: label.type_id, label: Some(label.label.clone()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(category: &str, type_id: i32) -> AssocType {
        AssocType { category: category.to_owned(), type_id, label: None }
    }

    #[test]
    fn a_label_is_a_pair_of_fresh_ids_read_from_either_end() {
        let mut labels = Labels::default();
        let pair = labels
            .define(ObjectType::Contact, ObjectType::Company, "billing_contact", "Billing contact", Some("Billed"))
            .unwrap();
        assert!(pair.type_id > 280 && pair.inverse_type_id == pair.type_id + 1);
        let (forward, inverse) =
            labels.resolve(ObjectType::Contact, ObjectType::Company, &asked(USER_DEFINED, pair.type_id)).unwrap();
        assert_eq!((forward.label.as_deref(), inverse.type_id), (Some("Billing contact"), pair.inverse_type_id));
        assert_eq!(inverse.label.as_deref(), Some("Billed"));
        let listed = labels.between(ObjectType::Company, ObjectType::Contact);
        assert!(listed.iter().any(|t| t.type_id == 2 && t.label.as_deref() == Some("Primary")));
        assert!(listed.iter().any(|t| t.type_id == pair.inverse_type_id && t.category == USER_DEFINED));
    }

    #[test]
    fn unknown_ids_wrong_categories_and_duplicate_names_are_refused() {
        let mut labels = Labels::default();
        let pair = labels.define(ObjectType::Deal, ObjectType::Contact, "champion", "Champion", None).unwrap();
        assert!(labels.resolve(ObjectType::Deal, ObjectType::Contact, &asked(USER_DEFINED, 4242)).is_err());
        assert!(labels.resolve(ObjectType::Deal, ObjectType::Contact, &asked(HUBSPOT_DEFINED, pair.type_id)).is_err());
        assert!(labels.resolve(ObjectType::Contact, ObjectType::Deal, &asked(USER_DEFINED, pair.type_id)).is_err());
        let again = labels.define(ObjectType::Contact, ObjectType::Deal, "champion", "Other", None).unwrap_err();
        assert_eq!(again.category, "CONFLICT");
    }

    #[test]
    fn renaming_an_unpaired_label_from_either_end_renames_both_and_ids_are_never_reused() {
        let mut labels = Labels::default();
        let pair = labels.define(ObjectType::Contact, ObjectType::Company, "dm", "Decision maker", None).unwrap();
        labels.rename(ObjectType::Company, ObjectType::Contact, pair.inverse_type_id, "Decider", None).unwrap();
        let found = labels.find(ObjectType::Contact, ObjectType::Company, pair.type_id).unwrap();
        assert_eq!((found.label.as_str(), found.inverse_label()), ("Decider", "Decider"));
        labels.remove(ObjectType::Contact, ObjectType::Company, pair.type_id).unwrap();
        let next = labels.define(ObjectType::Contact, ObjectType::Company, "dm", "Decision maker", None).unwrap();
        assert!(next.type_id > pair.inverse_type_id);
    }
}
