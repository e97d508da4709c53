//! Marketing campaigns with e-mail statistics that add up (delivered + bounced = sent, and so on).

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, Utc};
use rand::Rng;

use super::Gen;
use crate::data::{CAMPAIGN_THEMES, CAMPAIGN_TYPES};
use hubspot::{Campaign, EmailStats};

pub(super) fn generate(g: &mut Gen, count: usize) -> Vec<Campaign> {
    let mut names = HashSet::new();
    (0..count).map(|_| campaign(g, &mut names)).collect()
}

fn campaign(g: &mut Gen, names: &mut HashSet<String>) -> Campaign {
    let id = uuid(g);
    let status = g.weighted(&[("COMPLETED", 60), ("ACTIVE", 25), ("PLANNED", 15)]);
    let created_at = created(g, status);
    let updated_at = g.between(created_at, g.now);
    let stats = if status == "PLANNED" { EmailStats::default() } else { stats(g) };
    Campaign {
        id,
        name: unique_name(g, created_at, names),
        campaign_type: g.pick(CAMPAIGN_TYPES).to_string(),
        status: status.to_owned(),
        stats,
        created_at,
        updated_at,
    }
}

/// A version-4-shaped UUID from the seeded stream, so ids are stable across runs.
fn uuid(g: &mut Gen) -> String {
    let bits: u128 = g.rng.random();
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Planned campaigns were set up in the last month, running ones in the last four; finished ones are older.
fn created(g: &mut Gen, status: &str) -> DateTime<Utc> {
    let days_ago = |d| g.now - Duration::days(d);
    let (from, to) = match status {
        "PLANNED" => (days_ago(30), g.now),
        "ACTIVE" => (days_ago(120), days_ago(7)),
        _ => (g.start, days_ago(60)),
    };
    g.between(from, to)
}

/// "Spring Promotion Q2 2025", numbered if the theme ran twice in a quarter.
fn unique_name(g: &mut Gen, created: DateTime<Utc>, taken: &mut HashSet<String>) -> String {
    // Campaigns are named for the quarter they run in, a little after they are set up.
    let runs = created + Duration::days(14);
    let base = format!("{} Q{} {}", g.pick(CAMPAIGN_THEMES), runs.month0() / 3 + 1, runs.year());
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base} ({n})");
        n += 1;
    }
    name
}

/// Each figure is a share of the one before it.
fn stats(g: &mut Gen) -> EmailStats {
    let sent = g.skewed(500.0, 50_000.0, 1.2).round() as i64;
    let delivered = share(sent, g.range(0.92..0.995));
    let opened = share(delivered, g.range(0.15..0.45));
    let clicked = share(opened, g.range(0.05..0.30));
    let unsubscribed = share(delivered, g.range(0.0..0.005));
    EmailStats { sent, delivered, opened, clicked, bounced: sent - delivered, unsubscribed }
}

fn share(of: i64, fraction: f64) -> i64 {
    (of as f64 * fraction).floor() as i64
}
