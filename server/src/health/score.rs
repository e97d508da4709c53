//! The scoring itself: a pure function from a client's inputs (gathered from the mirror by `inputs`) to four
//! dimension scores, an overall score and a churn risk, each point explained by the input that earned it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// Days of history the recent figures cover (email opens and clicks, deal amounts).
pub const RECENT_DAYS: i64 = 90;
/// No activity for this many days is a risk signal.
pub const INACTIVE_DAYS: i64 = 30;

/// What the mirror says about one client (a company, or a contact without one).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    pub lifecycle_stage: Option<String>,
    /// The latest note, contact, email open or click.
    pub last_activity: Option<DateTime<Utc>>,
    pub open_deals: i64,
    /// Amount of closed-won deals, all time.
    pub won_revenue: f64,
    /// Amount of deals created in the last [`RECENT_DAYS`], and in the same span before that.
    pub recent_amount: f64,
    pub previous_amount: f64,
    pub contacts: i64,
    /// Contacts who opened (clicked; did either) a marketing email in the last [`RECENT_DAYS`].
    pub opened: i64,
    pub clicked: i64,
    pub engaged: i64,
    pub notes: i64,
    pub open_tickets: i64,
    /// Open tickets of HIGH or URGENT priority.
    pub urgent_tickets: i64,
    /// Mean days from creation to close of closed tickets; `None` when none closed.
    pub days_to_close: Option<f64>,
    /// When each dimension's records last changed: CRM, payment, engagement, support.
    pub changed: [Option<DateTime<Utc>>; 4],
}

impl Inputs {
    /// Notes, opens and clicks: the interactions the insight rules count.
    pub fn interactions(&self) -> i64 {
        self.notes + self.opened + self.clicked
    }

    /// Contacts who engaged with email, as a share of the client's contacts (0 without contacts).
    pub fn response_ratio(&self) -> f64 {
        if self.contacts == 0 { 0.0 } else { self.engaged as f64 / self.contacts as f64 }
    }

    pub fn days_inactive(&self, now: DateTime<Utc>) -> Option<i64> {
        self.last_activity.map(|at| (now - at).num_days().max(0))
    }
}

/// The portal's own email performance: what a client's open and click rates are measured against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Baseline {
    pub open_rate: f64,
    pub click_rate: f64,
}

impl Default for Baseline {
    /// Typical B2B email rates, for a portal without campaign statistics.
    fn default() -> Self {
        Self { open_rate: 0.2, click_rate: 0.03 }
    }
}

/// How much each dimension counts in the overall score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    pub crm: f64,
    pub payment: f64,
    pub engagement: f64,
    pub support: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self { crm: 0.3, payment: 0.25, engagement: 0.25, support: 0.2 }
    }
}

/// The `name=number` pairs of a comma-separated setting such as `HEALTH_WEIGHTS`.
pub fn assignments(text: &str) -> Result<Vec<(&str, f64)>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').ok_or_else(|| format!("`{part}` is not name=number"))?;
        let number: f64 = value.trim().parse().map_err(|_| format!("`{}` is not a number", value.trim()))?;
        out.push((name.trim(), number));
    }
    Ok(out)
}

impl std::str::FromStr for Weights {
    type Err = String;

    /// `crm=0.3,payment=0.25,engagement=0.25,support=0.2`; a dimension left out keeps its default.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut weights = Self::default();
        for (name, value) in assignments(text)? {
            if !(0.0..=100.0).contains(&value) {
                return Err(format!("the weight of {name} must be between 0 and 100"));
            }
            match name {
                "crm" => weights.crm = value,
                "payment" => weights.payment = value,
                "engagement" => weights.engagement = value,
                "support" => weights.support = value,
                other => return Err(format!("unknown dimension `{other}` (crm, payment, engagement, support)")),
            }
        }
        if weights.crm + weights.payment + weights.engagement + weights.support <= 0.0 {
            return Err("at least one weight must be above 0".into());
        }
        Ok(weights)
    }
}

