//! Insights about clients as GraphQL: `insights(where, orderBy)` as a connection, `company.insights` and
//! `contact.insights`, and the raises and resolutions that subscriptions push. The rules that raise them run in the
//! server beside the health scores; this module owns their vocabulary (types, impacts, statuses).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};
use entities::insight;
use sea_orm::sea_query::{Condition, ExprTrait};
use serde_json::Value;

use crate::{
    columns::Read,
    connection::{Conn, PageArgs, keyset_page},
    error::{ApiError, GqlResult, IntoGql, Res},
    feed::InsightChanged,
    filter::TableRef,
    health::{HealthSubject, subject_company, subject_contact},
    ids::global_id,
    loaders::RecordKey,
    objects::{company::Company, contact::Contact},
    order::{OrderBy, OrderDirection, SortField, SortKey},
    scope::scope,
};

/// What an insight is about.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InsightType {
    /// No activity for the configured number of days (30 by default), or none ever.
    InactiveClient,
    /// Closed-won revenue over the threshold (10,000) with few interactions (fewer than 5).
    HighValueLowEngagement,
    /// Few contacts respond (under 30%) although there were interactions (more than 3).
    DecliningEngagement,
    /// Several risk signals together (3 by default).
    ChurnRisk,
    /// Healthy, engaged, and nothing in the pipeline yet: room to grow.
    UpsellOpportunity,
}

impl InsightType {
    pub const ALL: [Self; 5] = [
        Self::InactiveClient,
        Self::HighValueLowEngagement,
        Self::DecliningEngagement,
        Self::ChurnRisk,
        Self::UpsellOpportunity,
    ];

    /// The name the `insights` table stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InactiveClient => "inactiveClient",
            Self::HighValueLowEngagement => "highValueLowEngagement",
            Self::DecliningEngagement => "decliningEngagement",
            Self::ChurnRisk => "churnRisk",
            Self::UpsellOpportunity => "upsellOpportunity",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How much an insight matters to the business, least first.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InsightImpact {
    Low,
    Medium,
    High,
    Critical,
}

impl InsightImpact {
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == name)
    }

    /// One level more, up to critical.
    pub fn raised(self) -> Self {
        match self {
            Self::Low => Self::Medium,
            Self::Medium => Self::High,
            Self::High | Self::Critical => Self::Critical,
        }
    }

    /// The stored names of this impact and every greater one.
    fn at_least(self) -> Vec<&'static str> {
        Self::ALL.into_iter().filter(|i| *i >= self).map(Self::as_str).collect()
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InsightStatus {
    /// Its condition holds.
    Open,
    /// Its condition cleared.
    Resolved,
}

impl InsightStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

/// A finding about a client, raised by a rule while its condition holds and resolved when it clears.
#[derive(Clone, Debug)]
pub struct Insight(pub(crate) Arc<insight::Model>);

#[Object]
impl Insight {
    /// Global ID.
    async fn id(&self) -> ID {
        global_id("Insight", self.0.id)
    }

    #[graphql(name = "type")]
    async fn kind(&self) -> Option<InsightType> {
        InsightType::parse(&self.0.kind)
    }

    async fn impact(&self) -> Option<InsightImpact> {
        InsightImpact::parse(&self.0.impact)
    }

    /// 0–100: how many signals agree, and how complete the client's data is.
    async fn confidence(&self) -> i32 {
        self.0.confidence
    }

    async fn status(&self) -> InsightStatus {
        if self.0.status == InsightStatus::Resolved.as_str() { InsightStatus::Resolved } else { InsightStatus::Open }
    }

    async fn subject_type(&self) -> HealthSubject {
        HealthSubject::of(&self.0.subject_type)
    }

    /// The company it is about (null for a contact's insight).
    async fn company(&self, ctx: &Context<'_>) -> GqlResult<Option<Company>> {
        subject_company(ctx, &self.0.subject_type, self.0.subject_id).await
    }

    /// The contact it is about (null for a company's insight).
    async fn contact(&self, ctx: &Context<'_>) -> GqlResult<Option<Contact>> {
        subject_contact(ctx, &self.0.subject_type, self.0.subject_id).await
    }

    /// What to do about it, most useful first.
    async fn recommended_actions(&self) -> Vec<String> {
        serde_json::from_value(self.0.actions.clone()).unwrap_or_default()
    }

    /// The inputs behind it, their values and the thresholds they crossed.
    async fn evidence(&self) -> Json<Value> {
        Json(self.0.evidence.clone())
    }

    async fn raised_at(&self) -> DateTime<Utc> {
        self.0.raised_at
    }

    /// When its impact, confidence or evidence last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InsightChangeKind {
    Raised,
    Resolved,
}

impl InsightChangeKind {
    /// The name `insight_events` stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raised => "raised",
            Self::Resolved => "resolved",
        }
    }
}

/// An insight raised or resolved, with what caused it.
pub struct InsightChange(pub(crate) InsightChanged);

