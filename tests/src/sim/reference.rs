//! The slow-moving parts of a portal: pipelines, owners, and marketing campaigns and emails with statistics.
//!
//! Pipelines change at run time as an admin edits them in HubSpot:
//! - `POST /crm/v3/pipelines/{objectType}` `{label, displayOrder?, stages: [{label, displayOrder?, metadata}]}` → 201
//!   the pipeline, its id and its stages' ids fresh numeric strings; 409 when the label is taken;
//! - `POST /crm/v3/pipelines/{objectType}/{pipelineId}/stages` `{label, displayOrder?, metadata}` → 201 the stage;
//! - `PATCH /crm/v3/pipelines/{objectType}/{pipelineId}/stages/{stageId}` `{label?, displayOrder?, metadata?}` → 200
//!   the stage (metadata merged into what it had).
//!
//! Deal stages need `metadata.probability` (0 to 1; `isClosed` defaults to `"false"`), ticket stages
//! `metadata.ticketState` (`OPEN` or `CLOSED`); metadata values are kept as strings. Each change moves the pipeline's
//! `updatedAt`, and the pipeline and stage properties take the new ids as options, so records may be moved there.

use std::collections::BTreeMap;

use axum::{
    Extension, Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, patch, post},
};
use chrono::{DateTime, Utc};
use hubspot::{Campaign, ObjectType, Pipeline, Stage, iso};
use serde_json::{Value, json};

use super::{Shared, crm::Params, error::SimError, limits::PortalId, store::PortalState};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/crm/v3/pipelines/{type}", get(pipelines).post(create_pipeline))
        .route("/crm/v3/pipelines/{type}/{id}", get(pipeline))
        .route("/crm/v3/pipelines/{type}/{id}/stages", post(create_stage))
        .route("/crm/v3/pipelines/{type}/{id}/stages/{stage}", patch(update_stage).delete(remove_stage))
        .route("/crm/v3/owners", get(owners))
        .route("/crm/v3/owners/{id}", get(owner))
        .route("/marketing/v3/campaigns", get(campaigns))
        .route("/marketing/v3/campaigns/{id}", get(campaign))
        .route("/marketing/v3/emails", get(emails))
}

type Res = Result<Response, SimError>;

fn with_portal<T>(sim: &Shared, portal: PortalId, f: impl FnOnce(&PortalState) -> T) -> T {
    let world = sim.world.lock().expect("simulator state");
    f(world.portals.get(&portal.0).expect("tokens only name known portals"))
}

pub(super) fn pipeline_type(ty: &str) -> Result<ObjectType, SimError> {
    match ty {
        "deals" | "0-3" => Ok(ObjectType::Deal),
        "tickets" | "0-5" => Ok(ObjectType::Ticket),
        other => Err(SimError::validation(format!("Pipelines are not supported for object type {other}"))),
    }
}

async fn pipelines(State(sim): State<Shared>, Extension(portal): Extension<PortalId>, Path(ty): Path<String>) -> Res {
    let ty = pipeline_type(&ty)?;
    let results: Vec<Value> = with_portal(&sim, portal, |p| {
        p.pipelines.iter().filter(|x| x.object_type == ty && !x.archived).map(|x| x.to_hubspot_json()).collect()
    });
    Ok(Json(json!({ "results": results })).into_response())
}

async fn pipeline(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id)): Path<(String, String)>,
) -> Res {
    let ty = pipeline_type(&ty)?;
    with_portal(&sim, portal, |p| {
        p.pipelines.iter().find(|x| x.object_type == ty && x.id == id).map(|x| x.to_hubspot_json())
    })
    .map(|v| Json(v).into_response())
    .ok_or_else(|| SimError::missing(format!("Pipeline {id} not found")))
}

