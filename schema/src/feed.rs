//! Live changes for subscribers. The server publishes each change of a health score and each insight raised or
//! resolved once, on whichever replica made it; the feed delivers it to the subscribers of every replica (through
//! Redis when replicas share one).

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A client's health score changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreChanged {
    pub portal: i64,
    /// `company` or `contact`.
    pub subject_type: String,
    pub subject_id: i64,
    /// The history row of the change: a subscriber that reconnects after it misses nothing.
    pub cursor: i64,
    pub overall: i32,
    pub previous_overall: Option<i32>,
    pub crm: i32,
    pub payment: i32,
    pub engagement: i32,
    pub support: i32,
    pub churn_risk: i32,
    pub cause: Value,
    pub computed_at: DateTime<Utc>,
}

impl ScoreChanged {
    /// How far the overall score moved; a first score moves from nothing (0).
    pub fn delta(&self) -> i32 {
        self.overall - self.previous_overall.unwrap_or(0)
    }
}

impl From<entities::health_score_history::Model> for ScoreChanged {
    fn from(row: entities::health_score_history::Model) -> Self {
        Self {
            portal: row.portal_id,
            subject_type: row.subject_type,
            subject_id: row.subject_id,
            cursor: row.id,
            overall: row.overall,
            previous_overall: row.previous_overall,
            crm: row.crm,
            payment: row.payment,
            engagement: row.engagement,
            support: row.support,
            churn_risk: row.churn_risk,
            cause: row.cause,
            computed_at: row.computed_at,
        }
    }
}

/// An insight was raised, or resolved because its condition cleared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsightChanged {
    pub portal: i64,
    /// The change's row in `insight_events`: a subscriber that reconnects after it misses nothing.
    pub cursor: i64,
    /// `raised` or `resolved`.
    pub change: String,
    /// The insight as the change left it.
    pub insight: entities::insight::Model,
    pub cause: Value,
}

/// Anything subscribers hear of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Score(ScoreChanged),
    Insight(InsightChanged),
}

/// Where subscriptions read live changes from.
pub trait Feed: Send + Sync {
    /// Every change published from now on, on any replica.
    fn changes(&self) -> BoxStream<'static, Change>;
}
