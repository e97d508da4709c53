//! CRM objects v3: list, get, create, update, archive, batch read/create/update/upsert/archive, search, merge and
//! GDPR delete, for contacts, companies, deals and tickets.

use axum::{
    Extension, Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use hubspot::ObjectType;
use serde_json::{Value, json};

use super::{
    Shared, batch_times,
    error::SimError,
    limits::PortalId,
    search::{Search, SearchRequest},
    store::{AssocType, PortalState, Record, properties_from_json},
};

const MAX_BATCH: usize = 100;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/crm/v3/objects/{type}", get(list).post(create))
        .route("/crm/v3/objects/{type}/search", post(search))
        .route("/crm/v3/objects/{type}/merge", post(merge))
        .route("/crm/v3/objects/{type}/gdpr-delete", post(gdpr_delete))
        .route("/crm/v3/objects/{type}/batch/{op}", post(batch))
        .route("/crm/v3/objects/{type}/{id}", get(read).patch(update).delete(archive))
}

type Res = Result<Response, SimError>;

/// Query parameters, where `properties` and `associations` may repeat or hold comma-separated lists.
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
            .collect();
        (!values.is_empty()).then_some(values)
    }

    /// `true`, as clients spell it (Python's sends `True`).
    pub fn flag(&self, name: &str) -> bool {
        self.one(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn limit(&self, default: usize, max: usize) -> Result<usize, SimError> {
        match self.one("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(SimError::validation(format!("limit must be a number between 1 and {max}, got {text}"))),
            },
        }
    }
}

