//! Properties v3 over each portal's definitions, HubSpot's own ([`hubspot::default_properties`]) and the portal's
//! custom ones:
//! - `GET /crm/v3/properties/{objectType}` → `{results: [Property]}`, the live ones (`?archived=true`: the archived);
//! - `GET /crm/v3/properties/{objectType}/{name}` → `Property`, 404 when unknown;
//! - `POST /crm/v3/properties/{objectType}` `{name, label, type, fieldType, groupName, description?, options?,
//!   displayOrder?, hasUniqueValue?}` → 201 `Property`; 409 `OBJECT_ALREADY_EXISTS` when the name is taken (archived
//!   ones included), 400 `VALIDATION_ERROR` for a missing field, a bad name or an unknown type;
//! - `PATCH /crm/v3/properties/{objectType}/{name}` `{label?, description?, groupName?, options?, displayOrder?,
//!   fieldType?}` → 200 `Property`; 400 for a HubSpot-defined property (its definition is read-only);
//! - `DELETE /crm/v3/properties/{objectType}/{name}` archives it → 204; 400 for a HubSpot-defined property.
//!
//! An archived property is refused on write as an unknown one is, and ignored on read.

use axum::{
    Extension, Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use hubspot::{ObjectType, PROPERTY_TYPES, PropertyDefinition, PropertyOption};
use serde_json::{Value, json};

use super::{Shared, crm::Params, error::SimError, limits::PortalId, store::PortalState};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/crm/v3/properties/{type}", get(list).post(create))
        .route("/crm/v3/properties/{type}/{name}", get(read).patch(update).delete(archive))
}

type Res = Result<Response, SimError>;

async fn list(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let archived = Params(params).flag("archived");
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let results: Vec<Value> =
        state.properties[&object_type].iter().filter(|p| p.archived == archived).map(|p| p.to_hubspot_json()).collect();
    Ok(Json(json!({ "results": results })).into_response())
}

async fn read(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, name)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let archived = Params(params).flag("archived");
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    state.properties[&object_type]
        .iter()
        .find(|p| p.name == name && p.archived == archived)
        .map(|p| Json(p.to_hubspot_json()).into_response())
        .ok_or_else(|| not_found(&name, object_type))
}

async fn create(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(body): Json<Value>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let created = create_property(state, object_type, &body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn update(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let updated = update_property(state, object_type, &name, &body, Utc::now())?;
    Ok(Json(updated).into_response())
}

async fn archive(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, name)): Path<(String, String)>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let definition = custom_mut(state, object_type, &name)?;
    definition.archived = true;
    definition.updated_at = Some(Utc::now());
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn not_found(name: &str, object_type: ObjectType) -> SimError {
    SimError::missing(format!("Unable to find property {name} for object type {}", object_type.plural()))
}

/// A live property an admin may change: not HubSpot's own.
fn custom_mut<'a>(
    state: &'a mut PortalState,
    object_type: ObjectType,
    name: &str,
) -> Result<&'a mut PropertyDefinition, SimError> {
    let definitions = state.properties.entry(object_type).or_default();
    let definition =
        definitions.iter_mut().find(|p| p.name == name && !p.archived).ok_or_else(|| not_found(name, object_type))?;
    if definition.hubspot_defined {
        return Err(SimError::field_error(
            "READ_ONLY_DEFINITION",
            format!("The property {name} is defined by HubSpot; its definition cannot be changed or archived"),
            "name",
        ));
    }
    Ok(definition)
}