impl InsightChange {
    fn is_resolution(&self) -> bool {
        self.0.change == InsightChangeKind::Resolved.as_str()
    }
}

#[Object]
impl InsightChange {
    /// Resume after this: pass it as `after` when reconnecting.
    async fn cursor(&self) -> ID {
        ID(self.0.cursor.to_string())
    }

    async fn change(&self) -> InsightChangeKind {
        if self.is_resolution() { InsightChangeKind::Resolved } else { InsightChangeKind::Raised }
    }

    /// The insight as the change left it.
    async fn insight(&self) -> Insight {
        Insight(Arc::new(self.0.insight.clone()))
    }

    /// Its status before: null for a raise, `OPEN` for a resolution.
    async fn previous_status(&self) -> Option<InsightStatus> {
        self.is_resolution().then_some(InsightStatus::Open)
    }

    /// What caused it, as `HealthScoreChange.cause` says.
    async fn cause(&self) -> Json<Value> {
        Json(self.0.cause.clone())
    }
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct InsightWhere {
    #[graphql(name = "type")]
    pub kind: Option<InsightType>,
    pub impact: Option<InsightImpact>,
    /// This impact or a greater one.
    pub min_impact: Option<InsightImpact>,
    /// 0–100.
    pub min_confidence: Option<i32>,
    pub status: Option<InsightStatus>,
    pub subject_type: Option<HealthSubject>,
    /// One company's (global or HubSpot id).
    pub company_id: Option<ID>,
}

impl InsightWhere {
    fn condition(&self, t: &TableRef) -> Res<Condition> {
        let mut cond = Condition::all();
        if let Some(kind) = self.kind {
            cond = cond.add(t.col("kind").eq(kind.as_str()));
        }
        if let Some(impact) = self.impact {
            cond = cond.add(t.col("impact").eq(impact.as_str()));
        }
        if let Some(min) = self.min_impact {
            cond = cond.add(t.col("impact").is_in(min.at_least()));
        }
        if let Some(min) = self.min_confidence {
            if !(0..=100).contains(&min) {
                return Err(ApiError::invalid("where.minConfidence", format!("must be between 0 and 100, got {min}")));
            }
            cond = cond.add(t.col("confidence").gte(min));
        }
        if let Some(status) = self.status {
            cond = cond.add(t.col("status").eq(status.as_str()));
        }
        if let Some(subject) = self.subject_type {
            cond = cond.add(t.col("subject_type").eq(subject.as_str()));
        }
        if let Some(id) = &self.company_id {
            let id = crate::ids::numeric_key(id, "Company", "where.companyId")?;
            cond = cond.add(t.col("subject_type").eq("company")).add(t.col("subject_id").eq(id));
        }
        Ok(cond)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum InsightOrderField {
    RaisedAt,
    UpdatedAt,
    Confidence,
}

impl SortField for InsightOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::RaisedAt => "raised_at",
            Self::UpdatedAt => "updated_at",
            Self::Confidence => "confidence",
        }
    }
}

/// The insights of a client, newest first, through the request's loader; only those of `status` when given.
/// Boxed (see `objects::Boxed`).
pub(crate) fn insights_of<'a>(
    ctx: &'a Context<'_>,
    kind: &'static str,
    id: i64,
    status: Option<InsightStatus>,
) -> crate::objects::Boxed<'a, GqlResult<Vec<Insight>>> {
    Box::pin(async move {
        let all = scope(ctx).loaders.insights.load_one(RecordKey { kind, id }).await?.unwrap_or_default();
        Ok(all
            .iter()
            .filter(|row| status.is_none_or(|s| row.status == s.as_str()))
            .map(|row| Insight(Arc::new(row.clone())))
            .collect())
    })
}

#[derive(Default)]
pub struct InsightQuery;

#[Object]
impl InsightQuery {
    /// Insights about the portal's clients as a connection; by default the newest first.
    #[allow(clippy::too_many_arguments)]
    async fn insights(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<InsightWhere>,
        order_by: Option<Vec<OrderBy<InsightOrderField>>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<Insight>> {
        let scope = scope(ctx);
        let table = TableRef::new("insights", scope.portal_id, scope.db.get_database_backend());
        let mut cond = Condition::all().add(table.col("portal_id").eq(scope.portal_id));
        if let Some(filter) = filter {
            cond = cond.add(filter.condition(&table).gql()?);
        }
        let mut sort: Vec<(&'static str, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| (o.field.column(), o.direction == OrderDirection::Desc))
            .collect();
        if sort.is_empty() {
            sort.push(("raised_at", true));
        }
        sort.push(("id", true));
        let args = PageArgs { first, after, last, before };
        let sort: Vec<SortKey> = sort.into_iter().map(SortKey::from).collect();
        let page = keyset_page::<insight::Entity>(&scope.db, cond, &sort, &args, Read::Whole).await.gql()?;
        Ok(page.into_connection(Insight))
    }
}