async fn create_pipeline(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(body): Json<Value>,
) -> Res {
    let ty = pipeline_type(&ty)?;
    let mut world = sim.world.lock().expect("simulator state");
    let created = add_pipeline(world.portal_mut(portal), ty, &body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn create_stage(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Res {
    let ty = pipeline_type(&ty)?;
    let mut world = sim.world.lock().expect("simulator state");
    let created = add_stage(world.portal_mut(portal), ty, &id, &body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Removes a stage, as HubSpot's settings do; refused (400) while a live record is in it.
async fn remove_stage(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id, stage)): Path<(String, String, String)>,
) -> Res {
    let ty = pipeline_type(&ty)?;
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let property = if ty == ObjectType::Deal { "dealstage" } else { "hs_pipeline_stage" };
    let in_use = state.records(ty).values().any(|r| !r.object.archived && r.property(property) == Some(stage.as_str()));
    if in_use {
        return Err(SimError::validation(format!("Stage {stage} still has records in it; move them first")));
    }
    let pipeline = live_pipeline(state, ty, &id)?;
    let before = pipeline.stages.len();
    pipeline.stages.retain(|s| s.id != stage);
    if pipeline.stages.len() == before {
        return Err(SimError::missing(format!("Stage {stage} not found in pipeline {id}")));
    }
    pipeline.updated_at = Utc::now();
    state.refresh_pipeline_options();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn update_stage(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id, stage)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Res {
    let ty = pipeline_type(&ty)?;
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let now = Utc::now();
    let metadata = match body.get("metadata") {
        Some(m) => Some(metadata_from(m)?),
        None => None,
    };
    let pipeline = live_pipeline(state, ty, &id)?;
    let found = pipeline
        .stages
        .iter_mut()
        .find(|s| s.id == stage)
        .ok_or_else(|| SimError::missing(format!("Stage {stage} not found in pipeline {id}")))?;
    if let Some(label) = body.get("label").and_then(Value::as_str) {
        found.label = label.to_owned();
    }
    if let Some(order) = body.get("displayOrder").and_then(Value::as_i64) {
        found.display_order = order as i32;
    }
    if let Some(metadata) = metadata {
        found.metadata.extend(metadata);
    }
    check_metadata(ty, &found.metadata)?;
    pipeline.stages.sort_by_key(|s| s.display_order);
    pipeline.updated_at = now;
    let answer = stage_json(pipeline, &stage);
    state.refresh_pipeline_options();
    Ok(Json(answer).into_response())
}

fn live_pipeline<'a>(state: &'a mut PortalState, ty: ObjectType, id: &str) -> Result<&'a mut Pipeline, SimError> {
    state
        .pipelines
        .iter_mut()
        .find(|p| p.object_type == ty && p.id == id && !p.archived)
        .ok_or_else(|| SimError::missing(format!("Pipeline {id} not found")))
}

/// A stage as `GET /crm/v3/pipelines/{type}/{id}` shows it.
fn stage_json(pipeline: &Pipeline, id: &str) -> Value {
    let all = pipeline.to_hubspot_json();
    all["stages"].as_array().and_then(|s| s.iter().find(|s| s["id"] == id)).cloned().unwrap_or(Value::Null)
}

/// Metadata values as HubSpot keeps them: strings (`0.5` and `true` become `"0.5"` and `"true"`).
fn metadata_from(value: &Value) -> Result<BTreeMap<String, String>, SimError> {
    let map = value.as_object().ok_or_else(|| SimError::validation("metadata must be an object"))?;
    Ok(map.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect())
}

/// Deal stages carry a probability between 0 and 1, ticket stages an `OPEN` or `CLOSED` state.
fn check_metadata(ty: ObjectType, metadata: &BTreeMap<String, String>) -> Result<(), SimError> {
    let fine = match ty {
        ObjectType::Deal => {
            metadata.get("probability").and_then(|p| p.parse::<f64>().ok()).is_some_and(|p| (0.0..=1.0).contains(&p))
        }
        _ => metadata.get("ticketState").is_some_and(|s| s == "OPEN" || s == "CLOSED"),
    };
    if fine {
        return Ok(());
    }
    let needed = match ty {
        ObjectType::Deal => "metadata.probability, a number from 0.0 to 1.0",
        _ => "metadata.ticketState, OPEN or CLOSED",
    };
    Err(SimError::field_error("INVALID_METADATA", format!("A stage needs {needed}"), "metadata"))
}

/// A stage from `{label, displayOrder?, metadata}`, with a fresh id.
fn stage_from(state: &mut PortalState, ty: ObjectType, body: &Value, order: i32) -> Result<Stage, SimError> {
    let label = body
        .get("label")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| SimError::field_error("REQUIRED_FIELD", "A stage needs a label", "label"))?;
    let mut metadata = metadata_from(body.get("metadata").unwrap_or(&json!({})))?;
    if ty == ObjectType::Deal {
        metadata.entry("isClosed".into()).or_insert_with(|| "false".into());
    }
    check_metadata(ty, &metadata)?;
    Ok(Stage {
        id: state.fresh_reference_id(),
        label: label.to_owned(),
        display_order: body.get("displayOrder").and_then(Value::as_i64).map_or(order, |o| o as i32),
        metadata,
    })
}

/// Adds a stage to a pipeline (HubSpot's `POST …/stages` body); the stage's JSON.
pub fn add_stage(
    state: &mut PortalState,
    ty: ObjectType,
    pipeline_id: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<Value, SimError> {
    let pipeline = live_pipeline(state, ty, pipeline_id)?;
    let order = pipeline.stages.iter().map(|s| s.display_order + 1).max().unwrap_or(0);
    if let Some(label) = body.get("label").and_then(Value::as_str)
        && pipeline.stages.iter().any(|s| s.label == label)
    {
        return Err(SimError::conflict(format!("A stage labelled {label} already exists in pipeline {pipeline_id}")));
    }
    let stage = stage_from(state, ty, body, order)?;
    let id = stage.id.clone();
    let pipeline = live_pipeline(state, ty, pipeline_id)?;
    pipeline.stages.push(stage);
    pipeline.stages.sort_by_key(|s| s.display_order);
    pipeline.updated_at = now;
    let answer = stage_json(pipeline, &id);
    state.refresh_pipeline_options();
    Ok(answer)
}

/// Adds a pipeline with its stages (HubSpot's `POST /crm/v3/pipelines/{type}` body); the pipeline's JSON.
pub fn add_pipeline(
    state: &mut PortalState,
    ty: ObjectType,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<Value, SimError> {
    let label = body
        .get("label")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| SimError::field_error("REQUIRED_FIELD", "A pipeline needs a label", "label"))?;
    if state.pipelines.iter().any(|p| p.object_type == ty && p.label == label && !p.archived) {
        return Err(SimError::conflict(format!("A pipeline labelled {label} already exists")));
    }
    let inputs = body
        .get("stages")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SimError::field_error("REQUIRED_FIELD", "A pipeline needs at least one stage", "stages"))?;
    let mut stages = Vec::with_capacity(inputs.len());
    for (input, order) in inputs.iter().zip(0..) {
        stages.push(stage_from(state, ty, input, order)?);
    }
    stages.sort_by_key(|s| s.display_order);
    let order = state.pipelines.iter().filter(|p| p.object_type == ty).map(|p| p.display_order + 1).max();
    let pipeline = Pipeline {
        id: state.fresh_reference_id(),
        label: label.to_owned(),
        display_order: body.get("displayOrder").and_then(Value::as_i64).map_or(order.unwrap_or(0), |o| o as i32),
        object_type: ty,
        stages,
        created_at: now,
        updated_at: now,
        archived: false,
    };
    let answer = pipeline.to_hubspot_json();
    state.pipelines.push(pipeline);
    state.refresh_pipeline_options();
    Ok(answer)
}

/// Cursor pages over a list in a fixed order: `after` is the offset.
fn page(items: Vec<Value>, params: &Params, default: usize, max: usize) -> Result<Value, SimError> {
    let limit = params.limit(default, max)?;
    let after: usize = params.one("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let total = items.len();
    let results: Vec<Value> = items.into_iter().skip(after).take(limit).collect();
    let mut body = json!({ "total": total, "results": results });
    if after + limit < total {
        body["paging"] = json!({ "next": { "after": (after + limit).to_string() } });
    }
    Ok(body)
}

async fn owners(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let params = Params(params);
    let archived = params.flag("archived");
    let email = params.one("email").map(str::to_lowercase);
    let items: Vec<Value> = with_portal(&sim, portal, |p| {
        p.owners
            .iter()
            .filter(|o| o.archived == archived && email.as_deref().is_none_or(|e| o.email.to_lowercase() == e))
            .map(|o| o.to_hubspot_json())
            .collect()
    });
    let mut body = page(items, &params, 100, 500)?;
    body.as_object_mut().expect("an object").remove("total");
    Ok(Json(body).into_response())
}

async fn owner(State(sim): State<Shared>, Extension(portal): Extension<PortalId>, Path(id): Path<String>) -> Res {
    with_portal(&sim, portal, |p| p.owners.iter().find(|o| o.id.to_string() == id).map(|o| o.to_hubspot_json()))
        .map(|v| Json(v).into_response())
        .ok_or_else(|| SimError::missing(format!("Owner {id} not found")))
}

fn campaign_json(c: &Campaign) -> Value {
    json!({
        "id": c.id,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "properties": { "hs_name": c.name, "hs_campaign_status": c.status, "hs_type": c.campaign_type },
        "businessUnits": [{ "id": 0 }],
    })
}

/// One marketing email per campaign, carrying the campaign's statistics.
fn email_json(index: usize, c: &Campaign) -> Value {
    let s = &c.stats;
    let ratio = |n: i64, d: i64| if d == 0 { 0.0 } else { (n as f64 / d as f64 * 10_000.0).round() / 100.0 };
    json!({
        "id": (100_000_001 + index as i64).to_string(),
        "name": format!("{} – email", c.name),
        "campaign": c.id,
        "state": "PUBLISHED",
        "type": "BATCH_EMAIL",
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "publishDate": iso(c.created_at),
        "stats": {
            "counters": { "sent": s.sent, "delivered": s.delivered, "open": s.opened, "click": s.clicked,
                          "bounce": s.bounced, "unsubscribed": s.unsubscribed },
            "ratios": { "deliveredratio": ratio(s.delivered, s.sent), "openratio": ratio(s.opened, s.delivered),
                        "clickratio": ratio(s.clicked, s.delivered), "bounceratio": ratio(s.bounced, s.sent),
                        "unsubscribedratio": ratio(s.unsubscribed, s.delivered) },
        },
    })
}

async fn campaigns(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let params = Params(params);
    let items: Vec<Value> = with_portal(&sim, portal, |p| p.campaigns.iter().map(campaign_json).collect());
    Ok(Json(page(items, &params, 50, 100)?).into_response())
}

async fn campaign(State(sim): State<Shared>, Extension(portal): Extension<PortalId>, Path(id): Path<String>) -> Res {
    with_portal(&sim, portal, |p| p.campaigns.iter().find(|c| c.id == id).map(campaign_json))
        .map(|v| Json(v).into_response())
        .ok_or_else(|| SimError::missing(format!("Campaign {id} not found")))
}

async fn emails(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let params = Params(params);
    let with_stats = params.flag("includeStats");
    let items: Vec<Value> = with_portal(&sim, portal, |p| {
        p.campaigns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = email_json(i, c);
                if !with_stats {
                    v.as_object_mut().expect("an object").remove("stats");
                }
                v
            })
            .collect()
    });
    Ok(Json(page(items, &params, 50, 300)?).into_response())
}
