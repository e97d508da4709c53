//! Subscriptions: changes pushed the moment a webhook, a mutation or a pass causes them, on any replica.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use entities::health_score_history;
use futures::{StreamExt, future::ready, stream, stream::BoxStream};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    error::{ApiError, IntoGql, Res},
    feed::ScoreChanged,
    health::HealthScoreChange,
    ids::numeric_key,
    scope::scope,
};

/// The most missed changes a reconnecting subscriber is sent before the live ones.
const MAX_REPLAY: u64 = 10_000;

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