/// One input's part in a dimension: its value and the points it earned (or, for support, cost).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Factor {
    pub dimension: &'static str,
    pub input: &'static str,
    pub value: Value,
    pub contribution: f64,
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub overall: i32,
    pub crm: i32,
    pub payment: i32,
    pub engagement: i32,
    pub support: i32,
    pub churn_risk: i32,
    pub factors: Vec<Factor>,
    /// The risk signals that raised the churn risk.
    pub signals: Vec<&'static str>,
}

/// `x` placed between `low` (0) and `high` (1), clamped.
fn ramp(x: f64, low: f64, high: f64) -> f64 {
    ((x - low) / (high - low)).clamp(0.0, 1.0)
}

fn lifecycle_points(stage: Option<&str>) -> f64 {
    match stage {
        Some("customer" | "evangelist") => 100.0,
        Some("opportunity") => 80.0,
        Some("salesqualifiedlead") => 60.0,
        Some("marketingqualifiedlead") => 45.0,
        Some("lead") => 30.0,
        Some("subscriber") => 20.0,
        _ => 10.0,
    }
}

/// A rate against the portal's: the portal's own rate earns 50 points, twice it or more 100.
fn rate_points(rate: f64, baseline: f64) -> f64 {
    if baseline <= 0.0 { (rate * 100.0).min(100.0) } else { 100.0 * (rate / (2.0 * baseline)).min(1.0) }
}

/// Collects factors; a dimension's score is the sum of its contributions.
struct Explain {
    factors: Vec<Factor>,
}

impl Explain {
    fn add(
        &mut self,
        dimension: &'static str,
        input: &'static str,
        value: Value,
        contribution: f64,
        at: Option<DateTime<Utc>>,
    ) {
        self.factors.push(Factor { dimension, input, value, contribution: round2(contribution), changed_at: at });
    }

