//! Client health as the gateway scored it: the current score of each company (and of each contact without one),
//! with its explanation, and its changes (the history, and what subscriptions push).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{health_score, health_score_history};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Condition, ExprTrait},
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    columns::Read,
    connection::{Conn, PageArgs, keyset_page},
    error::{ApiError, GqlResult, IntoGql, Res},
    feed::ScoreChanged,
    filter::{DateTimeFilter, IntFilter, TableRef, f, fields},
    ids::numeric_key,
    loaders::RecordKey,
    objects::{
        company::Company,
        contact::Contact,
        relation::{Where, combine},
    },
    order::{OrderBy, OrderDirection, SortField, SortKey},
    records::Written,
    scope::scope,
};

/// The most history points one `healthScoreHistory` answers.
const MAX_HISTORY: u64 = 1000;

/// Whom a score is about.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum HealthSubject {
    Company,
    /// A contact linked to no company.
    Contact,
}

impl HealthSubject {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::Contact => "contact",
        }
    }

    /// The subject a stored `subject_type` names.
    pub(crate) fn of(subject_type: &str) -> Self {
        if subject_type == "contact" { Self::Contact } else { Self::Company }
    }
}

/// The company a score or insight is about, through the request's loader (null when it is about a contact).
pub(crate) async fn subject_company(ctx: &Context<'_>, subject_type: &str, id: i64) -> GqlResult<Option<Company>> {
    if subject_type != "company" {
        return Ok(None);
    }
    Ok(Company::mirrored(scope(ctx), id).await.gql()?.map(Company::wrap))
}

/// The contact a score or insight is about (null when it is about a company).
pub(crate) async fn subject_contact(ctx: &Context<'_>, subject_type: &str, id: i64) -> GqlResult<Option<Contact>> {
    if subject_type != "contact" {
        return Ok(None);
    }
    Ok(Contact::mirrored(scope(ctx), id).await.gql()?.map(Contact::wrap))
}

/// One input's part in a score: its value and the points it earned (support starts at 100 and inputs cost points).
#[derive(SimpleObject, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct HealthFactor {
    /// `crm`, `payment`, `engagement` or `support`.
    pub dimension: String,
    pub input: String,
    pub value: Json<Value>,
    pub contribution: f64,
    /// When the records behind the input last changed.
    pub changed_at: Option<DateTime<Utc>>,
}

/// A client's health: four dimensions (0–100), the overall score their weights give, and the churn risk (%).
#[derive(Clone, Debug)]
pub struct HealthScore(pub(crate) Arc<health_score::Model>);

#[Object]
impl HealthScore {
    async fn subject_type(&self) -> HealthSubject {
        HealthSubject::of(&self.0.subject_type)
    }

    /// The company scored (null for a contact's score).
    async fn company(&self, ctx: &Context<'_>) -> GqlResult<Option<Company>> {
        subject_company(ctx, &self.0.subject_type, self.0.subject_id).await
    }

    /// The contact scored (null for a company's score).
    async fn contact(&self, ctx: &Context<'_>) -> GqlResult<Option<Contact>> {
        subject_contact(ctx, &self.0.subject_type, self.0.subject_id).await
    }

    async fn overall(&self) -> i32 {
        self.0.overall
    }

    async fn crm(&self) -> i32 {
        self.0.crm
    }

    async fn payment(&self) -> i32 {
        self.0.payment
    }

    async fn engagement(&self) -> i32 {
        self.0.engagement
    }

    async fn support(&self) -> i32 {
        self.0.support
    }

    async fn churn_risk(&self) -> i32 {
        self.0.churn_risk
    }

    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at
    }

    /// Every input behind the score, its value and the points it earned.
    async fn factors(&self) -> Vec<HealthFactor> {
        serde_json::from_value(self.0.explanation["factors"].clone()).unwrap_or_default()
    }

    /// The risk signals that raise the churn risk: `inactive`, `noPipeline`, `decliningRevenue`, `urgentTickets`,
    /// `lowResponse`.
    async fn signals(&self) -> Vec<String> {
        serde_json::from_value(self.0.explanation["signals"].clone()).unwrap_or_default()
    }

    /// The weights and the portal's email baseline the score used.
    async fn basis(&self) -> Json<Value> {
        Json(
            serde_json::json!({ "weights": self.0.explanation["weights"], "baseline": self.0.explanation["baseline"] }),
        )
    }
}

