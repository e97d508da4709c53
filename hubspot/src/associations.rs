//! HubSpot's built-in association types. The v4 API reports each pair once per direction, each direction with
//! its own type id, so every link is written twice.

use crate::{Association, ObjectType};

/// A built-in association type: its id in each direction and whether it marks the primary company.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssociationKind {
    pub from: ObjectType,
    pub to: ObjectType,
    /// Type id from `from` to `to`.
    pub type_id: i32,
    /// Type id of the same link read from `to` to `from`.
    pub inverse_type_id: i32,
    /// Primary links carry the label "Primary".
    pub primary: bool,
}

pub const CONTACT_COMPANY_PRIMARY: AssociationKind = kind(ObjectType::Contact, ObjectType::Company, 1, 2, true);
/// HubSpot adds this unlabeled link next to every primary contact–company link.
pub const CONTACT_COMPANY: AssociationKind = kind(ObjectType::Contact, ObjectType::Company, 279, 280, false);
pub const DEAL_CONTACT: AssociationKind = kind(ObjectType::Deal, ObjectType::Contact, 3, 4, false);
pub const DEAL_COMPANY_PRIMARY: AssociationKind = kind(ObjectType::Deal, ObjectType::Company, 5, 6, true);
pub const CONTACT_TICKET: AssociationKind = kind(ObjectType::Contact, ObjectType::Ticket, 15, 16, false);
pub const TICKET_COMPANY_PRIMARY: AssociationKind = kind(ObjectType::Ticket, ObjectType::Company, 26, 25, true);
pub const DEAL_TICKET: AssociationKind = kind(ObjectType::Deal, ObjectType::Ticket, 27, 28, false);

/// HubSpot's built-in association types between contacts, companies, deals and tickets.
pub const ASSOCIATION_KINDS: [AssociationKind; 7] = [
    CONTACT_COMPANY_PRIMARY,
    CONTACT_COMPANY,
    DEAL_CONTACT,
    DEAL_COMPANY_PRIMARY,
    CONTACT_TICKET,
    TICKET_COMPANY_PRIMARY,
    DEAL_TICKET,
];

const fn kind(from: ObjectType, to: ObjectType, type_id: i32, inverse_type_id: i32, primary: bool) -> AssociationKind {
    AssociationKind { from, to, type_id, inverse_type_id, primary }
}

impl AssociationKind {
    /// The kind with this type id, read in either direction (the inverse has `from` and `to` swapped).
    pub fn by_type_id(type_id: i32) -> Option<AssociationKind> {
        ASSOCIATION_KINDS.iter().find_map(|k| {
            if k.type_id == type_id {
                Some(*k)
            } else if k.inverse_type_id == type_id {
                Some(k.inverse())
            } else {
                None
            }
        })
    }

    /// The type a link between `from` and `to` gets when none is named: the unlabeled one where HubSpot has both
    /// an unlabeled and a primary type.
    pub fn default_between(from: ObjectType, to: ObjectType) -> Option<AssociationKind> {
        let kinds = ASSOCIATION_KINDS.iter().flat_map(|k| [*k, k.inverse()]).filter(|k| k.from == from && k.to == to);
        kinds.min_by_key(|k| k.primary)
    }

    /// The same type read from the other end.
    pub fn inverse(self) -> AssociationKind {
        kind(self.to, self.from, self.inverse_type_id, self.type_id, self.primary)
    }

    /// This direction of a link.
    pub fn association(self, from_id: i64, to_id: i64) -> Association {
        Association {
            from_type: self.from,
            from_id,
            to_type: self.to,
            to_id,
            type_id: self.type_id,
            category: "HUBSPOT_DEFINED".to_owned(),
            label: self.primary.then(|| "Primary".to_owned()),
            primary: self.primary,
        }
    }

    /// Appends the link between `from_id` and `to_id` in both directions.
    pub fn link(self, out: &mut Vec<Association>, from_id: i64, to_id: i64) {
        out.push(self.association(from_id, to_id));
        out.push(self.inverse().association(to_id, from_id));
    }
}

/// A label a portal's admins defined between two object types (category `USER_DEFINED`): a pair of type ids, one
/// per direction, each allocated by the portal. Without an inverse label both directions read `label`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssociationLabel {
    pub from: ObjectType,
    pub to: ObjectType,
    /// The internal name, unique between the pair (`billing_contact`).
    pub name: String,
    pub label: String,
    pub inverse_label: Option<String>,
    /// Type id from `from` to `to`.
    pub type_id: i32,
    /// Type id of the same link read from `to` to `from`.
    pub inverse_type_id: i32,
}

impl AssociationLabel {
    /// The label read from `to` to `from`.
    pub fn inverse_label(&self) -> &str {
        self.inverse_label.as_deref().unwrap_or(&self.label)
    }

    /// This label's direction of a link between `from_id` and `to_id` (the category is `USER_DEFINED`).
    pub fn association(&self, from_id: i64, to_id: i64) -> Association {
        Association {
            from_type: self.from,
            from_id,
            to_type: self.to,
            to_id,
            type_id: self.type_id,
            category: "USER_DEFINED".to_owned(),
            label: Some(self.label.clone()),
            primary: false,
        }
    }

    /// The same label read from the other end.
    pub fn inverse(&self) -> AssociationLabel {
        AssociationLabel {
            from: self.to,
            to: self.from,
            name: self.name.clone(),
            label: self.inverse_label().to_owned(),
            inverse_label: Some(self.label.clone()),
            type_id: self.inverse_type_id,
            inverse_type_id: self.type_id,
        }
    }
}
