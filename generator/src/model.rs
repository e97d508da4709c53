//! What the generator is asked for.

use chrono::{DateTime, Utc};

/// How big a portal to generate. The same spec always yields the same portal.
#[derive(Clone, Debug)]
pub struct PortalSpec {
    pub portal_id: i64,
    pub seed: u64,
    pub contacts: usize,
    pub companies: usize,
    pub deals: usize,
    pub tickets: usize,
    pub owners: usize,
    pub campaigns: usize,
    /// The generated history (create dates, close dates, activity) ends here.
    pub now: DateTime<Utc>,
}
