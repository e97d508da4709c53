//! `/_sim` controls that change a portal's reference data without a token, as an admin would in HubSpot's app:
//! - `POST /_sim/owners` `{email, firstName, lastName, teams?: [{id, name, primary}]}` → 201 the owner as
//!   `GET /crm/v3/owners` lists it, with fresh `id` and `userId` (HubSpot has no API to add users);
//! - `POST /_sim/properties/{objectType}` with the body of HubSpot's `POST /crm/v3/properties/{objectType}` → as it;
//! - `POST /_sim/pipelines/{objectType}/{pipelineId}/stages` with the body of HubSpot's `POST …/stages` → as it;
//! - `POST /_sim/association-labels/{fromObjectType}/{toObjectType}` with the body of HubSpot's label create
//!   (`{label, name, inverseLabel?}`) → as it (200, the type ids of both directions).
//!
//! Each takes `?portalId=` and acts on the first portal without it (404 for a portal the simulator does not serve).

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use chrono::Utc;
use hubspot::Team;
use serde::Deserialize;
use serde_json::Value;

use super::{
    Shared, World,
    assoc_labels::{NewLabel, define},
    error::SimError,
    properties::create_property,
    reference::{add_stage, pipeline_type},
    store::{PortalState, object_type},
};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/_sim/owners", post(add_owner))
        .route("/_sim/properties/{type}", post(add_property))
        .route("/_sim/pipelines/{type}/{id}/stages", post(add_pipeline_stage))
        .route("/_sim/association-labels/{from}/{to}", post(add_association_label))
}

type Res = Result<Response, SimError>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    portal_id: Option<i64>,
}

fn portal(world: &mut World, target: Target) -> Result<&mut PortalState, SimError> {
    let id = match target.portal_id {
        Some(id) => id,
        None => *world.portals.keys().next().ok_or_else(|| SimError::missing("The simulator serves no portal"))?,
    };
    world.portals.get_mut(&id).ok_or_else(|| SimError::missing(format!("Portal {id} is not simulated")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOwner {
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    teams: Vec<NewTeam>,
}

#[derive(Deserialize)]
struct NewTeam {
    id: String,
    name: String,
    #[serde(default)]
    primary: bool,
}

async fn add_owner(State(sim): State<Shared>, Query(target): Query<Target>, Json(owner): Json<NewOwner>) -> Res {
    if !owner.email.contains('@') {
        return Err(SimError::field_error("INVALID_EMAIL", "An owner needs an email address", "email"));
    }
    let mut world = sim.world.lock().expect("simulator state");
    let state = portal(&mut world, target)?;
    let teams = owner.teams.into_iter().map(|t| Team { id: t.id, name: t.name, primary: t.primary }).collect();
    let added = state.add_owner(&owner.email, &owner.first_name, &owner.last_name, teams, Utc::now());
    Ok((StatusCode::CREATED, Json(added.to_hubspot_json())).into_response())
}

async fn add_property(
    State(sim): State<Shared>,
    Path(ty): Path<String>,
    Query(target): Query<Target>,
    Json(body): Json<Value>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = portal(&mut world, target)?;
    let object_type = state.object_type(&ty)?;
    let created = create_property(state, object_type, &body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn add_pipeline_stage(
    State(sim): State<Shared>,
    Path((ty, id)): Path<(String, String)>,
    Query(target): Query<Target>,
    Json(body): Json<Value>,
) -> Res {
    let ty = pipeline_type(&ty)?;
    let mut world = sim.world.lock().expect("simulator state");
    let created = add_stage(portal(&mut world, target)?, ty, &id, &body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn add_association_label(
    State(sim): State<Shared>,
    Path((from, to)): Path<(String, String)>,
    Query(target): Query<Target>,
    Json(body): Json<NewLabel>,
) -> Res {
    let (from, to) = (object_type(&from)?, object_type(&to)?);
    let mut world = sim.world.lock().expect("simulator state");
    Ok(Json(define(portal(&mut world, target)?, from, to, &body)?).into_response())
}
