//! Analytics over the mirror, computed in SQL (aggregates and one `CASE` per bucket), never by loading rows.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use entities::{campaign, company, contact, deal, pipeline_stage, ticket};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select,
    sea_query::{Alias, Expr, ExprTrait, Func},
};

use crate::{
    error::{ApiError, GqlResult, IntoGql, Res},
    objects::campaign::ratio,
    scope::{Scope, scope},
};

/// The most buckets `growth` returns.
const MAX_PERIODS: i32 = 120;

#[derive(Default)]
pub struct AnalyticsQuery;

/// The start of the calendar month holding `t`.
fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0).single().unwrap_or(t)
}

/// `[from, to)`, the current calendar month when not given.
fn period(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Res<(DateTime<Utc>, DateTime<Utc>)> {
    let start = month_start(Utc::now());
    let from = from.unwrap_or(start);
    let to = to.unwrap_or_else(|| start + Months::new(1));
    if to <= from {
        return Err(ApiError::invalid("to", "must be after `from`"));
    }
    Ok((from, to))
}

#[derive(FromQueryResult)]
struct CountRow {
    n: i64,
}

#[derive(FromQueryResult)]
struct SumRow {
    n: i64,
    amount: f64,
    weighted: f64,
}

async fn live_count<E: EntityTrait>(scope: &Scope, select: Select<E>) -> Res<i64> {
    let row =
        select.select_only().column_as(Expr::cust("COUNT(*)"), "n").into_model::<CountRow>().one(&scope.db).await?;
    Ok(row.map_or(0, |r| r.n))
}

fn live<E: EntityTrait>(scope: &Scope, portal: E::Column, archived: E::Column) -> Select<E> {
    E::find().filter(portal.eq(scope.portal_id)).filter(archived.is_null())
}

fn live_deals(scope: &Scope) -> Select<deal::Entity> {
    live::<deal::Entity>(scope, deal::Column::PortalId, deal::Column::ArchivedAt)
}

/// Count, amount and probability-weighted amount of the selected deals.
async fn deal_sums(scope: &Scope, select: Select<deal::Entity>) -> Res<SumRow> {
    let row = select
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust("COALESCE(SUM(amount), 0.0)"), "amount")
        .column_as(Expr::cust("COALESCE(SUM(amount * COALESCE(probability, 0.0)), 0.0)"), "weighted")
        .into_model::<SumRow>()
        .one(&scope.db)
        .await?;
    Ok(row.unwrap_or(SumRow { n: 0, amount: 0.0, weighted: 0.0 }))
}

