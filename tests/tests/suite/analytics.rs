//! Analytics against figures computed from the generated portal: `crmSummary`, `dealPipeline`, `winRate`,
//! `growth` (buckets ending with the real current period) and `campaignPerformance`, and their bad arguments.

use crate::common;

use crate::common::{approx, assert_bad_argument, flag, float, iso, live, parse_time, text, time};
use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use generator::PortalSpec;
use hubspot::CrmObject;
use serde_json::{Value, json};
use tests::{Mirror, on_both};

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn amount(d: &CrmObject) -> f64 {
    float(d, "amount").unwrap_or(0.0)
}

/// Live deals closed (won, or lost) with a close date in `[from, to)`.
fn closed_in(mirror: &Mirror, from: DateTime<Utc>, to: DateTime<Utc>, won: bool) -> Vec<&CrmObject> {
    live(&mirror.portal.deals)
        .filter(|d| flag(d, "hs_is_closed") == Some(true) && flag(d, "hs_is_closed_won") == Some(won))
        .filter(|d| time(d, "closedate").is_some_and(|c| from <= c && c < to))
        .collect()
}

const SUMMARY: &str = "query($from: DateTime, $to: DateTime) {
    crmSummary(from: $from, to: $to) {
        contacts companies deals tickets openDeals openPipelineValue weightedPipelineValue wonDeals wonValue
        periodStart periodEnd
    }
}";

/// The summary matches the portal for `[from, to)`.
async fn assert_summary(mirror: &Mirror, from: DateTime<Utc>, to: DateTime<Utc>, vars: Value) {
    let s = &mirror.data(SUMMARY, vars).await["crmSummary"];
    let p = &mirror.portal;
    assert_eq!(s["contacts"], json!(live(&p.contacts).count()));
    assert_eq!(s["companies"], json!(live(&p.companies).count()));
    assert_eq!(s["deals"], json!(live(&p.deals).count()));
    assert_eq!(s["tickets"], json!(live(&p.tickets).count()));
    let open: Vec<&CrmObject> = live(&p.deals).filter(|d| flag(d, "hs_is_closed") != Some(true)).collect();
    assert_eq!(s["openDeals"], json!(open.len()));
    approx(&s["openPipelineValue"], open.iter().map(|d| amount(d)).sum(), "openPipelineValue");
    let weighted = open.iter().map(|d| amount(d) * float(d, "hs_deal_stage_probability").unwrap_or(0.0)).sum();
    approx(&s["weightedPipelineValue"], weighted, "weightedPipelineValue");
    let won = closed_in(mirror, from, to, true);
    assert_eq!(s["wonDeals"], json!(won.len()), "won in [{from}, {to})");
    approx(&s["wonValue"], won.iter().map(|d| amount(d)).sum(), "wonValue");
    assert_eq!(parse_time(s["periodStart"].as_str().unwrap()), from);
    assert_eq!(parse_time(s["periodEnd"].as_str().unwrap()), to);
}

on_both!(crm_summary_counts_live_records_and_the_won_period, |backend| async move {
    let mirror = common::mirror(backend).await;
    let periods = [
        (utc(2026, 1, 1), utc(2026, 6, 1)),
        (utc(2025, 6, 15), tests::fixed_now()),
        (utc(2026, 6, 1), utc(2026, 7, 1)),
    ];
    for (from, to) in periods {
        assert!(!closed_in(&mirror, from, to, true).is_empty(), "deals were won in [{from}, {to})");
        assert_summary(&mirror, from, to, json!({ "from": iso(from), "to": iso(to) })).await;
    }
    // A close date exactly at `to` is outside the period, one at `from` inside.
    let edge = closed_in(&mirror, utc(2020, 1, 1), utc(2030, 1, 1), true)[0];
    let close = time(edge, "closedate").unwrap();
    assert_summary(
        &mirror,
        close,
        close + Duration::days(1),
        json!({ "from": iso(close), "to": iso(close + Duration::days(1)) }),
    )
    .await;
    assert_summary(
        &mirror,
        close - Duration::days(1),
        close,
        json!({ "from": iso(close - Duration::days(1)), "to": iso(close) }),
    )
    .await;
});

