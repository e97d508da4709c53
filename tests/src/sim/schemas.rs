//! Custom object schemas v3, over each portal's custom object types:
//! - `GET /crm/v3/schemas` → `{results: [Schema]}` (`?archived=true`: the archived ones), each with its properties and
//!   the association types it defines;
//! - `GET /crm/v3/schemas/{objectType}` (its `objectTypeId`, `fullyQualifiedName` or `p_{name}`) → `Schema`, 404 when
//!   the portal has no such live type;
//! - `POST /crm/v3/schemas` → 201 `Schema` (see [`super::schema_input::new_schema`]); 409 for a name taken, 400 for a
//!   missing or invalid field;
//! - `PATCH /crm/v3/schemas/{objectType}` `{labels?, primaryDisplayProperty?, requiredProperties?,
//!   searchableProperties?, secondaryDisplayProperties?}` → 200 the type's definition;
//! - `DELETE /crm/v3/schemas/{objectType}` archives it → 204; 400 while it has records, as HubSpot refuses;
//! - `POST /crm/v3/schemas/{objectType}/associations` `{fromObjectTypeId, toObjectTypeId, name?}` → 201 the new
//!   association definition (its inverse is added too, with the next id);
//! - `DELETE /crm/v3/schemas/{objectType}/associations/{associationIdentifier}` removes one direction → 204.
//!
//! HubSpot serves the same under `/crm-object-schemas/v3/schemas`, where its official clients call it.

use axum::{
    Extension, Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use chrono::Utc;
use hubspot::{ObjectSchema, ObjectType};
use serde_json::{Value, json};

use super::{
    Shared,
    crm::Params,
    error::SimError,
    limits::PortalId,
    schema_input::{apply_patch, associated_type, association_pair, new_schema},
    store::{PortalState, schema_not_found},
};

pub fn routes() -> Router<Shared> {
    // HubSpot serves the API under both prefixes; its official clients call the second.
    ["/crm/v3/schemas", "/crm-object-schemas/v3/schemas"].into_iter().fold(Router::new(), |router, base| {
        router
            .route(base, get(list).post(create))
            .route(&format!("{base}/{{type}}"), get(read).patch(update).delete(archive))
            .route(&format!("{base}/{{type}}/associations"), post(add_association))
            .route(&format!("{base}/{{type}}/associations/{{id}}"), delete(remove_association))
    })
}

type Res = Result<Response, SimError>;

/// A schema as HubSpot lists it, with its type's live properties (HubSpot's defaults and the schema's own).
fn render(state: &PortalState, schema: &ObjectSchema) -> Value {
    let mut schema = schema.clone();
    schema.properties = state.schema_properties(schema.object_type);
    schema.to_hubspot_json()
}

/// The live custom type a path names.
fn custom_type(state: &PortalState, name: &str) -> Result<ObjectType, SimError> {
    state.schema_named(name).map(|s| s.object_type).ok_or_else(|| schema_not_found(name))
}

async fn list(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let archived = Params(params).flag("archived");
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let results: Vec<Value> =
        state.schemas.iter().filter(|s| s.archived == archived).map(|s| render(state, s)).collect();
    Ok(Json(json!({ "results": results })).into_response())
}

async fn read(State(sim): State<Shared>, Extension(portal): Extension<PortalId>, Path(ty): Path<String>) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let schema = state.schema_named(&ty).ok_or_else(|| schema_not_found(&ty))?;
    Ok(Json(render(state, schema)).into_response())
}

async fn create(State(sim): State<Shared>, Extension(portal): Extension<PortalId>, Json(body): Json<Value>) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let schema = new_schema(state, &body, Utc::now())?;
    let schema = state.add_schema(schema).clone();
    Ok((StatusCode::CREATED, Json(render(state, &schema))).into_response())
}

async fn update(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(body): Json<Value>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = custom_type(state, &ty)?;
    let defined = state.schema_properties(object_type);
    let schema = state.schemas.iter_mut().find(|s| s.object_type == object_type && !s.archived).expect("found above");
    apply_patch(schema, &defined, &body, Utc::now())?;
    // HubSpot answers a change with the type's definition: the schema without its properties and associations.
    let mut definition = schema.to_hubspot_json();
    if let Some(fields) = definition.as_object_mut() {
        fields.remove("properties");
        fields.remove("associations");
    }
    Ok(Json(definition).into_response())
}

async fn archive(State(sim): State<Shared>, Extension(portal): Extension<PortalId>, Path(ty): Path<String>) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = custom_type(state, &ty)?;
    state.archive_schema(object_type, Utc::now())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn add_association(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(body): Json<Value>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = custom_type(state, &ty)?;
    let end = |key: &str| {
        let name = body.get(key).and_then(Value::as_str).ok_or_else(|| {
            SimError::field_error("REQUIRED_FIELD", format!("Some required fields were not set: {key}"), key)
        })?;
        associated_type(state, name)
    };
    let (from, to) = (end("fromObjectTypeId")?, end("toObjectTypeId")?);
    let other = match (from == object_type, to == object_type) {
        (true, _) => to,
        (false, true) => from,
        _ => return Err(SimError::validation(format!("An association of {ty} must start or end at it"))),
    };
    let schema = state.schema(object_type).expect("found above");
    if schema.association_to(other).is_some() && schema.association_from(other).is_some() {
        let mut e = SimError::new(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            format!("{ty} already has an association with {}", other.plural()),
        );
        e.errors.push(json!({ "message": e.message, "code": "ASSOCIATION_ALREADY_EXISTS" }));
        return Err(e);
    }
    let mut pair = association_pair(&schema.name, object_type, state, other, state.fresh_association_id());
    if let Some(name) = body.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        pair[0].name = name.to_owned();
    }
    // The direction asked for is the one answered.
    let answered = if from == object_type { pair[0].clone() } else { pair[1].clone() };
    let schema = state.schemas.iter_mut().find(|s| s.object_type == object_type && !s.archived).expect("found above");
    schema.associations.extend(pair);
    schema.updated_at = Some(Utc::now());
    let mut out = answered.to_hubspot_json();
    out["createdAt"] = json!(hubspot::iso(Utc::now()));
    out["updatedAt"] = out["createdAt"].clone();
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn remove_association(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id)): Path<(String, String)>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = custom_type(state, &ty)?;
    let schema = state.schemas.iter_mut().find(|s| s.object_type == object_type && !s.archived).expect("found above");
    let before = schema.associations.len();
    schema.associations.retain(|a| a.id.to_string() != id);
    if schema.associations.len() == before {
        return Err(SimError::missing(format!("Unable to find association {id} of {ty}")));
    }
    schema.updated_at = Some(Utc::now());
    Ok(StatusCode::NO_CONTENT.into_response())
}