/// Headline figures of the portal.
#[derive(SimpleObject)]
pub struct CrmSummary {
    pub contacts: i64,
    pub companies: i64,
    pub deals: i64,
    pub tickets: i64,
    /// Deals not yet closed, their total amount, and that amount weighted by stage probability.
    pub open_deals: i64,
    pub open_pipeline_value: f64,
    pub weighted_pipeline_value: f64,
    /// Deals won with a close date in `[periodStart, periodEnd)`, and their amount.
    pub won_deals: i64,
    pub won_value: f64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct StageReport {
    pub stage_id: ID,
    pub label: String,
    pub display_order: i32,
    pub probability: Option<f64>,
    pub is_closed: bool,
    pub deals: i64,
    pub amount: f64,
    pub weighted_amount: f64,
}

#[derive(SimpleObject)]
pub struct DealPipelineReport {
    pub pipeline_id: ID,
    pub stages: Vec<StageReport>,
    pub deals: i64,
    pub amount: f64,
    pub weighted_amount: f64,
}

#[derive(SimpleObject)]
pub struct WinRate {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub won: i64,
    pub lost: i64,
    /// won / (won + lost); 0 when nothing closed.
    pub rate: f64,
    pub won_amount: f64,
    pub lost_amount: f64,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GrowthMetric {
    Contacts,
    Companies,
    Deals,
    Tickets,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GrowthInterval {
    Day,
    Week,
    Month,
}

/// New records created in one period.
#[derive(SimpleObject)]
pub struct GrowthPoint {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub count: i64,
    /// Change against the previous period as a fraction (0.25 = +25%); null for the first or after an empty one.
    pub change: Option<f64>,
}

#[derive(SimpleObject)]
pub struct CampaignRates {
    pub campaign_id: ID,
    pub name: String,
    pub sent: i64,
    pub delivered: i64,
    pub opened: i64,
    pub clicked: i64,
    pub bounced: i64,
    pub open_rate: f64,
    pub click_rate: f64,
    pub bounce_rate: f64,
}

#[derive(SimpleObject)]
pub struct CampaignPerformance {
    pub campaigns: Vec<CampaignRates>,
    /// All live campaigns together.
    pub overall: CampaignRates,
}

#[derive(FromQueryResult)]
struct StageRow {
    dealstage: Option<String>,
    n: i64,
    amount: f64,
}

#[derive(FromQueryResult)]
struct WinRow {
    won: i64,
    lost: i64,
    won_amount: f64,
    lost_amount: f64,
}

#[derive(FromQueryResult)]
struct CampaignRow {
    hubspot_id: String,
    name: String,
    sent: i64,
    delivered: i64,
    opened: i64,
    clicked: i64,
    bounced: i64,
}

impl From<CampaignRow> for CampaignRates {
    fn from(r: CampaignRow) -> Self {
        Self {
            campaign_id: ID(r.hubspot_id),
            name: r.name,
            sent: r.sent,
            delivered: r.delivered,
            opened: r.opened,
            clicked: r.clicked,
            bounced: r.bounced,
            open_rate: ratio(r.opened, r.delivered),
            click_rate: ratio(r.clicked, r.delivered),
            bounce_rate: ratio(r.bounced, r.sent),
        }
    }
}

/// Bucket boundaries: `periods` buckets ending with the one holding now.
fn buckets(interval: GrowthInterval, periods: i32) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let now = Utc::now();
    let day = Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0).single().unwrap_or(now);
    let current = match interval {
        GrowthInterval::Day => day,
        GrowthInterval::Week => day - Duration::days(i64::from(now.weekday().num_days_from_monday())),
        GrowthInterval::Month => month_start(now),
    };
    let step = |t: DateTime<Utc>, n: i32| -> DateTime<Utc> {
        match interval {
            GrowthInterval::Day => t + Duration::days(i64::from(n)),
            GrowthInterval::Week => t + Duration::weeks(i64::from(n)),
            GrowthInterval::Month if n >= 0 => t + Months::new(n as u32),
            GrowthInterval::Month => t - Months::new(n.unsigned_abs()),
        }
    };
    (0..periods).rev().map(|back| (step(current, -back), step(current, 1 - back))).collect()
}

#[Object]
impl AnalyticsQuery {
    /// Counts of live records, the open pipeline, and what was won in a period (default: this calendar month).
    async fn crm_summary(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> GqlResult<CrmSummary> {
        let scope = scope(ctx);
        let (from, to) = period(from, to).gql()?;
        let counts = futures::try_join!(
            live_count(scope, live::<contact::Entity>(scope, contact::Column::PortalId, contact::Column::ArchivedAt)),
            live_count(scope, live::<company::Entity>(scope, company::Column::PortalId, company::Column::ArchivedAt)),
            live_count(scope, live_deals(scope)),
            live_count(scope, live::<ticket::Entity>(scope, ticket::Column::PortalId, ticket::Column::ArchivedAt)),
            deal_sums(
                scope,
                live_deals(scope).filter(deal::Column::IsClosed.eq(false).or(deal::Column::IsClosed.is_null()))
            ),
            deal_sums(
                scope,
                live_deals(scope)
                    .filter(deal::Column::IsClosedWon.eq(true))
                    .filter(deal::Column::Closedate.gte(from))
                    .filter(deal::Column::Closedate.lt(to)),
            ),
        );
        let (contacts, companies, deals, tickets, open, won) = counts.gql()?;
        Ok(CrmSummary {
            contacts,
            companies,
            deals,
            tickets,
            open_deals: open.n,
            open_pipeline_value: open.amount,
            weighted_pipeline_value: open.weighted,
            won_deals: won.n,
            won_value: won.amount,
            period_start: from,
            period_end: to,
        })
    }

    /// Per stage of a deal pipeline: live deals, their amount, and the amount weighted by the stage's probability.
    async fn deal_pipeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "ID::from(\"default\")")] pipeline_id: ID,
    ) -> GqlResult<Option<DealPipelineReport>> {
        let scope = scope(ctx);
        let stages = pipeline_stage::Entity::find()
            .filter(pipeline_stage::Column::PortalId.eq(scope.portal_id))
            .filter(pipeline_stage::Column::PipelineId.eq(pipeline_id.as_str()))
            .filter(pipeline_stage::Column::ArchivedAt.is_null())
            .order_by_asc(pipeline_stage::Column::DisplayOrder)
            .all(&scope.db);
        let sums = live_deals(scope)
            .filter(deal::Column::Pipeline.eq(pipeline_id.as_str()))
            .select_only()
            .column(deal::Column::Dealstage)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .column_as(Expr::cust("COALESCE(SUM(amount), 0.0)"), "amount")
            .group_by(deal::Column::Dealstage)
            .into_model::<StageRow>()
            .all(&scope.db);
        let (stages, sums) = futures::try_join!(stages, sums).map_err(ApiError::from).gql()?;
        if stages.is_empty() {
            return Ok(None);
        }
        let stages: Vec<StageReport> = stages
            .into_iter()
            .map(|stage| {
                let row = sums.iter().find(|r| r.dealstage.as_deref() == Some(stage.hubspot_id.as_str()));
                let (deals, amount) = row.map_or((0, 0.0), |r| (r.n, r.amount));
                StageReport {
                    stage_id: ID(stage.hubspot_id),
                    label: stage.label,
                    display_order: stage.display_order,
                    probability: stage.probability,
                    is_closed: stage.is_closed,
                    deals,
                    amount,
                    weighted_amount: amount * stage.probability.unwrap_or(0.0),
                }
            })
            .collect();
        Ok(Some(DealPipelineReport {
            pipeline_id,
            deals: stages.iter().map(|s| s.deals).sum(),
            amount: stages.iter().map(|s| s.amount).sum(),
            weighted_amount: stages.iter().map(|s| s.weighted_amount).sum(),
            stages,
        }))
    }

    /// Won against lost among deals closed in `[from, to)` (default: this calendar month).
    async fn win_rate(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> GqlResult<WinRate> {
        let scope = scope(ctx);
        let (from, to) = period(from, to).gql()?;
        let row = live_deals(scope)
            .filter(deal::Column::IsClosed.eq(true))
            .filter(deal::Column::Closedate.gte(from))
            .filter(deal::Column::Closedate.lt(to))
            .select_only()
            .column_as(Expr::cust("COALESCE(SUM(CASE WHEN is_closed_won THEN 1 ELSE 0 END), 0)"), "won")
            .column_as(Expr::cust("COALESCE(SUM(CASE WHEN is_closed_won THEN 0 ELSE 1 END), 0)"), "lost")
            .column_as(Expr::cust("COALESCE(SUM(CASE WHEN is_closed_won THEN amount ELSE 0.0 END), 0.0)"), "won_amount")
            .column_as(
                Expr::cust("COALESCE(SUM(CASE WHEN is_closed_won THEN 0.0 ELSE amount END), 0.0)"),
                "lost_amount",
            )
            .into_model::<WinRow>()
            .one(&scope.db)
            .await
            .map_err(ApiError::from)
            .gql()?
            .unwrap_or(WinRow { won: 0, lost: 0, won_amount: 0.0, lost_amount: 0.0 });
        Ok(WinRate {
            period_start: from,
            period_end: to,
            won: row.won,
            lost: row.lost,
            rate: ratio(row.won, row.won + row.lost),
            won_amount: row.won_amount,
            lost_amount: row.lost_amount,
        })
    }

    /// New records per period (by HubSpot create date), oldest first, ending with the current period.
    async fn growth(
        &self,
        ctx: &Context<'_>,
        metric: GrowthMetric,
        #[graphql(default_with = "GrowthInterval::Month")] interval: GrowthInterval,
        #[graphql(default = 12)] periods: i32,
    ) -> GqlResult<Vec<GrowthPoint>> {
        if !(1..=MAX_PERIODS).contains(&periods) {
            return Err(ApiError::invalid("periods", format!("must be between 1 and {MAX_PERIODS}"))).gql();
        }
        let scope = scope(ctx);
        let buckets = buckets(interval, periods);
        let counts = match metric {
            GrowthMetric::Contacts => {
                bucket_counts(
                    scope,
                    live::<contact::Entity>(scope, contact::Column::PortalId, contact::Column::ArchivedAt),
                    &buckets,
                )
                .await
            }
            GrowthMetric::Companies => {
                bucket_counts(
                    scope,
                    live::<company::Entity>(scope, company::Column::PortalId, company::Column::ArchivedAt),
                    &buckets,
                )
                .await
            }
            GrowthMetric::Deals => bucket_counts(scope, live_deals(scope), &buckets).await,
            GrowthMetric::Tickets => {
                bucket_counts(
                    scope,
                    live::<ticket::Entity>(scope, ticket::Column::PortalId, ticket::Column::ArchivedAt),
                    &buckets,
                )
                .await
            }
        }
        .gql()?;
        let mut previous: Option<i64> = None;
        Ok(buckets
            .into_iter()
            .zip(counts)
            .map(|((start, end), count)| {
                let change = previous.filter(|p| *p > 0).map(|p| (count - p) as f64 / p as f64);
                previous = Some(count);
                GrowthPoint { period_start: start, period_end: end, count, change }
            })
            .collect())
    }

    /// Open, click and bounce rates per live campaign (best open rate first) and overall.
    async fn campaign_performance(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> GqlResult<CampaignPerformance> {
        if !(0..=crate::MAX_PAGE_SIZE as i32).contains(&first) {
            return Err(ApiError::invalid("first", format!("must be between 0 and {}", crate::MAX_PAGE_SIZE))).gql();
        }
        let scope = scope(ctx);
        let live = || live::<campaign::Entity>(scope, campaign::Column::PortalId, campaign::Column::ArchivedAt);
        let rows = live()
            .select_only()
            .columns([
                campaign::Column::HubspotId,
                campaign::Column::Name,
                campaign::Column::Sent,
                campaign::Column::Delivered,
                campaign::Column::Opened,
                campaign::Column::Clicked,
                campaign::Column::Bounced,
            ])
            .order_by_desc(Expr::cust("CASE WHEN delivered > 0 THEN opened * 1.0 / delivered ELSE 0.0 END"))
            .order_by_asc(campaign::Column::HubspotId)
            .limit(first as u64)
            .into_model::<CampaignRow>()
            .all(&scope.db);
        let total = live()
            .select_only()
            .column_as(Expr::cust("'all'"), "hubspot_id")
            .column_as(Expr::cust("'All campaigns'"), "name")
            .column_as(Expr::cust("CAST(COALESCE(SUM(sent), 0) AS BIGINT)"), "sent")
            .column_as(Expr::cust("CAST(COALESCE(SUM(delivered), 0) AS BIGINT)"), "delivered")
            .column_as(Expr::cust("CAST(COALESCE(SUM(opened), 0) AS BIGINT)"), "opened")
            .column_as(Expr::cust("CAST(COALESCE(SUM(clicked), 0) AS BIGINT)"), "clicked")
            .column_as(Expr::cust("CAST(COALESCE(SUM(bounced), 0) AS BIGINT)"), "bounced")
            .into_model::<CampaignRow>()
            .one(&scope.db);
        let (rows, total) = futures::try_join!(rows, total).map_err(ApiError::from).gql()?;
        let overall = total.map(CampaignRates::from).unwrap_or_else(|| {
            CampaignRates::from(CampaignRow {
                hubspot_id: "all".into(),
                name: "All campaigns".into(),
                sent: 0,
                delivered: 0,
                opened: 0,
                clicked: 0,
                bounced: 0,
            })
        });
        Ok(CampaignPerformance { campaigns: rows.into_iter().map(CampaignRates::from).collect(), overall })
    }
}

/// One statement: `SUM(CASE WHEN created_at in bucket THEN 1 ELSE 0 END)` per bucket.
///
/// Built with expressions, not a custom SQL string: a `?` placeholder is SQLite's only (Postgres numbers them), and
/// each count is read as an integer column rather than through JSON, whose SQLite decoding cannot type an aggregate.
async fn bucket_counts<E: EntityTrait>(
    scope: &Scope,
    select: Select<E>,
    buckets: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Res<Vec<i64>> {
    let mut select = select.select_only();
    for (i, (start, end)) in buckets.iter().enumerate() {
        let created = || Expr::col(Alias::new("created_at"));
        let in_bucket = created().gte(*start).and(created().lt(*end));
        let one = Expr::case(in_bucket, Expr::cust("1")).finally(Expr::cust("0"));
        let count = Func::coalesce([Func::sum(one).into(), Expr::cust("0")]);
        select = select.column_as(Expr::from(count), format!("b{i}"));
    }
    let Some(row) = scope.db.query_one(&select.into_query()).await? else { return Ok(vec![0; buckets.len()]) };
    (0..buckets.len()).map(|i| row.try_get::<i64>("", &format!("b{i}")).map_err(ApiError::from)).collect()
}
