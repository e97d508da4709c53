//! HubSpot's JSON, read into the domain's shapes (crate `hubspot`) the mirror writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hubspot::{Campaign, CrmObject, EmailStats, Owner, Pipeline, Stage, Team};
use serde::Deserialize;
use serde_json::Value;

use crate::hubspot::HubSpotError;

/// A page of a list call: its records and the cursor of the next page.
pub struct Page<T> {
    pub results: Vec<T>,
    pub next: Option<String>,
}

pub fn next_cursor(body: &Value) -> Option<String> {
    body["paging"]["next"]["after"].as_str().map(str::to_owned)
}

fn bad(what: &str, err: impl std::fmt::Display) -> HubSpotError {
    HubSpotError::bad_response(format!("HubSpot's {what} did not have the expected shape: {err}"))
}

fn results<T: for<'de> Deserialize<'de>>(body: &Value, what: &str) -> Result<Vec<T>, HubSpotError> {
    serde_json::from_value(body.get("results").cloned().unwrap_or(Value::Array(Vec::new()))).map_err(|e| bad(what, e))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireObject {
    id: String,
    #[serde(default)]
    properties: BTreeMap<String, Option<String>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    archived: bool,
}

impl WireObject {
    fn into_object(self) -> Result<CrmObject, HubSpotError> {
        let id = self.id.parse().map_err(|e| bad("object id", e))?;
        Ok(CrmObject {
            id,
            properties: self.properties,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived: self.archived,
        })
    }
}

/// The entries of `GET /crm/v3/properties/{objectType}`.
pub fn property_definitions(body: &Value) -> Result<Vec<hubspot::PropertyDefinition>, HubSpotError> {
    let entries = body.get("results").and_then(Value::as_array).ok_or_else(|| bad("properties", "no results"))?;
    entries
        .iter()
        .map(|e| hubspot::PropertyDefinition::from_hubspot_json(e).ok_or_else(|| bad("property", e)))
        .collect()
}

/// `GET /crm/v3/schemas`: the portal's custom object types.
pub fn schemas(body: &Value) -> Result<Vec<hubspot::ObjectSchema>, HubSpotError> {
    let entries = body.get("results").and_then(Value::as_array).ok_or_else(|| bad("schemas", "no results"))?;
    entries.iter().map(|e| hubspot::ObjectSchema::from_hubspot_json(e).ok_or_else(|| bad("schema", e))).collect()
}

pub fn objects(body: &Value) -> Result<Page<CrmObject>, HubSpotError> {
    let wire: Vec<WireObject> = results(body, "CRM objects")?;
    let results = wire.into_iter().map(WireObject::into_object).collect::<Result<_, HubSpotError>>()?;
    Ok(Page { results, next: next_cursor(body) })
}

/// One CRM object, as a create or an update answers.
pub fn object(body: &Value) -> Result<CrmObject, HubSpotError> {
    WireObject::deserialize(body).map_err(|e| bad("CRM object", e))?.into_object()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOwner {
    id: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    user_id: Option<i64>,
    #[serde(default)]
    teams: Vec<Team>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    archived: bool,
}

pub fn owners(body: &Value) -> Result<Page<Owner>, HubSpotError> {
    let wire: Vec<WireOwner> = results(body, "owners")?;
    let results = wire
        .into_iter()
        .map(|w| {
            Ok(Owner {
                id: w.id.parse().map_err(|e| bad("owner id", e))?,
                email: w.email.unwrap_or_default(),
                first_name: w.first_name.unwrap_or_default(),
                last_name: w.last_name.unwrap_or_default(),
                user_id: w.user_id.unwrap_or_default(),
                teams: w.teams,
                created_at: w.created_at,
                updated_at: w.updated_at,
                archived: w.archived,
            })
        })
        .collect::<Result<_, HubSpotError>>()?;
    Ok(Page { results, next: next_cursor(body) })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStage {
    id: String,
    label: String,
    display_order: i32,
    #[serde(default)]
    metadata: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePipeline {
    id: String,
    label: String,
    display_order: i32,
    stages: Vec<WireStage>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    archived: bool,
}

pub fn pipelines(body: &Value, object_type: hubspot::ObjectType) -> Result<Vec<Pipeline>, HubSpotError> {
    let wire: Vec<WirePipeline> = results(body, "pipelines")?;
    Ok(wire
        .into_iter()
        .map(|p| Pipeline {
            id: p.id,
            label: p.label,
            display_order: p.display_order,
            object_type,
            stages: p
                .stages
                .into_iter()
                .map(|s| Stage {
                    id: s.id,
                    label: s.label,
                    display_order: s.display_order,
                    // Metadata values are strings at HubSpot; keep any other scalar as its text.
                    metadata: s
                        .metadata
                        .into_iter()
                        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                        .collect(),
                })
                .collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            archived: p.archived,
        })
        .collect())
}

/// Campaigns from `/marketing/v3/campaigns`, with the statistics of their emails (`/marketing/v3/emails`) summed.
pub fn campaigns(campaigns: &[Value], emails: &[Value]) -> Result<Vec<Campaign>, HubSpotError> {
    campaigns
        .iter()
        .map(|c| {
            let id = c["id"].as_str().ok_or_else(|| bad("campaign", "no id"))?.to_owned();
            let text = |key: &str| c["properties"][key].as_str().unwrap_or_default().to_owned();
            let time = |key: &str| {
                c[key].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok()).ok_or_else(|| bad("campaign", key))
            };
            let mut stats = EmailStats { sent: 0, delivered: 0, opened: 0, clicked: 0, bounced: 0, unsubscribed: 0 };
            for email in emails.iter().filter(|e| e["campaign"].as_str() == Some(id.as_str())) {
                let n = |key: &str| email["stats"]["counters"][key].as_i64().unwrap_or(0);
                stats.sent += n("sent");
                stats.delivered += n("delivered");
                stats.opened += n("open");
                stats.clicked += n("click");
                stats.bounced += n("bounce");
                stats.unsubscribed += n("unsubscribed");
            }
            Ok(Campaign {
                name: text("hs_name"),
                campaign_type: text("hs_type"),
                status: text("hs_campaign_status"),
                stats,
                created_at: time("createdAt")?,
                updated_at: time("updatedAt")?,
                id,
            })
        })
        .collect()
}
