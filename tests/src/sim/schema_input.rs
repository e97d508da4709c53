//! The bodies of the schemas API, checked as HubSpot checks them: a new custom object type
//! (`POST /crm/v3/schemas`), a change to one (`PATCH /crm/v3/schemas/{objectType}`) and a new association
//! definition (`POST /crm/v3/schemas/{objectType}/associations`).

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hubspot::{ObjectSchema, ObjectType, PropertyDefinition, SchemaAssociation};
use serde_json::{Value, json};

use super::{error::SimError, properties::definition_from, store::PortalState};

/// `{name, labels: {singular, plural}, primaryDisplayProperty?, requiredProperties, searchableProperties?,
/// secondaryDisplayProperties?, properties: [{name, label, type, fieldType, options?}], associatedObjects}` → the
/// schema, with a fresh `objectTypeId` and an association type id per direction for each associated type.
pub fn new_schema(state: &PortalState, body: &Value, now: DateTime<Utc>) -> Result<ObjectSchema, SimError> {
    let name = text(body, "name").ok_or_else(|| required("name"))?;
    let well_formed = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(SimError::field_error(
            "INVALID_OBJECT_TYPE_NAME",
            format!("{name} is not a valid object type name: lowercase letters, digits and underscores, from a letter"),
            "name",
        ));
    }
    if state.schemas.iter().any(|s| s.name == name) {
        let mut e = SimError::new(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            format!("An object type named '{name}' already exists in portal {}", state.portal_id),
        );
        e.errors
            .push(json!({ "message": e.message, "code": "OBJECT_TYPE_ALREADY_EXISTS", "context": { "name": [name] } }));
        return Err(e);
    }
    let labels = body.get("labels").ok_or_else(|| required("labels"))?;
    let singular = text(labels, "singular").ok_or_else(|| required("labels.singular"))?;
    let plural = text(labels, "plural").ok_or_else(|| required("labels.plural"))?;
    let object_type = state
        .fresh_object_type()
        .ok_or_else(|| SimError::validation("The portal cannot hold another custom object type"))?;
    let inputs = body.get("properties").and_then(Value::as_array).ok_or_else(|| required("properties"))?;
    let mut defined = hubspot::default_properties(object_type);
    let mut properties = Vec::with_capacity(inputs.len());
    for input in inputs {
        let property = definition_from(object_type, &defined, &with_defaults(input, name), now)?;
        defined.push(property.clone());
        properties.push(property);
    }
    let associated =
        body.get("associatedObjects").and_then(Value::as_array).ok_or_else(|| required("associatedObjects"))?;
    let mut schema = ObjectSchema {
        id: object_type.type_id().trim_start_matches("2-").to_owned(),
        object_type,
        fully_qualified_name: format!("p{}_{name}", state.portal_id),
        name: name.to_owned(),
        singular_label: singular.to_owned(),
        plural_label: plural.to_owned(),
        primary_display_property: None,
        required_properties: Vec::new(),
        searchable_properties: Vec::new(),
        secondary_display_properties: Vec::new(),
        properties,
        associations: Vec::new(),
        archived: false,
        created_at: Some(now),
        updated_at: Some(now),
    };
    if body.get("requiredProperties").is_none() {
        return Err(required("requiredProperties"));
    }
    set_display(&mut schema, &defined, body)?;
    let mut next_id = state.fresh_association_id();
    for other in associated {
        let other = other.as_str().ok_or_else(|| SimError::validation("associatedObjects lists object type names"))?;
        let other = associated_type(state, other)?;
        for association in association_pair(&schema.name, object_type, state, other, next_id) {
            schema.associations.push(association);
        }
        next_id += 2;
    }
    Ok(schema)
}

