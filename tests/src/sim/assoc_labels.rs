//! Association labels v4 (HubSpot's association schema API) between two object types:
//! - `GET /crm/v4/associations/{from}/{to}/labels` → `{results: [{category, typeId, label}]}`, every type defined in
//!   that direction, HubSpot's built-in ones first (label `null`, or `Primary`);
//! - `POST` same path `{label, name, inverseLabel?}` → 200 `{results}`: the new type in this direction, then its
//!   inverse; a name already used between the two types is a 409;
//! - `PUT` same path `{associationTypeId, label, inverseLabel?}` → 204; links already made report the new label;
//! - `DELETE …/labels/{associationTypeId}` → 204. HubSpot refuses to delete a label records still use (the admin
//!   must remove it from them first), so a label in use is a 400 and stays defined.

use axum::{
    Extension, Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get},
};
use hubspot::{AssociationKind, AssociationLabel, ObjectType};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Shared,
    error::SimError,
    limits::PortalId,
    store::{AssocType, PortalState, object_type},
};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/crm/v4/associations/{from}/{to}/labels", get(list).post(create).put(rename))
        .route("/crm/v4/associations/{from}/{to}/labels/{type_id}", delete(remove))
}

type Res = Result<Response, SimError>;

/// The body of HubSpot's label create.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewLabel {
    #[serde(default)]
    label: String,
    #[serde(default)]
    name: String,
    inverse_label: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rename {
    association_type_id: i32,
    #[serde(default)]
    label: String,
    inverse_label: Option<String>,
}

fn ends(from: &str, to: &str) -> Result<(ObjectType, ObjectType), SimError> {
    Ok((object_type(from)?, object_type(to)?))
}

fn results(types: impl IntoIterator<Item = AssocType>) -> Value {
    json!({ "results": types.into_iter().map(|t| t.to_json()).collect::<Vec<_>>() })
}

fn user_type(label: &AssociationLabel) -> AssocType {
    AssocType { category: super::labels::USER_DEFINED.into(), type_id: label.type_id, label: Some(label.label.clone()) }
}

async fn list(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, to)): Path<(String, String)>,
) -> Res {
    let (from, to) = ends(&from, &to)?;
    let mut world = sim.world.lock().expect("simulator state");
    Ok(Json(results(world.portal_mut(portal).labels.between(from, to))).into_response())
}

/// Defines a label in `state`: the answer of HubSpot's create (this direction, then the inverse).
pub fn define(state: &mut PortalState, from: ObjectType, to: ObjectType, body: &NewLabel) -> Result<Value, SimError> {
    let pair = state.labels.define(from, to, &body.name, &body.label, body.inverse_label.as_deref())?;
    Ok(results([user_type(&pair), user_type(&pair.inverse())]))
}

async fn create(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, to)): Path<(String, String)>,
    Json(body): Json<NewLabel>,
) -> Res {
    let (from, to) = ends(&from, &to)?;
    let mut world = sim.world.lock().expect("simulator state");
    Ok(Json(define(world.portal_mut(portal), from, to, &body)?).into_response())
}

async fn rename(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, to)): Path<(String, String)>,
    Json(body): Json<Rename>,
) -> Res {
    let (from, to) = ends(&from, &to)?;
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let pair = state.labels.rename(from, to, body.association_type_id, &body.label, body.inverse_label.as_deref())?;
    state.relabel(pair.from, pair.to, pair.type_id, &pair.label);
    state.relabel(pair.to, pair.from, pair.inverse_type_id, pair.inverse_label());
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, to, type_id)): Path<(String, String, String)>,
) -> Res {
    let (from, to) = ends(&from, &to)?;
    let type_id: i32 =
        type_id.parse().map_err(|_| SimError::validation(format!("{type_id} is not an association type id")))?;
    if AssociationKind::by_type_id(type_id).is_some() {
        return Err(SimError::validation(format!(
            "Association type {type_id} is defined by HubSpot and cannot be deleted"
        )));
    }
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    if state.type_in_use(from, to, type_id) {
        return Err(SimError::validation(format!(
            "Association label {type_id} is still used by associations between {} and {}: remove it from them first",
            from.plural(),
            to.plural()
        )));
    }
    state.labels.remove(from, to, type_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
