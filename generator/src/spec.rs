//! Ready-made portal sizes.

use chrono::{DateTime, Utc};

use crate::model::PortalSpec;

impl PortalSpec {
    /// A portal small enough to browse by hand: 2,000 contacts, 400 companies, 1,000 deals, 500 tickets,
    /// 12 owners and 20 campaigns. The seed is the portal id, so each demo portal differs.
    pub fn demo(portal_id: i64, now: DateTime<Utc>) -> Self {
        Self {
            portal_id,
            seed: portal_id as u64,
            contacts: 2_000,
            companies: 400,
            deals: 1_000,
            tickets: 500,
            owners: 12,
            campaigns: 20,
            now,
        }
    }

    /// A portal of the given size; tickets, owners and campaigns scale with it (half as many tickets as
    /// deals, one owner per 500 companies within 5..=100, one campaign per 2,000 contacts but at least 10).
    pub fn sized(
        portal_id: i64,
        seed: u64,
        contacts: usize,
        companies: usize,
        deals: usize,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            portal_id,
            seed,
            contacts,
            companies,
            deals,
            tickets: deals / 2,
            owners: (companies / 500).clamp(5, 100),
            campaigns: (contacts / 2_000).max(10),
            now,
        }
    }
}