/// Creates a custom property from the body of HubSpot's `POST /crm/v3/properties/{objectType}`; its JSON.
pub fn create_property(
    state: &mut PortalState,
    object_type: ObjectType,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<Value, SimError> {
    let existing = state.properties.get(&object_type).map_or(&[][..], Vec::as_slice);
    let definition = definition_from(object_type, existing, body, now)?;
    let json = definition.to_hubspot_json();
    state.properties.entry(object_type).or_default().push(definition);
    Ok(json)
}

/// A new custom property from the body of HubSpot's `POST /crm/v3/properties/{objectType}`, checked against the
/// type's `existing` definitions (a custom object's schema is made of such bodies too).
pub fn definition_from(
    object_type: ObjectType,
    existing: &[PropertyDefinition],
    body: &Value,
    now: DateTime<Utc>,
) -> Result<PropertyDefinition, SimError> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let missing: Vec<&str> =
        ["name", "label", "type", "fieldType", "groupName"].into_iter().filter(|k| text(k).is_none()).collect();
    if let Some(first) = missing.first() {
        return Err(SimError::field_error(
            "REQUIRED_FIELD",
            format!("Some required fields were not set: {}", missing.join(", ")),
            first,
        ));
    }
    let (name, property_type) = (text("name").unwrap_or_default(), text("type").unwrap_or_default());
    let well_formed = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(SimError::field_error(
            "INVALID_PROPERTY_NAME",
            format!("{name} is not a valid property name: lowercase letters, digits and underscores, from a letter"),
            "name",
        ));
    }
    if !PROPERTY_TYPES.contains(&property_type) {
        return Err(SimError::field_error(
            "INVALID_PROPERTY_TYPE",
            format!("{property_type} is not a valid property type; use one of {}", PROPERTY_TYPES.join(", ")),
            "type",
        ));
    }
    if existing.iter().any(|p| p.name == name) {
        let mut e = SimError::new(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            format!("A property named '{name}' already exists for object type {}", object_type.plural()),
        );
        e.errors
            .push(json!({ "message": e.message, "code": "PROPERTY_ALREADY_EXISTS", "context": { "name": [name] } }));
        return Err(e);
    }
    let mut definition = PropertyDefinition::custom(
        name,
        text("label").unwrap_or_default(),
        property_type,
        text("fieldType").unwrap_or_default(),
    );
    definition.group_name = text("groupName").unwrap_or_default().to_owned();
    definition.description = text("description").unwrap_or_default().to_owned();
    definition.display_order = body.get("displayOrder").and_then(Value::as_i64).unwrap_or(-1) as i32;
    definition.has_unique_value = body.get("hasUniqueValue").and_then(Value::as_bool).unwrap_or(false);
    definition.options = match body.get("options") {
        Some(options) => options_from(options)?,
        None if property_type == "bool" => vec![option("true", "Yes", 0), option("false", "No", 1)],
        None => Vec::new(),
    };
    definition.created_at = Some(now);
    definition.updated_at = Some(now);
    Ok(definition)
}

/// Changes a custom property's label, description, group, options, display order or field type; its JSON.
pub fn update_property(
    state: &mut PortalState,
    object_type: ObjectType,
    name: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<Value, SimError> {
    let options = body.get("options").map(options_from).transpose()?;
    let definition = custom_mut(state, object_type, name)?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    if let Some(label) = text("label") {
        definition.label = label;
    }
    if let Some(description) = text("description") {
        definition.description = description;
    }
    if let Some(group) = text("groupName") {
        definition.group_name = group;
    }
    if let Some(field_type) = text("fieldType") {
        definition.field_type = field_type;
    }
    if let Some(order) = body.get("displayOrder").and_then(Value::as_i64) {
        definition.display_order = order as i32;
    }
    if let Some(options) = options {
        definition.options = options;
    }
    definition.updated_at = Some(now);
    Ok(definition.to_hubspot_json())
}

/// `[{label, value, displayOrder?, hidden?}]`; each needs a label and a value.
fn options_from(value: &Value) -> Result<Vec<PropertyOption>, SimError> {
    let list = value.as_array().ok_or_else(|| SimError::validation("options must be a list"))?;
    list.iter()
        .zip(0..)
        .map(|(o, i)| {
            let field = |key: &str| o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
            let (Some(label), Some(value)) = (field("label"), field("value")) else {
                return Err(SimError::field_error(
                    "REQUIRED_FIELD",
                    format!("options[{i}] needs a label and a value"),
                    "options",
                ));
            };
            let mut option = option(value, label, o.get("displayOrder").and_then(Value::as_i64).unwrap_or(i) as i32);
            option.hidden = o.get("hidden").and_then(Value::as_bool).unwrap_or(false);
            Ok(option)
        })
        .collect()
}

fn option(value: &str, label: &str, display_order: i32) -> PropertyOption {
    PropertyOption { label: label.to_owned(), value: value.to_owned(), display_order, hidden: false }
}
