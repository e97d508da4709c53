//! Random instants inside the generated history, at the millisecond precision HubSpot writes.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use rand::Rng;

/// Drops sub-millisecond precision, so that a timestamp survives a round trip through [`iso`].
pub(crate) fn truncate_ms(ts: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ts.timestamp_millis()).unwrap_or(ts)
}

/// A uniformly random instant in `[from, to]`, at millisecond precision (`from` when the range is empty).
pub(crate) fn between(rng: &mut impl Rng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_milliseconds();
    if span <= 0 {
        return from;
    }
    from + Duration::milliseconds(rng.random_range(0..=span))
}

/// Midnight UTC on the first day of `ts`'s month.
pub(crate) fn month_start(ts: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(ts.year(), ts.month(), 1, 0, 0, 0).single().unwrap_or(ts)
}

/// Midnight UTC on the first day of the month after `ts`'s.
pub(crate) fn next_month_start(ts: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = if ts.month() == 12 { (ts.year() + 1, 1) } else { (ts.year(), ts.month() + 1) };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().unwrap_or(ts)
}

#[cfg(test)]
mod tests {
    use hubspot::iso;

    use super::*;

    #[test]
    fn month_bounds() {
        let ts = Utc.with_ymd_and_hms(2024, 12, 15, 8, 0, 0).unwrap();
        assert_eq!(iso(month_start(ts)), "2024-12-01T00:00:00.000Z");
        assert_eq!(iso(next_month_start(ts)), "2025-01-01T00:00:00.000Z");
    }
}
