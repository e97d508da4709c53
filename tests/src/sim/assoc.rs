//! Associations v4: read one record's associations, put a labelled or default association, delete, and batch.

use axum::{
    Extension, Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use chrono::Utc;
use hubspot::{AssociationKind, ObjectType};
use serde_json::{Value, json};

use super::{
    Shared, batch_times,
    crm::Params,
    error::SimError,
    limits::PortalId,
    store::{AssocType, PortalState, type_id},
};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/crm/v4/objects/{from}/{id}/associations/{to}", get(read))
        .route("/crm/v4/objects/{from}/{id}/associations/{to}/{to_id}", put(put_labelled).delete(remove))
        .route("/crm/v4/objects/{from}/{id}/associations/default/{to}/{to_id}", put(put_default))
        .route("/crm/v4/associations/{from}/{to}/batch/{op}", post(batch))
}

type Res = Result<Response, SimError>;

/// `[{associationCategory, associationTypeId}]` as clients send them.
pub fn specs(value: &Value) -> Result<Vec<AssocType>, SimError> {
    let list = value.as_array().ok_or_else(|| SimError::validation("association types must be a list"))?;
    list.iter()
        .map(|t| {
            let category = t["associationCategory"].as_str().unwrap_or("HUBSPOT_DEFINED").to_owned();
            let type_id = t["associationTypeId"]
                .as_i64()
                .ok_or_else(|| SimError::validation("associationTypeId is required"))? as i32;
            Ok(AssocType { category, type_id, label: None })
        })
        .collect()
}

fn parse_id(text: &str) -> Result<i64, SimError> {
    text.parse().map_err(|_| SimError::validation(format!("{text} is not an object id")))
}

fn to_entries(state: &PortalState, from: ObjectType, id: i64, to: ObjectType) -> Vec<Value> {
    state
        .associations_of(from, id, to)
        .into_iter()
        .map(|(to_id, types)| json!({ "toObjectId": to_id, "associationTypes": types.iter().map(AssocType::to_json).collect::<Vec<_>>() }))
        .collect()
}