    fn total(&self, dimension: &str, start: f64) -> i32 {
        let sum: f64 = self.factors.iter().filter(|f| f.dimension == dimension).map(|f| f.contribution).sum();
        (start + sum).round().clamp(0.0, 100.0) as i32
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn score(inputs: &Inputs, baseline: Baseline, weights: Weights, now: DateTime<Utc>) -> Score {
    let mut explain = Explain { factors: Vec::new() };
    let [crm_at, payment_at, engagement_at, support_at] = inputs.changed;

    let stage = inputs.lifecycle_stage.as_deref();
    explain.add("crm", "lifecycleStage", json!(stage), 0.4 * lifecycle_points(stage), crm_at);
    let inactive = inputs.days_inactive(now);
    let recency = inactive.map_or(0.0, |days| 100.0 * (1.0 - ramp(days as f64, 7.0, 90.0)));
    explain.add("crm", "daysSinceLastActivity", json!(inactive), 0.4 * recency, inputs.last_activity);
    let deals = match inputs.open_deals {
        0 => 0.0,
        1 => 70.0,
        _ => 100.0,
    };
    explain.add("crm", "openDeals", json!(inputs.open_deals), 0.2 * deals, crm_at);

    // 100 won → 0 points, 1,000 → 33, 10,000 → 67, 100,000 or more → 100.
    let revenue = 100.0 * ramp((inputs.won_revenue.max(1.0) / 100.0).log10(), 0.0, 3.0);
    explain.add("payment", "closedWonRevenue", json!(inputs.won_revenue), 0.6 * revenue, payment_at);
    let trend = match (inputs.recent_amount, inputs.previous_amount) {
        (r, p) if r <= 0.0 && p <= 0.0 => 50.0,
        (_, p) if p <= 0.0 => 100.0,
        (r, p) => (50.0 * r / p).min(100.0),
    };
    let trend_value = json!({ "recent": inputs.recent_amount, "previous": inputs.previous_amount });
    explain.add("payment", "dealAmountTrend", trend_value, 0.4 * trend, payment_at);

    let contacts = inputs.contacts.max(1) as f64;
    let open_rate = inputs.opened as f64 / contacts;
    let click_rate = inputs.clicked as f64 / contacts;
    let rates = |rate: f64, portal: f64| json!({ "rate": round2(rate), "portal": round2(portal) });
    explain.add(
        "engagement",
        "emailOpenRate",
        rates(open_rate, baseline.open_rate),
        0.35 * rate_points(open_rate, baseline.open_rate),
        engagement_at,
    );
    explain.add(
        "engagement",
        "emailClickRate",
        rates(click_rate, baseline.click_rate),
        0.25 * rate_points(click_rate, baseline.click_rate),
        engagement_at,
    );
    explain.add(
        "engagement",
        "notes",
        json!(inputs.notes),
        0.2 * 100.0 * ramp(inputs.notes as f64, 0.0, 10.0),
        engagement_at,
    );
    let ratio = inputs.response_ratio();
    explain.add("engagement", "responseRatio", json!(round2(ratio)), 0.2 * 100.0 * ratio, engagement_at);

    // Support starts at 100; open tickets, urgent ones and slow closes cost points.
    explain.add(
        "support",
        "openTickets",
        json!(inputs.open_tickets),
        -(12.0 * inputs.open_tickets as f64).min(48.0),
        support_at,
    );
    explain.add(
        "support",
        "urgentOpenTickets",
        json!(inputs.urgent_tickets),
        -(15.0 * inputs.urgent_tickets as f64).min(30.0),
        support_at,
    );
    let slow = inputs.days_to_close.map_or(0.0, |days| 22.0 * ramp(days, 2.0, 14.0));
    explain.add("support", "meanDaysToClose", json!(inputs.days_to_close.map(round2)), -slow, support_at);

    let (crm, payment) = (explain.total("crm", 0.0), explain.total("payment", 0.0));
    let (engagement, support) = (explain.total("engagement", 0.0), explain.total("support", 100.0));
    let total = weights.crm + weights.payment + weights.engagement + weights.support;
    let weighted = weights.crm * crm as f64
        + weights.payment * payment as f64
        + weights.engagement * engagement as f64
        + weights.support * support as f64;
    let overall = (weighted / total).round().clamp(0.0, 100.0) as i32;

    let signals = signals(inputs, now);
    let churn_risk = (0.8 * (100 - overall) as f64 + 6.0 * signals.len() as f64).round().clamp(0.0, 100.0) as i32;
    Score { overall, crm, payment, engagement, support, churn_risk, factors: explain.factors, signals }
}

/// The risk signals the inputs show.
pub fn signals(inputs: &Inputs, now: DateTime<Utc>) -> Vec<&'static str> {
    let mut signals = Vec::new();
    if inputs.days_inactive(now).is_none_or(|days| days >= INACTIVE_DAYS) {
        signals.push("inactive");
    }
    if inputs.open_deals == 0 && inputs.recent_amount <= 0.0 {
        signals.push("noPipeline");
    }
    if inputs.previous_amount > 0.0 && inputs.recent_amount < 0.5 * inputs.previous_amount {
        signals.push("decliningRevenue");
    }
    if inputs.urgent_tickets > 0 {
        signals.push("urgentTickets");
    }
    if inputs.contacts > 0 && inputs.response_ratio() < 0.3 {
        signals.push("lowResponse");
    }
    signals
}

/// A score's explanation as stored beside it.
pub fn explanation(score: &Score, weights: Weights, baseline: Baseline) -> Value {
    json!({
        "factors": score.factors,
        "signals": score.signals,
        "weights": { "crm": weights.crm, "payment": weights.payment, "engagement": weights.engagement, "support": weights.support },
        "baseline": { "openRate": baseline.open_rate, "clickRate": baseline.click_rate },
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    fn thriving() -> Inputs {
        Inputs {
            lifecycle_stage: Some("customer".into()),
            last_activity: Some(now() - Duration::days(2)),
            open_deals: 2,
            won_revenue: 250_000.0,
            recent_amount: 40_000.0,
            previous_amount: 20_000.0,
            contacts: 10,
            opened: 8,
            clicked: 4,
            engaged: 10,
            notes: 15,
            ..Inputs::default()
        }
    }

    #[test]
    fn a_thriving_client_scores_full_marks_and_no_risk_signal() {
        let s = score(&thriving(), Baseline { open_rate: 0.3, click_rate: 0.05 }, Weights::default(), now());
        assert_eq!((s.crm, s.payment, s.engagement, s.support, s.overall), (100, 100, 100, 100, 100));
        assert!(s.signals.is_empty(), "{:?}", s.signals);
        assert_eq!(s.churn_risk, 0);
    }

    #[test]
    fn a_client_with_nothing_scores_low_and_carries_every_absence_signal() {
        let s = score(&Inputs::default(), Baseline::default(), Weights::default(), now());
        // Only the unknown lifecycle stage (10 × 0.4) and a neutral trend (50 × 0.4) earn points; no tickets is a
        // clean support record.
        assert_eq!((s.crm, s.payment, s.engagement, s.support), (4, 20, 0, 100));
        assert_eq!(s.overall, 26);
        assert_eq!(s.signals, ["inactive", "noPipeline"]);
        assert_eq!(s.churn_risk, 71);
    }

    #[test]
    fn every_point_is_explained_by_a_factor() {
        let inputs = Inputs { open_tickets: 2, urgent_tickets: 1, days_to_close: Some(8.0), ..thriving() };
        let s = score(&inputs, Baseline::default(), Weights::default(), now());
        for (dimension, start, value) in [
            ("crm", 0.0, s.crm),
            ("payment", 0.0, s.payment),
            ("engagement", 0.0, s.engagement),
            ("support", 100.0, s.support),
        ] {
            let sum: f64 = s.factors.iter().filter(|f| f.dimension == dimension).map(|f| f.contribution).sum();
            assert_eq!((start + sum).round() as i32, value, "{dimension}");
        }
        // Two open tickets (−24), one urgent (−15), eight days to close (−11).
        assert_eq!(s.support, 50);
        assert_eq!(s.signals, ["urgentTickets"]);
    }

    #[test]
    fn recency_decays_from_a_week_to_ninety_days() {
        let at = |days| {
            let inputs = Inputs { last_activity: Some(now() - Duration::days(days)), ..Inputs::default() };
            score(&inputs, Baseline::default(), Weights::default(), now()).crm
        };
        assert!(at(3) > at(30) && at(30) > at(60) && at(60) > at(120), "{} {} {} {}", at(3), at(30), at(60), at(120));
        assert_eq!(at(90), at(400), "past ninety days recency earns nothing");
    }

    #[test]
    fn a_falling_deal_trend_costs_payment_and_is_a_signal() {
        let falling = Inputs { recent_amount: 5_000.0, previous_amount: 20_000.0, ..thriving() };
        let s = score(&falling, Baseline::default(), Weights::default(), now());
        assert!(s.payment < 100);
        assert!(s.signals.contains(&"decliningRevenue"));
    }

    #[test]
    fn weights_change_the_overall_score_only() {
        let inputs = Inputs { open_tickets: 4, ..thriving() };
        let support_only: Weights = "crm=0,payment=0,engagement=0,support=1".parse().unwrap();
        let s = score(&inputs, Baseline::default(), support_only, now());
        assert_eq!(s.overall, s.support);
        assert_eq!(s.support, 52);
        assert!("crm=x".parse::<Weights>().is_err());
        assert!("speed=1".parse::<Weights>().is_err());
        assert!("crm=0,payment=0,engagement=0,support=0".parse::<Weights>().is_err());
    }
}
