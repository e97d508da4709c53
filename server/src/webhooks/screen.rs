//! Events that can never be applied, set aside when their delivery is stored: an event for a portal the gateway does
//! not serve, and one dated too far ahead. They are stored inert (with their reason, for admins and metrics) rather
//! than refused: HubSpot retries any 4xx for a day, so refusing the delivery would also hold back its good events,
//! and a retry can never make these succeed.

use std::collections::BTreeSet;

use entities::portal;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::{event::Event, log::state};

/// `WEBHOOK_MAX_SKEW_SECS`'s default: a day.
pub const DEFAULT_MAX_SKEW_SECS: u64 = 86_400;

/// Why an event is inert; each is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inert {
    /// No portal row, or its install was revoked: no credential of that portal exists, and another's must not be used.
    UnknownPortal,
    /// `occurredAt` past the skew window: the newest change wins, so it would pin its property against every later one.
    Future,
}

impl Inert {
    pub const ALL: [Inert; 2] = [Self::UnknownPortal, Self::Future];

    /// The metric's `reason`.
    pub fn label(self) -> &'static str {
        match self {
            Self::UnknownPortal => "unknown_portal",
            Self::Future => "future",
        }
    }

    /// The log state: an unknown portal's event is ignored (replaying it could only apply it with no credential); a
    /// future one is dead, so an admin who fixed a clock may replay it.
    pub fn state(self) -> &'static str {
        match self {
            Self::UnknownPortal => state::IGNORED,
            Self::Future => state::DEAD,
        }
    }
}

/// What an event is checked against: the portals served, and the latest `occurredAt` accepted.
#[derive(Clone, Debug)]
pub struct Screen {
    served: BTreeSet<i64>,
    latest_ms: i64,
    max_skew_secs: u64,
}

impl Screen {
    /// Reads which of `events`' portals the gateway serves (a portal row not disconnected), in the caller's
    /// transaction.
    pub async fn load(
        db: &impl ConnectionTrait,
        events: &[Event],
        now_ms: i64,
        max_skew_secs: u64,
    ) -> Result<Self, DbErr> {
        let asked: BTreeSet<i64> = events.iter().map(|e| e.portal_id).collect();
        let served: Vec<i64> = portal::Entity::find()
            .select_only()
            .column(portal::Column::PortalId)
            .filter(portal::Column::PortalId.is_in(asked))
            .filter(portal::Column::DisconnectedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        let latest_ms = now_ms.saturating_add(i64::try_from(max_skew_secs.saturating_mul(1000)).unwrap_or(i64::MAX));
        Ok(Self { served: served.into_iter().collect(), latest_ms, max_skew_secs })
    }

    /// Why `event` is inert, with the reason stored beside it; `None` for an event to apply.
    pub fn verdict(&self, event: &Event) -> Option<(Inert, String)> {
        if !self.served.contains(&event.portal_id) {
            let reason = format!("unknown portal: {} is not connected to this gateway", event.portal_id);
            return Some((Inert::UnknownPortal, reason));
        }
        if event.occurred_at > self.latest_ms {
            let reason = format!(
                "occurredAt {} is more than {} s ahead of the gateway's clock (WEBHOOK_MAX_SKEW_SECS)",
                event.occurred_at, self.max_skew_secs
            );
            return Some((Inert::Future, reason));
        }
        None
    }
}
