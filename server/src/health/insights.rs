//! The insight rules: pure functions from a client's scoring inputs and score to findings, each with its impact,
//! confidence, evidence and recommended actions. `lifecycle` keeps them raised while they hold and resolves them
//! when they clear.

use chrono::{DateTime, Utc};
use schema::insights::{InsightImpact, InsightType};
use serde_json::{Value, json};

use super::score::{Inputs, Score};

/// The rules' thresholds, configurable by `INSIGHT_THRESHOLDS`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Days without activity that make a client inactive.
    pub inactive_days: i64,
    /// Closed-won revenue above which a client counts as high-value.
    pub high_value_revenue: f64,
    /// Fewer interactions than this is low engagement for a high-value client.
    pub low_engagement_interactions: i64,
    /// A response ratio under this is declining engagement…
    pub declining_ratio: f64,
    /// …once there were more interactions than this.
    pub declining_interactions: i64,
    /// Risk signals together that make a churn risk.
    pub churn_signals: usize,
    /// The overall score from which a client is healthy enough to sell more to…
    pub upsell_score: i32,
    /// …and the response ratio from which it is engaged enough.
    pub upsell_ratio: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            inactive_days: 30,
            high_value_revenue: 10_000.0,
            low_engagement_interactions: 5,
            declining_ratio: 0.3,
            declining_interactions: 3,
            churn_signals: 3,
            upsell_score: 75,
            upsell_ratio: 0.5,
        }
    }
}

impl std::str::FromStr for Thresholds {
    type Err = String;

    /// `inactive_days=45,high_value_revenue=25000`; a threshold left out keeps its default.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut t = Self::default();
        for (name, value) in super::score::assignments(text)? {
            if value < 0.0 {
                return Err(format!("{name} must not be negative"));
            }
            match name {
                "inactive_days" => t.inactive_days = value as i64,
                "high_value_revenue" => t.high_value_revenue = value,
                "low_engagement_interactions" => t.low_engagement_interactions = value as i64,
                "declining_ratio" => t.declining_ratio = value,
                "declining_interactions" => t.declining_interactions = value as i64,
                "churn_signals" => t.churn_signals = (value as usize).max(1),
                "upsell_score" => t.upsell_score = value as i32,
                "upsell_ratio" => t.upsell_ratio = value,
                other => {
                    return Err(format!(
                        "unknown threshold `{other}` (inactive_days, high_value_revenue, low_engagement_interactions, \
                         declining_ratio, declining_interactions, churn_signals, upsell_score, upsell_ratio)"
                    ));
                }
            }
        }
        if t.declining_ratio > 1.0 || t.upsell_ratio > 1.0 {
            return Err("declining_ratio and upsell_ratio are shares between 0 and 1".into());
        }
        Ok(t)
    }
}

/// A rule that holds for a client.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub kind: InsightType,
    pub impact: InsightImpact,
    pub confidence: i32,
    pub actions: Vec<&'static str>,
    pub evidence: Value,
}

/// How much of what the rules read the mirror holds for the client: activity, contacts, deals, a lifecycle stage.
fn completeness(inputs: &Inputs) -> f64 {
    let known = [
        inputs.last_activity.is_some(),
        inputs.contacts > 0,
        inputs.open_deals > 0 || inputs.won_revenue > 0.0 || inputs.recent_amount > 0.0 || inputs.previous_amount > 0.0,
        inputs.lifecycle_stage.is_some(),
    ];
    known.iter().filter(|k| **k).count() as f64 / known.len() as f64
}

/// 50 for a rule alone on complete data, 15 more for each other signal that agrees (up to three), scaled down to
/// 60% as the data thins out.
fn confidence(agreeing: usize, inputs: &Inputs) -> i32 {
    let base = 50.0 + 15.0 * agreeing.min(3) as f64;
    (base * (0.6 + 0.4 * completeness(inputs))).round().clamp(0.0, 100.0) as i32
}