/// A `PATCH` body's labels and property lists onto `schema`; each name must be one of the type's live `defined`.
pub fn apply_patch(
    schema: &mut ObjectSchema,
    defined: &[PropertyDefinition],
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(), SimError> {
    let mut changed = schema.clone();
    if let Some(labels) = body.get("labels") {
        if let Some(singular) = text(labels, "singular") {
            changed.singular_label = singular.to_owned();
        }
        if let Some(plural) = text(labels, "plural") {
            changed.plural_label = plural.to_owned();
        }
    }
    set_display(&mut changed, defined, body)?;
    changed.updated_at = Some(now);
    *schema = changed;
    Ok(())
}

/// The association definitions between `schema`'s type and `other`, one per direction (ids `first`, `first + 1`).
pub fn association_pair(
    name: &str,
    object_type: ObjectType,
    state: &PortalState,
    other: ObjectType,
    first: i32,
) -> [SchemaAssociation; 2] {
    let other_name = state.schema(other).map_or_else(|| other.singular().to_owned(), |s| s.name.clone());
    let link = |id, from: ObjectType, to: ObjectType, label: String| SchemaAssociation {
        id,
        name: label,
        from_object_type_id: from.type_id().to_owned(),
        to_object_type_id: to.type_id().to_owned(),
    };
    [
        link(first, object_type, other, format!("{name}_to_{other_name}")),
        link(first + 1, other, object_type, format!("{other_name}_to_{name}")),
    ]
}

/// A type `associatedObjects` or an association definition names: HubSpot's upper-case names of the built-in types
/// (`CONTACT`), their ids (`0-1`), or one of the portal's custom types.
pub fn associated_type(state: &PortalState, name: &str) -> Result<ObjectType, SimError> {
    let built_in = ObjectType::BUILT_IN.into_iter().find(|t| t.singular().eq_ignore_ascii_case(name));
    built_in.map_or_else(|| state.object_type(name), Ok).map_err(|_| {
        SimError::field_error(
            "INVALID_OBJECT_TYPE",
            format!("{name} is not an object type a custom object can be associated with"),
            "associatedObjects",
        )
    })
}

/// `primaryDisplayProperty`, `requiredProperties`, `searchableProperties` and `secondaryDisplayProperties` from a
/// body, where given; each must name a property the type defines.
fn set_display(schema: &mut ObjectSchema, defined: &[PropertyDefinition], body: &Value) -> Result<(), SimError> {
    let known = |field: &str, name: &str| {
        if defined.iter().any(|p| p.name == name && !p.archived) {
            Ok(name.to_owned())
        } else {
            Err(SimError::field_error(
                "PROPERTY_DOESNT_EXIST",
                format!("{field} names {name}, a property the object type does not define"),
                field,
            ))
        }
    };
    if let Some(name) = text(body, "primaryDisplayProperty") {
        schema.primary_display_property = Some(known("primaryDisplayProperty", name)?);
    }
    for (field, list) in [
        ("requiredProperties", &mut schema.required_properties),
        ("searchableProperties", &mut schema.searchable_properties),
        ("secondaryDisplayProperties", &mut schema.secondary_display_properties),
    ] {
        let Some(given) = body.get(field) else { continue };
        let names = given.as_array().ok_or_else(|| SimError::validation(format!("{field} must be a list of names")))?;
        *list = names
            .iter()
            .map(|n| known(field, n.as_str().unwrap_or_default()))
            .collect::<Result<Vec<String>, SimError>>()?;
    }
    Ok(())
}

/// A schema's property body with what HubSpot fills in there: the type's own group, a field type that suits the type.
fn with_defaults(input: &Value, schema_name: &str) -> Value {
    let mut input = input.clone();
    if input.get("groupName").and_then(Value::as_str).is_none() {
        input["groupName"] = json!(format!("{schema_name}_information"));
    }
    if input.get("fieldType").and_then(Value::as_str).is_none() {
        let field_type = match input.get("type").and_then(Value::as_str).unwrap_or_default() {
            "number" => "number",
            "date" | "datetime" => "date",
            "enumeration" => "select",
            "bool" => "booleancheckbox",
            _ => "text",
        };
        input["fieldType"] = json!(field_type);
    }
    input
}

fn text<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn required(field: &str) -> SimError {
    SimError::field_error("REQUIRED_FIELD", format!("Some required fields were not set: {field}"), field)
}
