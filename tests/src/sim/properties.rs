//! Properties v3: `GET /crm/v3/properties/{objectType}` (`?archived=true` for the archived ones) and
//! `GET /crm/v3/properties/{objectType}/{name}`, over each portal's definitions: HubSpot's own
//! ([`hubspot::default_properties`]) and the portal's custom ones.

use axum::{
    Extension, Json, Router,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use super::{Shared, crm::Params, error::SimError, limits::PortalId, store::object_type};

pub fn routes() -> Router<Shared> {
    Router::new().route("/crm/v3/properties/{type}", get(list)).route("/crm/v3/properties/{type}/{name}", get(read))
}

type Res = Result<Response, SimError>;

async fn list(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let (object_type, archived) = (object_type(&ty)?, Params(params).flag("archived"));
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
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
    let (object_type, archived) = (object_type(&ty)?, Params(params).flag("archived"));
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    state.properties[&object_type]
        .iter()
        .find(|p| p.name == name && p.archived == archived)
        .map(|p| Json(p.to_hubspot_json()).into_response())
        .ok_or_else(|| SimError::missing(format!("Unable to find property {name} for object type {ty}")))
}
