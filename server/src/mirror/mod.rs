//! Writing HubSpot records into the mirror: property strings to typed columns, and upserts that never let an
//! older version overwrite a newer one.

mod convert;
mod copy;
pub mod definitions;
pub mod events;
mod merge;
pub mod purge;
pub mod schemas;
mod write;

pub use copy::copy_portal;
pub use write::{
    analyze, clear_associations, ensure_portal, held, mark_merged, portal_ids, refresh_statistics, remove_links,
    upsert_associations, upsert_campaigns, upsert_objects, upsert_owners, upsert_pipelines, write_portal,
};
