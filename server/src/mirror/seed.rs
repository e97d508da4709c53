//! Demo and benchmark data: a generated portal written into the mirror.

use chrono::Utc;
use generator::{PortalSpec, generate};
use sea_orm::{DatabaseConnection, DbErr};

/// The portal id the demo uses.
pub const DEMO_PORTAL_ID: i64 = 100_001;

/// Writes the demo portal when the mirror holds no portal yet; says whether it did.
pub async fn seed_demo_if_empty(db: &DatabaseConnection) -> Result<bool, DbErr> {
    if !super::portal_ids(db).await?.is_empty() {
        return Ok(false);
    }
    let portal = generate(&PortalSpec::demo(DEMO_PORTAL_ID, Utc::now()));
    super::write_portal(db, &portal).await?;
    Ok(true)
}
