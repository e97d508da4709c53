//! The slow-moving parts of a portal: pipelines, owners, and marketing campaigns and emails with statistics.

use axum::{
    Extension, Json, Router,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    routing::get,
};
use hubspot::{Campaign, ObjectType, iso};
use serde_json::{Value, json};

use super::{Shared, crm::Params, error::SimError, limits::PortalId, store::PortalState};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/crm/v3/pipelines/{type}", get(pipelines))
        .route("/crm/v3/pipelines/{type}/{id}", get(pipeline))
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

fn pipeline_type(ty: &str) -> Result<ObjectType, SimError> {
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
