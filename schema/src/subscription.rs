//! Subscriptions: changes pushed the moment a webhook, a mutation or a pass causes them, on any replica.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, Subscription};
use chrono::{DateTime, Utc};
use entities::health_score_history;
use futures::{StreamExt, future::ready, stream, stream::BoxStream};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use crate::{
    error::{ApiError, GqlResult, IntoGql, Res},
    feed::ScoreChanged,
    health::HealthSubject,
    ids::numeric_key,
    objects::{company::Company, contact::Contact},
    records::Written,
    scope::scope,
};

/// The most missed changes a reconnecting subscriber is sent before the live ones.
const MAX_REPLAY: u64 = 10_000;

/// A change of a client's health score, with what caused it.
pub struct HealthScoreChange(ScoreChanged);

#[Object]
impl HealthScoreChange {
    /// Resume after this: pass it as `after` when reconnecting.
    async fn cursor(&self) -> ID {
        ID(self.0.cursor.to_string())
    }

    async fn subject_type(&self) -> HealthSubject {
        if self.0.subject_type == "contact" { HealthSubject::Contact } else { HealthSubject::Company }
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

fn cursor_of(after: &ID) -> Res<i64> {
    after.parse().map_err(|_| ApiError::invalid("after", "not a cursor of healthScoreChanged"))
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Each change of a health score in the portal, or of one company's (`companyId`), that moves the overall score
    /// by at least `minDelta` points either way. With `after`, the cursor of the last change seen, the changes
    /// missed since come first.
    async fn health_score_changed(
        &self,
        ctx: &Context<'_>,
        company_id: Option<ID>,
        min_delta: Option<i32>,
        after: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, HealthScoreChange>> {
        let scope = scope(ctx);
        let feed = scope.feed.clone().ok_or(ApiError::NoFeed).gql()?;
        let company = company_id.map(|id| numeric_key(&id, "Company", "companyId")).transpose().gql()?;
        let min = min_delta.unwrap_or(0);
        if min < 0 {
            return Err(ApiError::invalid("minDelta", "must be 0 or more")).gql();
        }
        let after = after.as_ref().map(cursor_of).transpose().gql()?;
        let portal = scope.portal_id;
        let wanted = Arc::new(move |c: &ScoreChanged| {
            c.portal == portal
                && company.is_none_or(|id| c.subject_type == "company" && c.subject_id == id)
                && c.delta().abs() >= min
        });
        // Listen before reading what was missed, so nothing falls between the two.
        let live = feed.score_changes();
        let missed: Vec<ScoreChanged> = match after {
            None => Vec::new(),
            Some(after) => {
                use health_score_history::Column as H;
                let mut select = health_score_history::Entity::find()
                    .filter(H::PortalId.eq(portal))
                    .filter(H::Id.gt(after))
                    .order_by_asc(H::Id)
                    .limit(MAX_REPLAY);
                if let Some(id) = company {
                    select = select.filter(H::SubjectType.eq("company")).filter(H::SubjectId.eq(id));
                }
                select.all(&scope.db).await.gql()?.into_iter().map(ScoreChanged::from).collect()
            }
        };
        let seen = missed.last().map(|m| m.cursor).or(after).unwrap_or(0);
        let replay_wanted = wanted.clone();
        let missed = stream::iter(missed).filter(move |c| ready(replay_wanted(c)));
        let live = live.filter(move |c| ready(c.cursor > seen && wanted(c)));
        Ok(missed.chain(live).map(HealthScoreChange).boxed())
    }
}