on_both!(crm_summary_defaults_to_the_current_month, |backend| async move {
    let mirror = common::mirror(backend).await;
    let now = Utc::now();
    let from = utc(now.year(), now.month(), 1);
    let to = from + Months::new(1);
    assert_summary(&mirror, from, to, json!({})).await;
});

const PIPELINE: &str = "query($id: ID!) {
    dealPipeline(pipelineId: $id) {
        pipelineId deals amount weightedAmount
        stages { stageId label displayOrder probability isClosed deals amount weightedAmount }
    }
}";

/// The report of a deal pipeline matches its live deals stage by stage.
fn assert_pipeline_report(mirror: &Mirror, report: &Value, pipeline_id: &str) {
    let pipeline = mirror.portal.pipelines.iter().find(|p| p.id == pipeline_id).unwrap();
    assert_eq!(report["pipelineId"], json!(pipeline_id));
    let stages = report["stages"].as_array().unwrap();
    assert_eq!(stages.len(), pipeline.stages.len());
    let (mut deals, mut total, mut weighted) = (0, 0.0, 0.0);
    for (row, stage) in stages.iter().zip(&pipeline.stages) {
        let what = format!("{pipeline_id}/{}", stage.id);
        let in_stage: Vec<&CrmObject> = live(&mirror.portal.deals)
            .filter(|d| {
                text(d, "pipeline").as_deref() == Some(pipeline_id) && text(d, "dealstage") == Some(stage.id.clone())
            })
            .collect();
        let probability: f64 = stage.probability().unwrap().parse().unwrap();
        let sum: f64 = in_stage.iter().map(|d| amount(d)).sum();
        assert_eq!(row["stageId"], json!(stage.id), "{what}");
        assert_eq!(row["label"], json!(stage.label), "{what}");
        assert_eq!(row["displayOrder"], json!(stage.display_order), "{what}");
        assert_eq!(row["isClosed"], json!(stage.is_closed()), "{what}");
        approx(&row["probability"], probability, &what);
        assert_eq!(row["deals"], json!(in_stage.len()), "{what} deals");
        approx(&row["amount"], sum, &format!("{what} amount"));
        approx(&row["weightedAmount"], sum * probability, &format!("{what} weighted"));
        deals += in_stage.len();
        total += sum;
        weighted += sum * probability;
    }
    assert!(deals > 0, "{pipeline_id} has deals");
    assert_eq!(report["deals"], json!(deals));
    approx(&report["amount"], total, "amount");
    approx(&report["weightedAmount"], weighted, "weightedAmount");
}

on_both!(deal_pipeline_reports_each_stage, |backend| async move {
    let mirror = common::mirror(backend).await;
    for pipeline in ["default", "renewals"] {
        let data = mirror.data(PIPELINE, json!({ "id": pipeline })).await;
        assert_pipeline_report(&mirror, &data["dealPipeline"], pipeline);
    }
    let default = mirror.data("{ dealPipeline { pipelineId deals amount } }", json!({})).await;
    assert_eq!(default["dealPipeline"]["pipelineId"], "default", "pipelineId defaults to `default`");
    let explicit =
        mirror.data("{ dealPipeline(pipelineId: \"default\") { pipelineId deals amount } }", json!({})).await;
    assert_eq!(default, explicit);
    let unknown = mirror.data(PIPELINE, json!({ "id": "no-such-pipeline" })).await;
    assert_eq!(unknown["dealPipeline"], Value::Null);
});

const WIN_RATE: &str = "query($from: DateTime, $to: DateTime) {
    winRate(from: $from, to: $to) { periodStart periodEnd won lost rate wonAmount lostAmount }
}";

