//! The server's own acts in the audit log: install tickets, installs, disconnects and key changes. Rows are written
//! the one way the schema writes a mutation's ([`schema::audit::write`]); this holds what only the server knows.

use schema::{
    ApiError,
    audit::{Entry, write},
    upstream::UpstreamError,
};
use sea_orm::DatabaseConnection;

use crate::{
    auth::{Grant, keys::KeyInfo},
    hubspot::HubSpotError,
};

/// The caller the `server keys` commands are recorded as.
pub const CLI: &str = "cli";

/// `entry` failed at HubSpot, recorded as a mutation HubSpot refused is: its status and category, HubSpot's
/// correlation id, and not its message (HubSpot's messages quote what was sent).
pub fn failed_at_hubspot(entry: Entry, err: &HubSpotError) -> Entry {
    let err = UpstreamError {
        status: err.status,
        category: err.category.clone(),
        message: String::new(),
        correlation_id: err.correlation_id.clone(),
        unavailable: err.retryable(),
    };
    entry.failed(&ApiError::Upstream(err))
}

/// Records a change to the key `info` by `caller`: a row for each portal it grants, so each portal's admins see it
/// in `auditLog`, or one row of no portal for a key of every portal. The key's id names it; its secret is never
/// seen here.
pub async fn key_changed(db: &DatabaseConnection, caller: &str, field: &str, operation: &str, info: &KeyInfo) {
    let entry = |portal| Entry::new(caller, portal, field).operation(operation).target(format!("key {}", info.id));
    match &info.portals {
        Grant::All => write(db, entry(None)).await,
        Grant::Only(portals) => {
            for portal in portals {
                write(db, entry(Some(*portal))).await;
            }
        }
    }
}
