//! Subscriptions: changes pushed the moment a webhook, a mutation or a pass causes them, on any replica.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use entities::{health_score_history, insight, insight_event};
use futures::{StreamExt, future::ready, stream, stream::BoxStream};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    error::{ApiError, IntoGql, Res},
    feed::{Change, InsightChanged, ScoreChanged},
    health::HealthScoreChange,
    ids::numeric_key,
    insights::{InsightChange, InsightChangeKind, InsightImpact, InsightStatus},
    scope::{Scope, scope},
};

/// The most missed changes a reconnecting subscriber is sent before the live ones.
const MAX_REPLAY: u64 = 10_000;

fn cursor_of(after: &ID, subscription: &str) -> Res<i64> {
    after.parse().map_err(|_| ApiError::invalid("after", format!("not a cursor of {subscription}")))
}

/// What was missed, then what is live, each once and in order: `live` must be listening before `missed` is read,
/// and a live change at or before the last missed cursor is one already sent.
fn resume<T: Send + 'static>(
    missed: Vec<T>,
    after: Option<i64>,
    live: BoxStream<'static, T>,
    cursor: fn(&T) -> i64,
    wanted: impl Fn(&T) -> bool + Send + Sync + 'static,
) -> BoxStream<'static, T> {
    let seen = missed.last().map(cursor).or(after).unwrap_or(0);
    let wanted = Arc::new(wanted);
    let replay_wanted = wanted.clone();
    let missed = stream::iter(missed).filter(move |c| ready(replay_wanted(c)));
    missed.chain(live.filter(move |c| ready(cursor(c) > seen && wanted(c)))).boxed()
}

/// Changes of one kind from the feed.
fn live<T: Send + 'static>(scope: &Scope, pick: fn(Change) -> Option<T>) -> Res<BoxStream<'static, T>> {
    let feed = scope.feed.clone().ok_or(ApiError::NoFeed)?;
    Ok(feed.changes().filter_map(move |c| ready(pick(c))).boxed())
}

/// The raises or resolutions (`change`) missed since `after`, as the changes left each insight.
async fn missed_insights(scope: &Scope, change: InsightChangeKind, after: i64) -> Res<Vec<InsightChanged>> {
    use insight_event::Column as E;
    let events = insight_event::Entity::find()
        .filter(E::PortalId.eq(scope.portal_id))
        .filter(E::Id.gt(after))
        .filter(E::Change.eq(change.as_str()))
        .order_by_asc(E::Id)
        .limit(MAX_REPLAY)
        .all(&scope.db)
        .await?;
    let ids: Vec<i64> = events.iter().map(|e| e.insight_id).collect();
    let rows: std::collections::HashMap<i64, insight::Model> = insight::Entity::find()
        .filter(insight::Column::PortalId.eq(scope.portal_id))
        .filter(insight::Column::Id.is_in(ids))
        .all(&scope.db)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    Ok(events
        .into_iter()
        .filter_map(|event| {
            let mut insight = rows.get(&event.insight_id)?.clone();
            if event.change == InsightChangeKind::Raised.as_str() {
                // As it was raised; it may have been resolved since.
                (insight.status, insight.resolved_at) = (InsightStatus::Open.as_str().to_owned(), None);
            }
            Some(InsightChanged {
                portal: event.portal_id,
                cursor: event.id,
                change: event.change,
                insight,
                cause: event.cause,
            })
        })
        .collect())
}

async fn insight_changes(
    ctx: &Context<'_>,
    change: InsightChangeKind,
    min_impact: Option<InsightImpact>,
    company_id: Option<ID>,
    after: Option<ID>,
) -> Res<BoxStream<'static, InsightChange>> {
    let scope = scope(ctx);
    let company = company_id.map(|id| numeric_key(&id, "Company", "companyId")).transpose()?;
    let name = match change {
        InsightChangeKind::Raised => "insightRaised",
        InsightChangeKind::Resolved => "insightResolved",
    };
    let after = after.as_ref().map(|a| cursor_of(a, name)).transpose()?;
    let portal = scope.portal_id;
    let live = live(scope, |c| match c {
        Change::Insight(i) => Some(i),
        Change::Score(_) => None,
    })?;
    let missed = match after {
        Some(after) => missed_insights(scope, change, after).await?,
        None => Vec::new(),
    };
    let wanted = move |c: &InsightChanged| {
        c.portal == portal
            && c.change == change.as_str()
            && company.is_none_or(|id| c.insight.subject_type == "company" && c.insight.subject_id == id)
            && min_impact.is_none_or(|min| InsightImpact::parse(&c.insight.impact).is_some_and(|i| i >= min))
    };
    Ok(resume(missed, after, live, |c| c.cursor, wanted).map(InsightChange).boxed())
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
        let company = company_id.map(|id| numeric_key(&id, "Company", "companyId")).transpose().gql()?;
        let min = min_delta.unwrap_or(0);
        if min < 0 {
            return Err(ApiError::invalid("minDelta", "must be 0 or more")).gql();
        }
        let after = after.as_ref().map(|a| cursor_of(a, "healthScoreChanged")).transpose().gql()?;
        let portal = scope.portal_id;
        let live = live(scope, |c| match c {
            Change::Score(s) => Some(s),
            Change::Insight(_) => None,
        })
        .gql()?;
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
        let wanted = move |c: &ScoreChanged| {
            c.portal == portal
                && company.is_none_or(|id| c.subject_type == "company" && c.subject_id == id)
                && c.delta().abs() >= min
        };
        Ok(resume(missed, after, live, |c| c.cursor, wanted).map(HealthScoreChange).boxed())
    }

    /// Each insight raised in the portal, or about one company (`companyId`), of at least `minImpact`. With
    /// `after`, the cursor of the last raise seen, the raises missed since come first.
    async fn insight_raised(
        &self,
        ctx: &Context<'_>,
        min_impact: Option<InsightImpact>,
        company_id: Option<ID>,
        after: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, InsightChange>> {
        insight_changes(ctx, InsightChangeKind::Raised, min_impact, company_id, after).await.gql()
    }

    /// Each insight resolved (its condition cleared), filtered and resumed as `insightRaised`.
    async fn insight_resolved(
        &self,
        ctx: &Context<'_>,
        min_impact: Option<InsightImpact>,
        company_id: Option<ID>,
        after: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, InsightChange>> {
        insight_changes(ctx, InsightChangeKind::Resolved, min_impact, company_id, after).await.gql()
    }
}