/// A change of a client's health score, with what caused it.
pub struct HealthScoreChange(pub(crate) ScoreChanged);

#[Object]
impl HealthScoreChange {
    /// Resume after this: pass it as `after` when reconnecting.
    async fn cursor(&self) -> ID {
        ID(self.0.cursor.to_string())
    }

    async fn subject_type(&self) -> HealthSubject {
        HealthSubject::of(&self.0.subject_type)
    }

    /// The HubSpot id of the company (or contact) scored, without reading the record.
    async fn subject_id(&self) -> ID {
        ID(self.0.subject_id.to_string())
    }

    /// The company, as the mirror holds it now (read afresh for each change: a subscription lives long).
    async fn company(&self, ctx: &Context<'_>) -> GqlResult<Option<Company>> {
        if self.0.subject_type != "company" {
            return Ok(None);
        }
        let scope = scope(ctx);
        Company::read(&scope.db, scope.portal_id, self.0.subject_id).await.gql()
    }

    async fn contact(&self, ctx: &Context<'_>) -> GqlResult<Option<Contact>> {
        if self.0.subject_type != "contact" {
            return Ok(None);
        }
        let scope = scope(ctx);
        Contact::read(&scope.db, scope.portal_id, self.0.subject_id).await.gql()
    }

    async fn overall(&self) -> i32 {
        self.0.overall
    }

    /// The overall score before; null for a first score.
    async fn previous_overall(&self) -> Option<i32> {
        self.0.previous_overall
    }

    /// `overall - previousOverall`.
    async fn delta(&self) -> i32 {
        self.0.delta()
    }

    async fn crm(&self) -> i32 {
        self.0.crm
    }

    async fn payment(&self) -> i32 {
        self.0.payment
    }

    async fn engagement(&self) -> i32 {
        self.0.engagement
    }

    async fn support(&self) -> i32 {
        self.0.support
    }

    async fn churn_risk(&self) -> i32 {
        self.0.churn_risk
    }

    /// What caused it: `{kind: "webhook", eventIds}`, `{kind: "mutation", operation, records}`, `{kind: "sweep"}` or
    /// `{kind: "fullPass"}`.
    async fn cause(&self) -> Json<Value> {
        Json(self.0.cause.clone())
    }

    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at
    }
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct HealthScoreWhere {
    pub subject_type: Option<HealthSubject>,
    pub overall: Option<IntFilter>,
    pub crm: Option<IntFilter>,
    pub payment: Option<IntFilter>,
    pub engagement: Option<IntFilter>,
    pub support: Option<IntFilter>,
    pub churn_risk: Option<IntFilter>,
    pub computed_at: Option<DateTimeFilter>,
    pub and: Option<Vec<HealthScoreWhere>>,
    pub or: Option<Vec<HealthScoreWhere>>,
    pub not: Option<Box<HealthScoreWhere>>,
}

impl Where for HealthScoreWhere {
    const TABLE: &'static str = "health_scores";
    const KIND: &'static str = "health_score";

    fn condition(&self, t: &TableRef, hops: usize) -> Res<Condition> {
        let mut own = fields(
            t,
            &[
                ("overall", "overall", f(&self.overall)),
                ("crm", "crm", f(&self.crm)),
                ("payment", "payment", f(&self.payment)),
                ("engagement", "engagement", f(&self.engagement)),
                ("support", "support", f(&self.support)),
                ("churnRisk", "churn_risk", f(&self.churn_risk)),
                ("computedAt", "computed_at", f(&self.computed_at)),
            ],
        )?;
        if let Some(subject) = self.subject_type {
            own = own.add(t.col("subject_type").eq(subject.as_str()));
        }
        combine(own, &self.and, &self.or, &self.not, t, hops)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum HealthScoreOrderField {
    Overall,
    Crm,
    Payment,
    Engagement,
    Support,
    ChurnRisk,
    ComputedAt,
}

impl SortField for HealthScoreOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::Overall => "overall",
            Self::Crm => "crm",
            Self::Payment => "payment",
            Self::Engagement => "engagement",
            Self::Support => "support",
            Self::ChurnRisk => "churn_risk",
            Self::ComputedAt => "computed_at",
        }
    }
}

