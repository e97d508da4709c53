//! The portal's custom object type, `machines` (the equipment a company runs: a manufacturer's installed base), and
//! its records, about one for every two companies, each linked with its company. Drawn from a stream of its own
//! after everything else, so every built-in value stays what it was before custom objects existed.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use hubspot::{
    Association, CrmObject, ObjectSchema, ObjectType, PropertyDefinition, PropertyOption, SchemaAssociation, iso,
};

use crate::model::PortalSpec;
use crate::time::between;

/// `(value, label)` of the `model` enumeration.
const MODELS: &[(&str, &str)] = &[("mx100", "MX-100"), ("mx200", "MX-200"), ("mx500", "MX-500"), ("ht900", "HT-900")];

/// The first machine's id: custom records have an id sequence of their own.
const FIRST_ID: i64 = 20_000_001;

/// The association type ids the schema defines, per direction (HubSpot gives a custom type's their own ids).
pub const MACHINE_TO_CONTACT: i32 = 1001;
pub const CONTACT_TO_MACHINE: i32 = 1002;
pub const MACHINE_TO_COMPANY: i32 = 1003;
pub const COMPANY_TO_MACHINE: i32 = 1004;

/// The category HubSpot reports for association types a custom object's schema defines.
const CATEGORY: &str = "USER_DEFINED";

/// The machines type of a portal: `2-{portal}0001`, as the simulator numbers the custom types of a portal.
pub fn machine_type(portal_id: i64) -> ObjectType {
    ObjectType::custom(&format!("2-{portal_id}0001")).expect("a well-formed objectTypeId")
}

/// The schema, its records and their links with companies (both directions).
pub(crate) struct Machines {
    pub schema: ObjectSchema,
    pub records: Vec<CrmObject>,
    pub links: Vec<Association>,
}

/// Machines for about half the live `companies`, made when the portal was set up (`setup`), up to `now`.
pub(crate) fn generate(
    spec: &PortalSpec,
    setup: DateTime<Utc>,
    now: DateTime<Utc>,
    companies: &[CrmObject],
) -> Machines {
    let object_type = machine_type(spec.portal_id);
    let schema = schema(spec.portal_id, object_type, setup);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x4D41_4348_494E_4553);
    let live: Vec<&CrmObject> = companies.iter().filter(|c| !c.archived).collect();
    let (mut records, mut links) = (Vec::new(), Vec::new());
    for n in 0..live.len() / 2 {
        let company = live[rng.random_range(0..live.len())];
        let id = FIRST_ID + n as i64;
        let created = between(&mut rng, company.created_at.max(setup), now);
        let updated = between(&mut rng, created, now);
        let (model, model_label) = MODELS[rng.random_range(0..MODELS.len())];
        let serial = rng.random_range(100_000..1_000_000);
        let installed = created - Duration::days(rng.random_range(0..400));
        let values = [
            ("machine_name", format!("{model_label} #{serial}")),
            ("serial_number", format!("SN-{serial}")),
            ("model", model.to_owned()),
            ("installed_on", installed.format("%Y-%m-%d").to_string()),
            ("running_hours", rng.random_range(0..40_000).to_string()),
            ("hs_object_id", id.to_string()),
            ("hs_createdate", iso(created)),
            ("hs_lastmodifieddate", iso(updated)),
        ];
        let properties = values.into_iter().map(|(k, v)| (k.to_owned(), Some(v))).collect();
        records.push(CrmObject { id, properties, created_at: created, updated_at: updated, archived: false });
        links.push(link(object_type, id, ObjectType::Company, company.id, MACHINE_TO_COMPANY));
        links.push(link(ObjectType::Company, company.id, object_type, id, COMPANY_TO_MACHINE));
    }
    Machines { schema, records, links }
}

fn link(from_type: ObjectType, from_id: i64, to_type: ObjectType, to_id: i64, type_id: i32) -> Association {
    Association {
        from_type,
        from_id,
        to_type,
        to_id,
        type_id,
        category: CATEGORY.to_owned(),
        label: None,
        primary: false,
    }
}

fn schema(portal_id: i64, object_type: ObjectType, setup: DateTime<Utc>) -> ObjectSchema {
    let property = |name: &str, label: &str, property_type: &str, field_type: &str, options: &[(&str, &str)]| {
        let mut p = PropertyDefinition::custom(name, label, property_type, field_type);
        p.group_name = "machines_information".to_owned();
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
        p
    };
    let own = object_type.type_id();
    let association = |id: i32, name: &str, from: &str, to: &str| SchemaAssociation {
        id,
        name: name.to_owned(),
        from_object_type_id: from.to_owned(),
        to_object_type_id: to.to_owned(),
    };
    let (contact, company) = (ObjectType::Contact.type_id(), ObjectType::Company.type_id());
    ObjectSchema {
        id: own.trim_start_matches("2-").to_owned(),
        object_type,
        name: "machines".to_owned(),
        fully_qualified_name: format!("p{portal_id}_machines"),
        singular_label: "Machine".to_owned(),
        plural_label: "Machines".to_owned(),
        primary_display_property: Some("machine_name".to_owned()),
        required_properties: vec!["machine_name".to_owned()],
        searchable_properties: vec!["machine_name".to_owned(), "serial_number".to_owned()],
        secondary_display_properties: vec!["model".to_owned()],
        properties: vec![
            property("machine_name", "Machine name", "string", "text", &[]),
            property("serial_number", "Serial number", "string", "text", &[]),
            property("model", "Model", "enumeration", "select", MODELS),
            property("installed_on", "Installed on", "date", "date", &[]),
            property("running_hours", "Running hours", "number", "number", &[]),
        ],
        associations: vec![
            association(MACHINE_TO_CONTACT, "machines_to_contact", own, contact),
            association(CONTACT_TO_MACHINE, "contact_to_machines", contact, own),
            association(MACHINE_TO_COMPANY, "machines_to_company", own, company),
            association(COMPANY_TO_MACHINE, "company_to_machines", company, own),
        ],
        archived: false,
        created_at: Some(setup),
        updated_at: Some(setup),
    }
}