async fn read(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, id, to)): Path<(String, String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let (id, params) = (parse_id(&id)?, Params(params));
    let limit = params.limit(500, 500)?;
    let after: usize = params.one("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let (from, to) = (state.object_type(&from)?, state.object_type(&to)?);
    let id = state.resolve(from, id);
    state.get(from, id, false)?;
    let all = to_entries(state, from, id, to);
    let mut body = json!({ "results": all.iter().skip(after).take(limit).collect::<Vec<_>>() });
    if after + limit < all.len() {
        body["paging"] = json!({ "next": { "after": (after + limit).to_string() } });
    }
    Ok(Json(body).into_response())
}

async fn put_labelled(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, id, to, to_id)): Path<(String, String, String, String)>,
    Json(types): Json<Value>,
) -> Res {
    let (id, to_id, types) = (parse_id(&id)?, parse_id(&to_id)?, specs(&types)?);
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let (from, to) = (state.object_type(&from)?, state.object_type(&to)?);
    state.associate(from, id, to, to_id, &types)?;
    // 201, as HubSpot's own clients expect (`LabelsBetweenObjectPair`).
    let body = json!({
        "fromObjectTypeId": type_id(from), "fromObjectId": id, "toObjectTypeId": type_id(to), "toObjectId": to_id,
        "labels": state.labels_between(from, id, to, to_id),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The default (unlabeled) type between two object types: the non-primary one where HubSpot has both; with a custom
/// end, the one its schema defines.
fn default_type(state: &PortalState, from: ObjectType, to: ObjectType) -> Result<AssocType, SimError> {
    let none = || SimError::validation(format!("No association type between {} and {}", from.plural(), to.plural()));
    if from.is_custom() || to.is_custom() {
        return state.custom_default_type(from, to).ok_or_else(none);
    }
    let kind = AssociationKind::default_between(from, to).ok_or_else(none)?;
    Ok(AssocType { category: "HUBSPOT_DEFINED".into(), type_id: kind.type_id, label: None })
}

async fn put_default(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, id, to, to_id)): Path<(String, String, String, String)>,
) -> Res {
    let (id, to_id) = (parse_id(&id)?, parse_id(&to_id)?);
    let started = Utc::now();
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let (from, to) = (state.object_type(&from)?, state.object_type(&to)?);
    let kind = default_type(state, from, to)?;
    state.associate(from, id, to, to_id, std::slice::from_ref(&kind))?;
    let (started_at, completed_at) = batch_times(started);
    Ok(Json(json!({
        "status": "COMPLETE",
        "results": [{ "from": { "id": id.to_string() }, "to": { "id": to_id.to_string() },
                      "associationSpec": { "associationCategory": kind.category, "associationTypeId": kind.type_id } }],
        "startedAt": started_at, "completedAt": completed_at,
    }))
    .into_response())
}

async fn remove(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, id, to, to_id)): Path<(String, String, String, String)>,
) -> Res {
    let (id, to_id) = (parse_id(&id)?, parse_id(&to_id)?);
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let (from, to) = (state.object_type(&from)?, state.object_type(&to)?);
    state.dissociate(from, id, to, to_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn input_id(value: &Value) -> Result<i64, SimError> {
    match value {
        Value::String(s) => parse_id(s),
        Value::Number(n) => n.as_i64().ok_or_else(|| SimError::validation("ids are integers")),
        _ => Err(SimError::validation("id is required")),
    }
}

async fn batch(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((from, to, op)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Res {
    let inputs =
        body.get("inputs").and_then(Value::as_array).ok_or_else(|| SimError::validation("inputs is required"))?;
    if inputs.len() > 1000 {
        return Err(SimError::validation("Association batch calls take at most 1000 inputs"));
    }
    let started = Utc::now();
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let (from, to) = (state.object_type(&from)?, state.object_type(&to)?);
    let (started_at, completed_at) = batch_times(started);
    match op.as_str() {
        "read" => {
            let mut results = Vec::new();
            let mut missing = Vec::new();
            for input in inputs {
                let id = input_id(&input["id"])?;
                let id = state.resolve(from, id);
                if state.get(from, id, false).is_err() {
                    missing.push(id.to_string());
                    continue;
                }
                results.push(json!({ "from": { "id": id.to_string() }, "to": to_entries(state, from, id, to) }));
            }
            let mut body = json!({ "status": "COMPLETE", "results": results, "startedAt": started_at, "completedAt": completed_at });
            if missing.is_empty() {
                return Ok(Json(body).into_response());
            }
            body["numErrors"] = json!(missing.len());
            body["errors"] = json!([{ "status": "error", "category": "OBJECT_NOT_FOUND",
                "message": format!("No {} found for ids", from.singular()), "context": { "fromObjectId": missing } }]);
            Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
        }
        "create" => {
            let mut results = Vec::new();
            for input in inputs {
                let (id, to_id) = (input_id(&input["from"]["id"])?, input_id(&input["to"]["id"])?);
                state.associate(from, id, to, to_id, &specs(&input["types"])?)?;
                results.push(json!({ "fromObjectTypeId": type_id(from), "fromObjectId": id,
                    "toObjectTypeId": type_id(to), "toObjectId": to_id,
                    "labels": state.labels_between(from, id, to, to_id) }));
            }
            Ok((StatusCode::CREATED, Json(json!({ "status": "COMPLETE", "results": results, "startedAt": started_at, "completedAt": completed_at }))).into_response())
        }
        "archive" => {
            for input in inputs {
                let id = input_id(&input["from"]["id"])?;
                for target in input["to"].as_array().into_iter().flatten() {
                    state.dissociate(from, id, to, input_id(&target["id"])?);
                }
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        other => Err(SimError::missing(format!("Unknown batch operation {other}"))),
    }
}