on_both!(win_rate_compares_won_and_lost_in_the_period, |backend| async move {
    let mirror = common::mirror(backend).await;
    let periods = [
        (utc(2025, 1, 1), utc(2026, 1, 1)),
        (utc(2026, 3, 1), utc(2026, 4, 1)),
        (utc(2024, 1, 1), tests::fixed_now()),
        (utc(2020, 1, 1), utc(2021, 1, 1)),
    ];
    for (from, to) in periods {
        let r = &mirror.data(WIN_RATE, json!({ "from": iso(from), "to": iso(to) })).await["winRate"];
        let (won, lost) = (closed_in(&mirror, from, to, true), closed_in(&mirror, from, to, false));
        let what = format!("[{from}, {to})");
        assert_eq!(r["won"], json!(won.len()), "{what}");
        assert_eq!(r["lost"], json!(lost.len()), "{what}");
        let rate =
            if won.is_empty() && lost.is_empty() { 0.0 } else { won.len() as f64 / (won.len() + lost.len()) as f64 };
        approx(&r["rate"], rate, &what);
        approx(&r["wonAmount"], won.iter().map(|d| amount(d)).sum(), &what);
        approx(&r["lostAmount"], lost.iter().map(|d| amount(d)).sum(), &what);
        assert_eq!(parse_time(r["periodStart"].as_str().unwrap()), from);
        assert_eq!(parse_time(r["periodEnd"].as_str().unwrap()), to);
    }
    let (from, to) = periods[0];
    assert!(!closed_in(&mirror, from, to, true).is_empty() && !closed_in(&mirror, from, to, false).is_empty());
});

/// `periods` buckets of `interval` ending with the one holding `now`, oldest first.
fn buckets(interval: &str, periods: u32, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let today = utc(now.year(), now.month(), now.day());
    (0..periods)
        .rev()
        .map(|back| match interval {
            "DAY" => (today - Duration::days(back.into()), today - Duration::days(back as i64 - 1)),
            "WEEK" => {
                let monday = today - Duration::days(now.weekday().num_days_from_monday().into());
                (monday - Duration::weeks(back.into()), monday - Duration::weeks(back as i64 - 1))
            }
            _ => {
                let month = utc(now.year(), now.month(), 1) - Months::new(back);
                (month, month + Months::new(1))
            }
        })
        .collect()
}

const GROWTH: &str = "query($metric: GrowthMetric!, $interval: GrowthInterval!, $periods: Int!) {
    growth(metric: $metric, interval: $interval, periods: $periods) { periodStart periodEnd count change }
}";

/// Asks for growth until the day does not change during the request (so the expected buckets are those the
/// gateway used), and returns the points and the buckets.
async fn growth(
    mirror: &Mirror,
    vars: Value,
    interval: &str,
    periods: u32,
) -> (Vec<Value>, Vec<(DateTime<Utc>, DateTime<Utc>)>) {
    loop {
        let before = buckets(interval, periods, Utc::now());
        let data = mirror.data(GROWTH, vars.clone()).await;
        if buckets(interval, periods, Utc::now()) == before {
            return (data["growth"].as_array().unwrap().clone(), before);
        }
    }
}

on_both!(growth_counts_new_records_per_period_up_to_now, |backend| async move {
    // A portal whose history ends today, so recent days and weeks have records.
    let spec = PortalSpec::sized(4343, 11, 300, 60, 150, Utc::now());
    let mirror = common::mirror_of(backend, &spec).await;
    let p = &mirror.portal;
    for (metric, objects) in
        [("CONTACTS", &p.contacts), ("DEALS", &p.deals), ("COMPANIES", &p.companies), ("TICKETS", &p.tickets)]
    {
        for (interval, periods) in [("MONTH", 12), ("WEEK", 10), ("DAY", 30)] {
            let vars = json!({ "metric": metric, "interval": interval, "periods": periods });
            let (points, buckets) = growth(&mirror, vars, interval, periods).await;
            assert_eq!(points.len(), buckets.len(), "{metric} by {interval}");
            let mut previous: Option<usize> = None;
            for (point, (start, end)) in points.iter().zip(&buckets) {
                let what = format!("{metric} {interval} from {start}");
                assert_eq!(parse_time(point["periodStart"].as_str().unwrap()), *start, "{what}");
                assert_eq!(parse_time(point["periodEnd"].as_str().unwrap()), *end, "{what}");
                let count = live(objects).filter(|o| *start <= o.created_at && o.created_at < *end).count();
                assert_eq!(point["count"], json!(count), "{what}");
                match previous.filter(|p| *p > 0) {
                    Some(p) => approx(&point["change"], (count as f64 - p as f64) / p as f64, &what),
                    None => assert!(point["change"].is_null(), "{what}: no change after an empty or no period"),
                }
                previous = Some(count);
            }
            let total: i64 = points.iter().map(|pt| pt["count"].as_i64().unwrap()).sum();
            assert!(total > 0, "{metric} by {interval} counts records");
        }
    }
    // Defaults: twelve months.
    let data = mirror.data("{ growth(metric: CONTACTS) { periodStart count } }", json!({})).await;
    let points = data["growth"].as_array().unwrap();
    assert_eq!(points.len(), 12);
    let last = buckets("MONTH", 1, Utc::now())[0].0;
    assert_eq!(parse_time(points[11]["periodStart"].as_str().unwrap()), last);
});