/// The impact a client's value warrants: low under the high-value threshold, medium above it, high from ten times it.
fn value_impact(inputs: &Inputs, t: &Thresholds) -> InsightImpact {
    if inputs.won_revenue >= 10.0 * t.high_value_revenue {
        InsightImpact::High
    } else if inputs.won_revenue > t.high_value_revenue {
        InsightImpact::Medium
    } else {
        InsightImpact::Low
    }
}

fn agreeing(score: &Score, among: &[&str]) -> usize {
    score.signals.iter().filter(|s| among.contains(s)).count()
}

/// Every rule that holds for a client, in the order of [`InsightType::ALL`].
pub fn evaluate(inputs: &Inputs, score: &Score, t: &Thresholds, now: DateTime<Utc>) -> Vec<Finding> {
    let mut found = Vec::new();
    let interactions = inputs.interactions();
    let ratio = inputs.response_ratio();
    let days = inputs.days_inactive(now);

    if days.is_none_or(|d| d >= t.inactive_days) {
        // Never active, or three times the threshold, is one level worse than the client's value alone.
        let long = days.is_none_or(|d| d >= 3 * t.inactive_days);
        let impact = value_impact(inputs, t);
        found.push(Finding {
            kind: InsightType::InactiveClient,
            impact: if long { impact.raised() } else { impact },
            confidence: confidence(agreeing(score, &["noPipeline", "lowResponse", "decliningRevenue"]), inputs),
            actions: vec![
                "Reach out to the main contact personally",
                "Schedule a check-in call",
                "Review the client's open deals and tickets",
            ],
            evidence: json!({
                "daysInactive": days,
                "lastActivity": inputs.last_activity,
                "thresholdDays": t.inactive_days,
                "wonRevenue": inputs.won_revenue,
            }),
        });
    }

    if inputs.won_revenue > t.high_value_revenue && interactions < t.low_engagement_interactions {
        let impact = if inputs.won_revenue >= 100.0 * t.high_value_revenue {
            InsightImpact::Critical
        } else if inputs.won_revenue >= 10.0 * t.high_value_revenue {
            InsightImpact::High
        } else {
            InsightImpact::Medium
        };
        found.push(Finding {
            kind: InsightType::HighValueLowEngagement,
            impact,
            confidence: confidence(agreeing(score, &["inactive", "lowResponse"]), inputs),
            actions: vec![
                "Assign an account manager to re-engage the client",
                "Invite the key contacts to a business review",
                "Send content targeted at their use of the product",
            ],
            evidence: json!({
                "wonRevenue": inputs.won_revenue,
                "interactions": interactions,
                "notes": inputs.notes,
                "emailOpens": inputs.opened,
                "emailClicks": inputs.clicked,
                "revenueThreshold": t.high_value_revenue,
                "interactionThreshold": t.low_engagement_interactions,
            }),
        });
    }

    if inputs.contacts > 0 && ratio < t.declining_ratio && interactions > t.declining_interactions {
        let impact = if ratio < t.declining_ratio / 2.0 { InsightImpact::High } else { InsightImpact::Medium };
        found.push(Finding {
            kind: InsightType::DecliningEngagement,
            impact,
            confidence: confidence(agreeing(score, &["inactive", "decliningRevenue"]), inputs),
            actions: vec![
                "Review which campaigns their contacts stopped opening",
                "Refresh the email content or cadence",
                "Ask the unresponsive contacts for feedback",
            ],
            evidence: json!({
                "responseRatio": (ratio * 100.0).round() / 100.0,
                "engagedContacts": inputs.engaged,
                "contacts": inputs.contacts,
                "interactions": interactions,
                "ratioThreshold": t.declining_ratio,
            }),
        });
    }

    if score.signals.len() >= t.churn_signals {
        let impact = match score.churn_risk {
            80.. => InsightImpact::Critical,
            60..=79 => InsightImpact::High,
            _ => InsightImpact::Medium,
        };
        found.push(Finding {
            kind: InsightType::ChurnRisk,
            impact,
            confidence: confidence(score.signals.len() + 1 - t.churn_signals, inputs),
            actions: vec![
                "Escalate to the account owner",
                "Offer the client a retention call",
                "Resolve their urgent tickets first",
            ],
            evidence: json!({
                "signals": score.signals,
                "churnRisk": score.churn_risk,
                "overall": score.overall,
                "signalThreshold": t.churn_signals,
            }),
        });
    }

    if score.overall >= t.upsell_score && ratio >= t.upsell_ratio && inputs.open_deals == 0 {
        let corroborating = [score.signals.is_empty(), inputs.won_revenue > 0.0, inputs.clicked > 0];
        found.push(Finding {
            kind: InsightType::UpsellOpportunity,
            impact: if inputs.won_revenue > t.high_value_revenue { InsightImpact::High } else { InsightImpact::Medium },
            confidence: confidence(corroborating.iter().filter(|c| **c).count(), inputs),
            actions: vec![
                "Propose an upgrade or an add-on",
                "Open an expansion deal",
                "Ask for a referral or a case study",
            ],
            evidence: json!({
                "overall": score.overall,
                "responseRatio": (ratio * 100.0).round() / 100.0,
                "openDeals": inputs.open_deals,
                "wonRevenue": inputs.won_revenue,
                "scoreThreshold": t.upsell_score,
                "ratioThreshold": t.upsell_ratio,
            }),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::health::score::{Baseline, Weights, score};

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    fn kinds(inputs: &Inputs) -> Vec<InsightType> {
        let s = score(inputs, Baseline::default(), Weights::default(), now());
        evaluate(inputs, &s, &Thresholds::default(), now()).into_iter().map(|f| f.kind).collect()
    }

    fn find(inputs: &Inputs, kind: InsightType) -> Option<Finding> {
        let s = score(inputs, Baseline::default(), Weights::default(), now());
        evaluate(inputs, &s, &Thresholds::default(), now()).into_iter().find(|f| f.kind == kind)
    }

    /// Active, engaged, with a deal in the pipeline: nothing to say.
    fn steady() -> Inputs {
        Inputs {
            lifecycle_stage: Some("customer".into()),
            last_activity: Some(now() - Duration::days(3)),
            open_deals: 1,
            won_revenue: 5_000.0,
            recent_amount: 2_000.0,
            previous_amount: 2_000.0,
            contacts: 4,
            opened: 3,
            clicked: 1,
            engaged: 3,
            notes: 2,
            ..Inputs::default()
        }
    }

    #[test]
    fn a_steady_client_raises_nothing() {
        assert_eq!(kinds(&steady()), []);
    }

    #[test]
    fn inactivity_from_thirty_days_and_none_ever_is_worse() {
        let at = |days| Inputs { last_activity: Some(now() - Duration::days(days)), ..steady() };
        assert!(find(&at(29), InsightType::InactiveClient).is_none());
        let month = find(&at(30), InsightType::InactiveClient).unwrap();
        assert_eq!(month.impact, InsightImpact::Low);
        assert_eq!(month.evidence["daysInactive"], 30);
        let never = find(&Inputs { last_activity: None, ..steady() }, InsightType::InactiveClient).unwrap();
        assert_eq!(never.impact, InsightImpact::Medium, "never active is one level worse");
        // The missing activity also makes the data less complete.
        assert!(never.confidence < month.confidence, "{} {}", never.confidence, month.confidence);
    }

    #[test]
    fn high_value_low_engagement_needs_both() {
        let rich_quiet = Inputs { won_revenue: 150_000.0, notes: 1, opened: 1, clicked: 0, ..steady() };
        let found = find(&rich_quiet, InsightType::HighValueLowEngagement).unwrap();
        assert_eq!(found.impact, InsightImpact::High);
        assert_eq!(found.evidence["interactions"], 2);
        assert!(
            find(&Inputs { won_revenue: 9_000.0, ..rich_quiet.clone() }, InsightType::HighValueLowEngagement).is_none()
        );
        assert!(find(&Inputs { notes: 5, ..rich_quiet }, InsightType::HighValueLowEngagement).is_none());
    }

    #[test]
    fn declining_engagement_is_few_responders_despite_interactions() {
        let fading = Inputs { contacts: 10, engaged: 1, opened: 2, clicked: 0, notes: 3, ..steady() };
        let found = find(&fading, InsightType::DecliningEngagement).unwrap();
        assert_eq!(found.impact, InsightImpact::High, "10% is under half the 30% threshold");
        assert_eq!(found.evidence["responseRatio"], 0.1);
        // Three interactions are not more than three.
        assert!(find(&Inputs { notes: 1, ..fading.clone() }, InsightType::DecliningEngagement).is_none());
        // No contacts at all: nothing to measure a decline on.
        let alone = Inputs { contacts: 0, engaged: 0, ..fading };
        assert!(find(&alone, InsightType::DecliningEngagement).is_none());
    }

    #[test]
    fn churn_risk_takes_several_signals_together() {
        // Inactive, no pipeline, low response: three signals.
        let slipping = Inputs {
            last_activity: Some(now() - Duration::days(60)),
            open_deals: 0,
            recent_amount: 0.0,
            previous_amount: 0.0,
            contacts: 5,
            engaged: 0,
            ..steady()
        };
        let found = find(&slipping, InsightType::ChurnRisk).unwrap();
        assert_eq!(found.evidence["signals"], json!(["inactive", "noPipeline", "lowResponse"]));
        assert!(found.impact >= InsightImpact::Medium);
        let two = Inputs { engaged: 5, ..slipping };
        assert!(find(&two, InsightType::ChurnRisk).is_none(), "two signals are not several");
    }

    #[test]
    fn an_upsell_is_a_healthy_engaged_client_with_an_empty_pipeline() {
        let thriving = Inputs {
            open_deals: 0,
            won_revenue: 250_000.0,
            recent_amount: 40_000.0,
            previous_amount: 20_000.0,
            contacts: 10,
            opened: 8,
            clicked: 4,
            engaged: 10,
            notes: 15,
            ..steady()
        };
        let found = find(&thriving, InsightType::UpsellOpportunity).unwrap();
        assert_eq!(found.impact, InsightImpact::High);
        assert!(found.confidence >= 90, "{}", found.confidence);
        assert!(find(&Inputs { open_deals: 1, ..thriving }, InsightType::UpsellOpportunity).is_none());
    }

    #[test]
    fn a_client_with_no_data_is_inactive_but_no_upsell_and_confidence_stays_in_range() {
        let found = kinds(&Inputs::default());
        assert_eq!(found, [InsightType::InactiveClient]);
        let nothing = find(&Inputs::default(), InsightType::InactiveClient).unwrap();
        assert!((0..=100).contains(&nothing.confidence));
        assert_eq!(nothing.confidence, 39, "a rule with one agreeing signal on empty data: 65 × 0.6");
    }

    #[test]
    fn all_tickets_closed_do_not_count_against_a_client() {
        let closed = Inputs { open_tickets: 0, urgent_tickets: 0, days_to_close: Some(1.0), ..steady() };
        assert_eq!(kinds(&closed), []);
    }

    #[test]
    fn thresholds_parse_and_refuse_nonsense() {
        let t: Thresholds = "inactive_days=45, high_value_revenue=25000".parse().unwrap();
        assert_eq!((t.inactive_days, t.high_value_revenue, t.churn_signals), (45, 25_000.0, 3));
        assert!("inactive_days".parse::<Thresholds>().is_err());
        assert!("speed=1".parse::<Thresholds>().is_err());
        assert!("upsell_ratio=2".parse::<Thresholds>().is_err());
        let stricter = Inputs { last_activity: Some(now() - Duration::days(40)), ..steady() };
        let s = score(&stricter, Baseline::default(), Weights::default(), now());
        assert!(evaluate(&stricter, &s, &t, now()).is_empty(), "40 days is not inactive at 45");
    }
}
