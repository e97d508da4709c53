//! Timestamps as HubSpot writes them.

use chrono::{DateTime, SecondsFormat, Utc};

/// ISO-8601 in UTC with milliseconds and a `Z`, as HubSpot renders dates: `2025-03-04T10:15:30.123Z`.
pub fn iso(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn iso_has_millis_and_z() {
        let ts = Utc.with_ymd_and_hms(2025, 3, 4, 10, 15, 30).unwrap() + Duration::milliseconds(123);
        assert_eq!(iso(ts), "2025-03-04T10:15:30.123Z");
        assert_eq!(iso(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()), "2025-01-01T00:00:00.000Z");
    }
}
