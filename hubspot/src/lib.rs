//! HubSpot's CRM domain as the gateway, the simulator and the generator share it: the object types, records, owners,
//! pipelines, campaigns and associations, and the JSON shapes HubSpot's API gives them.

mod associations;
mod default_properties;
mod object_type;
mod properties;
mod records;
mod schemas;
mod time;
mod wire;

pub use associations::{
    ASSOCIATION_KINDS, AssociationKind, AssociationLabel, CONTACT_COMPANY, CONTACT_COMPANY_PRIMARY, CONTACT_TICKET,
    DEAL_COMPANY_PRIMARY, DEAL_CONTACT, DEAL_TICKET, TICKET_COMPANY_PRIMARY,
};
pub use default_properties::default_properties;
pub use object_type::{CustomType, ObjectType};
pub use properties::{PROPERTY_TYPES, PropertyDefinition, PropertyOption};
pub use records::*;
pub use schemas::{ObjectSchema, SchemaAssociation};
pub use time::iso;
