//! Typed inputs of the write mutations, and the HubSpot properties they stand for. Each property remembers the
//! input field it came from, so a check that fails names that field.

use std::collections::BTreeMap;

use async_graphql::{Enum, ID, InputObject, Json};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::error::{ApiError, Res};

/// Property name → (value, the input field it came from).
pub(crate) type Fields = BTreeMap<String, (Option<String>, String)>;

/// An input's properties: the typed fields, then any others from its `properties` map.
pub(crate) trait RecordInput {
    fn fields(&self) -> Res<Fields>;
}

/// Collects typed fields in order; `properties` (custom and other HubSpot properties) may not repeat one of them.
struct Collect(Fields);

impl Collect {
    fn new() -> Self {
        Self(Fields::new())
    }

    fn text(mut self, property: &str, field: &str, value: &Option<String>) -> Self {
        if let Some(value) = value {
            self.0.insert(property.to_owned(), (Some(value.clone()), format!("input.{field}")));
        }
        self
    }

    fn number(self, property: &str, field: &str, value: Option<f64>) -> Self {
        self.text(property, field, &value.map(|v| v.to_string()))
    }

    fn id(self, property: &str, field: &str, value: &Option<ID>) -> Self {
        self.text(property, field, &value.as_ref().map(|v| v.to_string()))
    }

    fn date(self, property: &str, field: &str, value: Option<DateTime<Utc>>) -> Self {
        self.text(property, field, &value.map(|v| v.to_rfc3339_opts(SecondsFormat::Millis, true)))
    }

    fn rest(mut self, properties: &Option<Json<BTreeMap<String, Value>>>) -> Res<Fields> {
        let Some(properties) = properties else { return Ok(self.0) };
        for (name, given) in loose(&properties.0, "input.properties")? {
            if self.0.contains_key(&name) {
                return Err(ApiError::invalid(given.1, "is also given as a typed field; give it once"));
            }
            self.0.insert(name, given);
        }
        Ok(self.0)
    }
}

/// Properties by internal name (`{"tier": "gold"}`, null clears one) as HubSpot's strings, each remembering its
/// field (`{argument}.{name}`).
pub(crate) fn loose(properties: &BTreeMap<String, Value>, argument: &str) -> Res<Fields> {
    let mut fields = Fields::new();
    for (name, value) in properties {
        let field = format!("{argument}.{name}");
        let value = match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => return Err(ApiError::invalid(field, "must be a string, number, boolean or null")),
        };
        fields.insert(name.clone(), (value, field));
    }
    Ok(fields)
}

/// A contact's properties to set; fields left out are not changed.
#[derive(InputObject, Default)]
pub struct ContactInput {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// The `company` property (free text).
    pub company_name: Option<String>,
    pub job_title: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    /// `subscriber`, `lead`, `marketingqualifiedlead`, `salesqualifiedlead`, `opportunity`, `customer`, …
    pub lifecycle_stage: Option<String>,
    /// `hs_lead_status`.
    pub lead_status: Option<String>,
    pub owner_id: Option<ID>,
    /// Any other HubSpot property, custom ones included, by its internal name: `{"favorite_color": "blue"}`;
    /// null clears one.
    pub properties: Option<Json<BTreeMap<String, Value>>>,
}

impl RecordInput for ContactInput {
    fn fields(&self) -> Res<Fields> {
        Collect::new()
            .text("email", "email", &self.email)
            .text("firstname", "firstName", &self.first_name)
            .text("lastname", "lastName", &self.last_name)
            .text("phone", "phone", &self.phone)
            .text("company", "companyName", &self.company_name)
            .text("jobtitle", "jobTitle", &self.job_title)
            .text("country", "country", &self.country)
            .text("city", "city", &self.city)
            .text("lifecyclestage", "lifecycleStage", &self.lifecycle_stage)
            .text("hs_lead_status", "leadStatus", &self.lead_status)
            .id("hubspot_owner_id", "ownerId", &self.owner_id)
            .rest(&self.properties)
    }
}

/// A company's properties to set; fields left out are not changed.
#[derive(InputObject, Default)]
pub struct CompanyInput {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub number_of_employees: Option<i64>,
    pub annual_revenue: Option<f64>,
    pub lifecycle_stage: Option<String>,
    pub owner_id: Option<ID>,
    /// Any other HubSpot property, custom ones included; null clears one.
    pub properties: Option<Json<BTreeMap<String, Value>>>,
}

impl RecordInput for CompanyInput {
    fn fields(&self) -> Res<Fields> {
        Collect::new()
            .text("name", "name", &self.name)
            .text("domain", "domain", &self.domain)
            .text("industry", "industry", &self.industry)
            .text("country", "country", &self.country)
            .text("city", "city", &self.city)
            .text("numberofemployees", "numberOfEmployees", &self.number_of_employees.map(|n| n.to_string()))
            .number("annualrevenue", "annualRevenue", self.annual_revenue)
            .text("lifecyclestage", "lifecycleStage", &self.lifecycle_stage)
            .id("hubspot_owner_id", "ownerId", &self.owner_id)
            .rest(&self.properties)
    }
}

/// A deal's properties to set; fields left out are not changed.
#[derive(InputObject, Default)]
pub struct DealInput {
    pub name: Option<String>,
    pub amount: Option<f64>,
    /// The pipeline id; a new deal without one goes to `default`.
    pub pipeline: Option<String>,
    /// A stage id of the deal's pipeline.
    pub stage: Option<String>,
    pub close_date: Option<DateTime<Utc>>,
    pub owner_id: Option<ID>,
    /// Any other HubSpot property, custom ones included; null clears one.
    pub properties: Option<Json<BTreeMap<String, Value>>>,
}

impl RecordInput for DealInput {
    fn fields(&self) -> Res<Fields> {
        Collect::new()
            .text("dealname", "name", &self.name)
            .number("amount", "amount", self.amount)
            .text("pipeline", "pipeline", &self.pipeline)
            .text("dealstage", "stage", &self.stage)
            .date("closedate", "closeDate", self.close_date)
            .id("hubspot_owner_id", "ownerId", &self.owner_id)
            .rest(&self.properties)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TicketPriority {
    Low,
    Medium,
    High,
}

/// A ticket's properties to set; fields left out are not changed.
#[derive(InputObject, Default)]
pub struct TicketInput {
    pub subject: Option<String>,
    pub content: Option<String>,
    /// The pipeline id (`hs_pipeline`).
    pub pipeline: Option<String>,
    /// A stage id of the ticket's pipeline (`hs_pipeline_stage`).
    pub stage: Option<String>,
    pub priority: Option<TicketPriority>,
    pub owner_id: Option<ID>,
    /// Any other HubSpot property, custom ones included; null clears one.
    pub properties: Option<Json<BTreeMap<String, Value>>>,
}

impl RecordInput for TicketInput {
    fn fields(&self) -> Res<Fields> {
        let priority = self.priority.map(|p| {
            match p {
                TicketPriority::Low => "LOW",
                TicketPriority::Medium => "MEDIUM",
                TicketPriority::High => "HIGH",
            }
            .to_owned()
        });
        Collect::new()
            .text("subject", "subject", &self.subject)
            .text("content", "content", &self.content)
            .text("hs_pipeline", "pipeline", &self.pipeline)
            .text("hs_pipeline_stage", "stage", &self.stage)
            .text("hs_ticket_priority", "priority", &priority)
            .id("hubspot_owner_id", "ownerId", &self.owner_id)
            .rest(&self.properties)
    }
}