/// The properties HubSpot returns when a call names none (not to be confused with the properties HubSpot defines,
/// [`hubspot::default_properties`]).
fn returned_by_default(object_type: ObjectType) -> Vec<String> {
    let names: &[&str] = match object_type {
        ObjectType::Contact => &["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
        ObjectType::Company => &["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
        ObjectType::Deal => &[
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "pipeline",
        ],
        ObjectType::Ticket => &[
            "content",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_priority",
            "subject",
        ],
        ObjectType::Custom(_) => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    };
    names.iter().map(|s| s.to_string()).collect()
}

/// The properties a read returns: HubSpot's default set, then each name asked for that the type defines (with
/// its value, or null when the record has none); names the portal does not define are ignored, as HubSpot does.
/// (HubSpot itself returns only the names asked for and the id and dates; the simulator has always added the
/// default set, and callers rely on it.)
fn wanted(state: &PortalState, object_type: ObjectType, requested: Option<Vec<String>>) -> Vec<String> {
    let mut names = returned_by_default(object_type);
    for name in state.readable(object_type, requested.unwrap_or_default()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A record with the v3 `associations` block for the named target types.
fn render(
    portal: &PortalState,
    object_type: ObjectType,
    record: &Record,
    props: &[String],
    assoc: &[ObjectType],
) -> Value {
    let mut out = record.to_json(Some(props));
    if !assoc.is_empty() {
        let mut block = serde_json::Map::new();
        for to in assoc {
            let results: Vec<Value> = portal
                .associations_of(object_type, record.object.id, *to)
                .into_iter()
                .flat_map(|(id, types)| {
                    types
                        .iter()
                        .map(move |t| json!({ "id": id.to_string(), "type": v3_type_name(object_type, *to, t) }))
                })
                .collect();
            if !results.is_empty() {
                block.insert(to.plural().to_owned(), json!({ "results": results }));
            }
        }
        if !block.is_empty() {
            out["associations"] = Value::Object(block);
        }
    }
    out
}

/// v3 names an association type `contact_to_company`, or `…_unlabeled` for the unlabeled default.
fn v3_type_name(from: ObjectType, to: ObjectType, t: &AssocType) -> String {
    let base = format!("{}_to_{}", from.singular(), to.singular());
    if t.label.is_none() && matches!(t.type_id, 279 | 280) { format!("{base}_unlabeled") } else { base }
}

fn assoc_types(state: &PortalState, params: &Params) -> Result<Vec<ObjectType>, SimError> {
    params.list("associations").unwrap_or_default().iter().map(|s| state.object_type(s)).collect()
}

fn link(headers: &HeaderMap, path: &str, after: &str) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("api.hubapi.com");
    format!("http://{host}{path}?after={after}")
}

async fn list(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Res {
    let params = Params(params);
    let limit = params.limit(10, 100)?;
    let after: i64 = match params.one("after") {
        None => i64::MIN,
        Some(a) => a.parse().map_err(|_| SimError::validation(format!("after is not a valid cursor: {a}")))?,
    };
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let (assoc, archived) = (assoc_types(state, &params)?, params.flag("archived"));
    let props = wanted(state, object_type, params.list("properties"));
    let mut page: Vec<&Record> = state
        .records(object_type)
        .range(after..)
        .map(|(_, r)| r)
        .filter(|r| r.object.archived == archived)
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let results: Vec<Value> = page.iter().map(|r| render(state, object_type, r, &props, &assoc)).collect();
    let mut body = json!({ "results": results });
    if more && let Some(last) = page.last() {
        let next = (last.object.id + 1).to_string();
        body["paging"] =
            json!({ "next": { "after": next, "link": link(&headers, &format!("/crm/v3/objects/{ty}"), &next) } });
    }
    Ok(Json(body).into_response())
}

async fn read(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Res {
    let params = Params(params);
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let assoc = assoc_types(state, &params)?;
    let props = wanted(state, object_type, params.list("properties"));
    let id = lookup(state, object_type, params.one("idProperty"), &Value::String(id))
        .map_err(|_| SimError::missing("resource not found"))?;
    let record = state.get(object_type, id, params.flag("archived"))?;
    Ok(Json(render(state, object_type, record, &props, &assoc)).into_response())
}

/// `associations` on create: `[{to: {id}, types: [{associationCategory, associationTypeId}]}]`.
fn creation_links(input: &Value) -> Result<Vec<(i64, Vec<AssocType>)>, SimError> {
    let Some(list) = input.get("associations").and_then(Value::as_array) else { return Ok(Vec::new()) };
    list.iter()
        .map(|a| {
            let to = a["to"]["id"].as_str().and_then(|s| s.parse().ok()).or_else(|| a["to"]["id"].as_i64());
            let to = to.ok_or_else(|| SimError::validation("associations[].to.id is required"))?;
            Ok((to, super::assoc::specs(&a["types"])?))
        })
        .collect()
}

fn create_one(state: &mut PortalState, object_type: ObjectType, input: &Value) -> Result<Value, SimError> {
    let properties = properties_from_json(input.get("properties"))?;
    let links = creation_links(input)?;
    let id = state.create(object_type, properties, Utc::now())?.object.id;
    for (to_id, types) in links {
        // The target's type follows from the type id (`279`: contact → company; a label's id names its pair; a custom
        // type's comes from its schema).
        let ends = |type_id: i32| {
            hubspot::AssociationKind::by_type_id(type_id).map(|k| (k.from, k.to)).or_else(|| state.labels.ends(type_id))
        };
        let to = types
            .first()
            .and_then(|t| {
                let listed = ends(t.type_id).filter(|(from, _)| *from == object_type).map(|(_, to)| to);
                listed.or_else(|| state.custom_target(object_type, t.type_id))
            })
            .ok_or_else(|| SimError::validation("associationTypeId does not start at this object type"))?;
        state.associate(object_type, id, to, to_id, &types)?;
    }
    Ok(state.get(object_type, id, false)?.to_json(None))
}

async fn create(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(input): Json<Value>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let body = create_one(state, object_type, &input)?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn update(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
    Json(input): Json<Value>,
) -> Res {
    let params = Params(params);
    let properties = properties_from_json(input.get("properties"))?;
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let id = lookup(state, object_type, params.one("idProperty"), &Value::String(id))
        .map_err(|_| SimError::missing("resource not found"))?;
    let record = state.update(object_type, id, properties, Utc::now())?;
    Ok(Json(record.to_json(None)).into_response())
}

async fn archive(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, id)): Path<(String, String)>,
) -> Res {
    let id: i64 = id.parse().map_err(|_| SimError::missing("resource not found"))?;
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    // Archiving an archived or unknown record answers 204 as well: DELETE is idempotent at HubSpot.
    let _ = state.archive(object_type, id, Utc::now());
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn search(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(request): Json<SearchRequest>,
) -> Res {
    let requested = request.properties.clone();
    let search = Search::new(request)?;
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let props = wanted(state, object_type, requested);
    let searchable = state.searchable_properties(object_type);
    let mut hits: Vec<&Record> =
        state.records(object_type).values().filter(|r| !r.object.archived && search.matches(&searchable, r)).collect();
    search.sort(&mut hits);
    let total = hits.len();
    let page: Vec<Value> =
        hits.iter().skip(search.offset).take(search.limit).map(|r| r.to_json(Some(&props))).collect();
    let mut body = json!({ "total": total, "results": page });
    let next = search.offset + search.limit;
    if next < total {
        body["paging"] = json!({ "next": { "after": next.to_string() } });
    }
    Ok(Json(body).into_response())
}

fn id_of(value: &Value, field: &str) -> Result<i64, SimError> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| SimError::validation(format!("{field} must be an object id")))
}

async fn merge(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(input): Json<Value>,
) -> Res {
    let primary = id_of(&input["primaryObjectId"], "primaryObjectId")?;
    let merged = id_of(&input["objectIdToMerge"], "objectIdToMerge")?;
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let record = state.merge(object_type, primary, merged, Utc::now())?;
    Ok(Json(record.to_json(None)).into_response())
}

async fn gdpr_delete(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path(ty): Path<String>,
    Json(input): Json<Value>,
) -> Res {
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    if object_type != ObjectType::Contact {
        return Err(SimError::validation("GDPR delete is only for contacts"));
    }
    let id = lookup(state, object_type, id_property(&input), &input["objectId"])?;
    state.erase(object_type, id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The inputs of a batch call, at most 100.
fn inputs(body: &Value) -> Result<&Vec<Value>, SimError> {
    let inputs =
        body.get("inputs").and_then(Value::as_array).ok_or_else(|| SimError::validation("inputs is required"))?;
    if inputs.len() > MAX_BATCH {
        return Err(SimError::validation(format!("Batch calls take at most {MAX_BATCH} inputs, got {}", inputs.len())));
    }
    Ok(inputs)
}

/// `200 COMPLETE`, or `207` with the errors beside the results when some inputs failed. An input that carried an
/// `objectWriteTraceId` finds it on its result, or in its error's `context`, so a caller can match the two.
fn batch_answer(
    ok: StatusCode,
    results: Vec<Value>,
    errors: Vec<(SimError, Option<Value>)>,
    started: chrono::DateTime<Utc>,
) -> Response {
    let (started_at, completed_at) = batch_times(started);
    let mut body =
        json!({ "status": "COMPLETE", "results": results, "startedAt": started_at, "completedAt": completed_at });
    if errors.is_empty() {
        return (ok, Json(body)).into_response();
    }
    body["numErrors"] = json!(errors.len());
    body["errors"] = json!(
        errors
            .iter()
            .map(|(e, trace)| {
                let context = match trace {
                    Some(trace) => json!({ "objectWriteTraceId": [trace] }),
                    None => e.errors.first().map(|x| x["context"].clone()).unwrap_or(json!({})),
                };
                json!({ "status": "error", "category": e.category, "message": e.message, "context": context })
            })
            .collect::<Vec<_>>()
    );
    (StatusCode::MULTI_STATUS, Json(body)).into_response()
}

/// Runs `f` on every input, keeping the answers and the failures apart, each with the input's trace id.
fn each(
    inputs: &[Value],
    mut f: impl FnMut(&Value) -> Result<Value, SimError>,
) -> (Vec<Value>, Vec<(SimError, Option<Value>)>) {
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for input in inputs {
        let trace = input.get("objectWriteTraceId").filter(|t| !t.is_null()).cloned();
        match f(input) {
            Ok(mut v) => {
                if let Some(trace) = trace {
                    v["objectWriteTraceId"] = trace;
                }
                done.push(v)
            }
            Err(e) => failed.push((e, trace)),
        }
    }
    (done, failed)
}

fn id_property(input: &Value) -> Option<&str> {
    input.get("idProperty").and_then(Value::as_str)
}

/// The record an input names: by id, or by the value of `idProperty`.
fn lookup(
    state: &PortalState,
    object_type: ObjectType,
    id_property: Option<&str>,
    id: &Value,
) -> Result<i64, SimError> {
    match id_property {
        Some(property) => {
            let key = match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            state.find_by(object_type, property, &key).ok_or_else(|| SimError::missing("resource not found"))
        }
        None => id_of(id, "id"),
    }
}

async fn batch(
    State(sim): State<Shared>,
    Extension(portal): Extension<PortalId>,
    Path((ty, op)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Res {
    let inputs = inputs(&body)?;
    let started = Utc::now();
    let mut world = sim.world.lock().expect("simulator state");
    let state = world.portal_mut(portal);
    let object_type = state.object_type(&ty)?;
    let (status, (results, errors)) = match op.as_str() {
        "read" => {
            let requested = body.get("properties").and_then(|p| serde_json::from_value::<Vec<String>>(p.clone()).ok());
            let props = wanted(state, object_type, requested);
            let archived = body.get("archived").and_then(Value::as_bool).unwrap_or(false);
            let shared_id_property = id_property(&body);
            let read = |input: &Value| {
                let id = lookup(state, object_type, shared_id_property, &input["id"])?;
                Ok(state.get(object_type, id, archived)?.to_json(Some(&props)))
            };
            (StatusCode::OK, each(inputs, read))
        }
        "create" => (StatusCode::CREATED, each(inputs, |input| create_one(state, object_type, input))),
        "update" => (
            StatusCode::OK,
            each(inputs, |input| {
                let props = properties_from_json(input.get("properties"))?;
                let id = lookup(state, object_type, id_property(input), &input["id"])?;
                Ok(state.update(object_type, id, props, Utc::now())?.to_json(None))
            }),
        ),
        "upsert" => (
            StatusCode::OK,
            each(inputs, |input| {
                let mut props = properties_from_json(input.get("properties"))?;
                let found =
                    lookup(state, object_type, Some(id_property(input).unwrap_or("hs_object_id")), &input["id"])
                        .ok()
                        .filter(|id| state.get(object_type, *id, false).is_ok());
                let (record, new) = match found {
                    Some(id) => (state.update(object_type, id, props, Utc::now())?, false),
                    None => {
                        // HubSpot gives a new record its own `hs_object_id`.
                        if let (Some(property), Some(key)) = (id_property(input), input["id"].as_str())
                            && property != "hs_object_id"
                        {
                            props.insert(property.to_owned(), Some(key.to_owned()));
                        }
                        (state.create(object_type, props, Utc::now())?, true)
                    }
                };
                let mut v = record.to_json(None);
                v["new"] = json!(new);
                Ok(v)
            }),
        ),
        "archive" => {
            for input in inputs {
                let _ = state.archive(object_type, id_of(&input["id"], "inputs[].id")?, Utc::now());
            }
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        other => return Err(SimError::missing(format!("Unknown batch operation {other}"))),
    };
    Ok(batch_answer(status, results, errors, started))
}