const PERFORMANCE: &str = "query($first: Int!) {
    campaignPerformance(first: $first) {
        campaigns { campaignId name sent delivered opened clicked bounced openRate clickRate bounceRate }
        overall { campaignId name sent delivered opened clicked bounced openRate clickRate bounceRate }
    }
}";

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// A row of `campaignPerformance` holds these totals and the rates they give.
fn assert_rates(row: &Value, [sent, delivered, opened, clicked, bounced]: [i64; 5], what: &str) {
    for (key, n) in
        [("sent", sent), ("delivered", delivered), ("opened", opened), ("clicked", clicked), ("bounced", bounced)]
    {
        assert_eq!(row[key], json!(n), "{what} {key}");
    }
    approx(&row["openRate"], rate(opened, delivered), what);
    approx(&row["clickRate"], rate(clicked, delivered), what);
    approx(&row["bounceRate"], rate(bounced, sent), what);
}

on_both!(campaign_performance_ranks_by_open_rate, |backend| async move {
    let mirror = common::mirror(backend).await;
    let mut campaigns = mirror.portal.campaigns.clone();
    let open = |c: &hubspot::Campaign| rate(c.stats.opened, c.stats.delivered);
    campaigns.sort_by(|a, b| open(b).total_cmp(&open(a)).then_with(|| a.id.cmp(&b.id)));
    assert!(campaigns.iter().filter(|c| c.stats.delivered == 0).count() > 1, "several campaigns tie at no opens");
    let stats = |c: &hubspot::Campaign| {
        let s = &c.stats;
        [s.sent, s.delivered, s.opened, s.clicked, s.bounced]
    };
    for first in [20, 3, 0] {
        let data = mirror.data(PERFORMANCE, json!({ "first": first })).await;
        let rows = data["campaignPerformance"]["campaigns"].as_array().unwrap();
        let expected: Vec<&hubspot::Campaign> = campaigns.iter().take(first).collect();
        assert_eq!(rows.len(), expected.len(), "first: {first}");
        for (row, c) in rows.iter().zip(&expected) {
            assert_eq!(row["campaignId"], json!(c.id), "rank of {} (first: {first})", c.name);
            assert_eq!(row["name"], json!(c.name));
            assert_rates(row, stats(c), &c.name);
        }
        let overall = &data["campaignPerformance"]["overall"];
        let sum = |i: usize| campaigns.iter().map(|c| stats(c)[i]).sum::<i64>();
        assert_rates(overall, [sum(0), sum(1), sum(2), sum(3), sum(4)], "overall");
        assert_eq!(overall["campaignId"], "all");
    }
    let default = mirror.data("{ campaignPerformance { campaigns { campaignId } } }", json!({})).await;
    assert_eq!(default["campaignPerformance"]["campaigns"].as_array().unwrap().len(), campaigns.len().min(20));
    assert_bad_argument(&mirror.error(PERFORMANCE, json!({ "first": 101 })).await, "first");
    assert_bad_argument(&mirror.error(PERFORMANCE, json!({ "first": -1 })).await, "first");
});

on_both!(bad_analytics_arguments_name_the_argument, |backend| async move {
    let mirror = common::mirror(backend).await;
    for periods in [0, -1, 121] {
        let vars = json!({ "metric": "DEALS", "interval": "WEEK", "periods": periods });
        assert_bad_argument(&mirror.error(GROWTH, vars).await, "periods");
    }
    let (from, to) = (iso(utc(2026, 3, 1)), iso(utc(2026, 2, 1)));
    for query in [SUMMARY, WIN_RATE] {
        assert_bad_argument(&mirror.error(query, json!({ "from": from, "to": to })).await, "to");
        assert_bad_argument(&mirror.error(query, json!({ "from": from, "to": from })).await, "to");
    }
});