/// The current score of a client, through the request's loader. Boxed (see `objects::Boxed`).
pub(crate) fn score_of<'a>(
    ctx: &'a Context<'_>,
    kind: &'static str,
    id: i64,
) -> crate::objects::Boxed<'a, GqlResult<Option<HealthScore>>> {
    Box::pin(async move {
        let loaded = scope(ctx).loaders.health_scores.load_one(RecordKey { kind, id }).await?;
        Ok(loaded.flatten().map(HealthScore))
    })
}

#[derive(Default)]
pub struct HealthQuery;

#[Object]
impl HealthQuery {
    /// Current health scores as a connection; by default the least healthy first.
    #[allow(clippy::too_many_arguments)]
    async fn health_scores(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<HealthScoreWhere>,
        order_by: Option<Vec<OrderBy<HealthScoreOrderField>>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<HealthScore>> {
        let scope = scope(ctx);
        let table = TableRef::new(HealthScoreWhere::TABLE, scope.portal_id, scope.db.get_database_backend());
        let mut cond = Condition::all().add(table.col("portal_id").eq(scope.portal_id));
        if let Some(filter) = filter {
            cond = cond.add(filter.condition(&table, 0).gql()?);
        }
        let mut sort: Vec<(&'static str, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| (o.field.column(), o.direction == OrderDirection::Desc))
            .collect();
        if sort.is_empty() {
            sort.push(("overall", false));
        }
        // Each client has one place: subject type and id break ties.
        sort.extend([("subject_type", false), ("subject_id", false)]);
        let args = PageArgs { first, after, last, before };
        let sort: Vec<SortKey> = sort.into_iter().map(SortKey::from).collect();
        let page = keyset_page::<health_score::Entity>(&scope.db, cond, &sort, &args, Read::Whole).await.gql()?;
        Ok(page.into_connection(HealthScore))
    }

    /// How a company's score (or a contact's, for a contact without a company) changed between `from` and `to`
    /// (both optional), oldest first; at most 1,000 points.
    async fn health_score_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A company's global ID, or a contact's.")] id: ID,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> GqlResult<Vec<HealthScoreChange>> {
        let scope = scope(ctx);
        let (kind, key) = subject_of(&id).gql()?;
        use health_score_history::Column as H;
        let mut select = health_score_history::Entity::find()
            .filter(H::PortalId.eq(scope.portal_id))
            .filter(H::SubjectType.eq(kind))
            .filter(H::SubjectId.eq(key));
        if let Some(from) = from {
            select = select.filter(H::ComputedAt.gte(from));
        }
        if let Some(to) = to {
            select = select.filter(H::ComputedAt.lt(to));
        }
        let rows = select.order_by_asc(H::Id).limit(MAX_HISTORY).all(&scope.db).await.gql()?;
        Ok(rows.into_iter().map(|row| HealthScoreChange(row.into())).collect())
    }
}

/// The subject a global ID names: a company's or a contact's.
fn subject_of(id: &ID) -> Res<(&'static str, i64)> {
    match crate::ids::decode_global(id).map(|(type_name, _)| type_name).as_deref() {
        Some("Contact") => Ok(("contact", numeric_key(id, "Contact", "id")?)),
        Some("Company") | None => Ok(("company", numeric_key(id, "Company", "id")?)),
        Some(other) => {
            Err(ApiError::invalid("id", format!("health is scored for companies and contacts, not {other}")))
        }
    }
}
