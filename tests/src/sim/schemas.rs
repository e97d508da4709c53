//! Custom object schemas v3: `GET /crm/v3/schemas` → `{results: [Schema]}`, each with its properties and the
//! association types it defines.

use axum::{
    Extension, Json, Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use super::{Shared, error::SimError, limits::PortalId};

pub fn routes() -> Router<Shared> {
    Router::new().route("/crm/v3/schemas", get(list))
}

async fn list(State(sim): State<Shared>, Extension(portal): Extension<PortalId>) -> Result<Response, SimError> {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let results: Vec<Value> = state
        .schemas
        .iter()
        .filter(|s| !s.archived)
        .map(|s| {
            let mut schema = s.clone();
            schema.properties = state.properties.get(&s.object_type).cloned().unwrap_or_default();
            schema.properties.retain(|p| !p.archived);
            schema.to_hubspot_json()
        })
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}
