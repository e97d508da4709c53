//! The pipelines of a fresh portal: HubSpot's default deal pipeline, a renewals pipeline and the support
//! pipeline for tickets.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use hubspot::{ObjectType, Pipeline, Stage};

/// Id of HubSpot's default deal pipeline.
pub const DEFAULT_DEAL_PIPELINE: &str = "default";
pub const RENEWALS_PIPELINE: &str = "renewals";
/// Id of HubSpot's default ticket pipeline.
pub const SUPPORT_PIPELINE: &str = "0";
/// The ticket stage whose `ticketState` is `CLOSED`.
pub const TICKET_CLOSED_STAGE: &str = "4";

/// All pipelines, deals first; `created` is when the portal was set up.
pub fn standard_pipelines(created: DateTime<Utc>) -> Vec<Pipeline> {
    vec![sales_pipeline(created), renewals_pipeline(created), support_pipeline(created)]
}

/// HubSpot's default deal pipeline, `default`.
pub fn sales_pipeline(created: DateTime<Utc>) -> Pipeline {
    pipeline(DEFAULT_DEAL_PIPELINE, "Sales Pipeline", 0, ObjectType::Deal, default_deal_stages(), created)
}

/// A second deal pipeline for renewing customers.
pub fn renewals_pipeline(created: DateTime<Utc>) -> Pipeline {
    pipeline(RENEWALS_PIPELINE, "Renewals", 1, ObjectType::Deal, renewal_stages(), created)
}

/// HubSpot's default ticket pipeline, `0`.
pub fn support_pipeline(created: DateTime<Utc>) -> Pipeline {
    pipeline(SUPPORT_PIPELINE, "Support Pipeline", 0, ObjectType::Ticket, ticket_stages(), created)
}

fn pipeline(
    id: &str,
    label: &str,
    display_order: i32,
    object_type: ObjectType,
    stages: Vec<Stage>,
    created: DateTime<Utc>,
) -> Pipeline {
    Pipeline {
        id: id.to_owned(),
        label: label.to_owned(),
        display_order,
        object_type,
        stages,
        created_at: created,
        updated_at: created,
        archived: false,
    }
}

fn default_deal_stages() -> Vec<Stage> {
    deal_stages(&[
        ("appointmentscheduled", "Appointment scheduled", "0.2", false),
        ("qualifiedtobuy", "Qualified to buy", "0.4", false),
        ("presentationscheduled", "Presentation scheduled", "0.6", false),
        ("decisionmakerboughtin", "Decision maker bought-in", "0.8", false),
        ("contractsent", "Contract sent", "0.9", false),
        ("closedwon", "Closed won", "1.0", true),
        ("closedlost", "Closed lost", "0.0", true),
    ])
}

fn renewal_stages() -> Vec<Stage> {
    deal_stages(&[
        ("renewal_open", "Renewal due", "0.5", false),
        ("renewal_negotiation", "In negotiation", "0.75", false),
        ("renewal_won", "Renewed", "1.0", true),
        ("renewal_lost", "Churned", "0.0", true),
    ])
}

fn deal_stages(rows: &[(&str, &str, &str, bool)]) -> Vec<Stage> {
    let metadata = |probability: &str, closed: bool| {
        BTreeMap::from([
            ("probability".to_owned(), probability.to_owned()),
            ("isClosed".to_owned(), closed.to_string()),
        ])
    };
    stages(rows.iter().map(|&(id, label, p, closed)| (id, label, metadata(p, closed))))
}

fn ticket_stages() -> Vec<Stage> {
    let state = |s: &str| BTreeMap::from([("ticketState".to_owned(), s.to_owned())]);
    stages([
        ("1", "New", state("OPEN")),
        ("2", "Waiting on contact", state("OPEN")),
        ("3", "Waiting on us", state("OPEN")),
        (TICKET_CLOSED_STAGE, "Closed", state("CLOSED")),
    ])
}

fn stages<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, BTreeMap<String, String>)>) -> Vec<Stage> {
    rows.into_iter()
        .zip(0..)
        .map(|((id, label, metadata), display_order)| Stage {
            id: id.to_owned(),
            label: label.to_owned(),
            display_order,
            metadata,
        })
        .collect()
}
