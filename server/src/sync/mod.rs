//! Filling the mirror from HubSpot. The backfill pages every record type with its associations into the mirror,
//! one transaction a page with the cursor saved beside it, so a killed backfill resumes where it stopped.

pub(crate) mod links;
mod progress;
pub mod properties;
mod reconcile;
pub mod reference;
pub mod state;
mod supervisor;
pub(crate) mod wire;

use chrono::Utc;
use hubspot::ObjectType;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::{Value, json};

use self::links::associations;
pub use self::{
    progress::Progress,
    reconcile::{ReconcileReport, reconcile, refresh},
    supervisor::{Schedule, Supervisor},
};
use crate::{
    hubspot::{Call, HubSpot, HubSpotError},
    mirror,
};

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    HubSpot(#[from] HubSpotError),
    #[error("writing the mirror: {0}")]
    Db(#[from] DbErr),
}

/// Records per list call (HubSpot's maximum).
const PAGE: usize = 100;

/// The types whose links a re-read of `object_type`'s records reads (and replaces): the other built-in types; for a
/// custom type, the built-in types its schema defines associations with. A built-in type's links to custom objects
/// are read from the custom side, which has its schema's association types.
async fn linked(db: &impl ConnectionTrait, portal: i64, object_type: ObjectType) -> Result<Vec<ObjectType>, DbErr> {
    if !object_type.is_custom() {
        return Ok(ObjectType::BUILT_IN.into_iter().filter(|t| *t != object_type).collect());
    }
    let schemas = mirror::schemas::live(db, portal).await?;
    let schema = schemas.into_iter().find(|s| s.object_type == object_type);
    Ok(schema.map(|s| s.linked_types().into_iter().filter(|t| !t.is_custom()).collect()).unwrap_or_default())
}

/// The types whose associations the backfill reads from `object_type`'s pages: each pair once, from the side that
/// comes first in [`ObjectType::BUILT_IN`] (custom types after them); the mirror gets both directions.
fn read_from(object_type: ObjectType, linked: &[ObjectType]) -> Vec<ObjectType> {
    linked.iter().copied().filter(|other| *other > object_type || object_type.is_custom()).collect()
}

/// Every type of `portal` with records: the built-in ones, then its live custom object types.
pub async fn object_types(db: &impl ConnectionTrait, portal: i64) -> Result<Vec<ObjectType>, DbErr> {
    let mut types = ObjectType::BUILT_IN.to_vec();
    types.extend(mirror::schemas::custom_types(db, portal).await?);
    Ok(types)
}

/// What a backfill did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub objects: u64,
    pub associations: u64,
    pub calls: u64,
}

/// Copies `portal` from HubSpot into the mirror: the reference data (owners, pipelines, property definitions,
/// campaigns; a kind HubSpot refuses is recorded and skipped), then every contact, company, deal and ticket with every
/// property the portal defines and their associations. Resumes from the saved cursors unless `full`.
pub async fn backfill(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    full: bool,
    progress: &Progress,
) -> Result<BackfillReport, SyncError> {
    let mut report = BackfillReport::default();
    mirror::ensure_portal(db, portal, &format!("Portal {portal}")).await?;
    if full {
        state::reset(db, portal).await?;
    }
    report.calls += reference::refresh_all(db, hubspot, portal).await?;
    for object_type in object_types(db, portal).await? {
        if let Err(err) = backfill_type(db, hubspot, portal, object_type, &mut report, progress).await {
            state::record_error(db, portal, object_type, &err.to_string()).await?;
            return Err(err);
        }
    }
    mirror::refresh_statistics(db).await?;
    progress.finish();
    Ok(report)
}

async fn backfill_type(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    object_type: ObjectType,
    report: &mut BackfillReport,
    progress: &Progress,
) -> Result<(), SyncError> {
    let saved = state::load(db, portal, object_type).await?;
    if saved.as_ref().is_some_and(|s| s.backfill_done) {
        return Ok(());
    }
    let mut cursor = saved.as_ref().and_then(|s| s.backfill_cursor.clone());
    let mut synced = saved.map_or(0, |s| s.objects_synced as u64);
    progress.start(object_type, total(hubspot, portal, object_type, report).await, synced);
    let asked = properties::Asked::load(db, portal, object_type).await?;
    let linked = linked(db, portal, object_type).await?;
    let read_from = read_from(object_type, &linked);
    loop {
        let after = cursor.as_ref().map(|c| format!("&after={c}")).unwrap_or_default();
        let path = format!("/crm/v3/objects/{}?limit={PAGE}{after}", object_type.plural());
        let (page, calls) = properties::read_page(hubspot, portal, &path, &asked).await?;
        report.calls += calls;
        let ids: Vec<i64> = page.results.iter().map(|o| o.id).collect();
        let mut links = Vec::new();
        for to in &read_from {
            links.extend(associations(hubspot, portal, object_type, *to, &ids).await?);
            report.calls += 1;
        }
        let now = Utc::now();
        let txn = crate::db::begin_write(db).await?;
        mirror::upsert_objects(&txn, portal, object_type, &page.results, now).await?;
        mirror::upsert_associations(&txn, portal, &links, now).await?;
        synced += page.results.len() as u64;
        state::save(&txn, portal, object_type, page.next.as_deref(), synced).await?;
        txn.commit().await?;
        report.objects += page.results.len() as u64;
        report.associations += links.len() as u64;
        progress.advance(object_type, synced);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    progress.done(object_type, synced);
    Ok(())
}

/// How many live records of a type HubSpot has (a search for one, which answers with the total); `None` if the
/// search fails, which only costs the progress bar its length.
async fn total(hubspot: &HubSpot, portal: i64, object_type: ObjectType, report: &mut BackfillReport) -> Option<u64> {
    let path = format!("/crm/v3/objects/{}/search", object_type.plural());
    report.calls += 1;
    let body = hubspot.send(portal, Call::post(path, json!({ "limit": 1 }))).await.ok()?;
    body["total"].as_u64()
}

/// Whether every object type of `portal` has been backfilled.
pub async fn is_complete(db: &DatabaseConnection, portal: i64) -> Result<bool, DbErr> {
    for object_type in object_types(db, portal).await? {
        if !state::load(db, portal, object_type).await?.is_some_and(|s| s.backfill_done) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The portal an access token belongs to (`hub_id` of HubSpot's token info).
pub async fn token_portal(hubspot: &HubSpot, token: &str) -> Result<i64, HubSpotError> {
    // Not through `send`: its retry log names the path, and this path holds the token.
    let path = format!("/oauth/v1/access-tokens/{token}");
    let info = hubspot.unauthenticated(reqwest::Method::GET, &path, None).await?;
    info["hub_id"].as_i64().ok_or_else(|| HubSpotError::bad_response("HubSpot's token info has no hub_id"))
}

/// Every page of a list call that is read whole (owners).
async fn list_all<T>(
    hubspot: &HubSpot,
    portal: i64,
    path: &str,
    report: &mut BackfillReport,
    parse: fn(&Value) -> Result<wire::Page<T>, HubSpotError>,
) -> Result<Vec<T>, HubSpotError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let url = after.as_ref().map_or_else(|| path.to_owned(), |a| format!("{path}&after={a}"));
        let page = parse(&hubspot.send(portal, Call::get(url)).await?)?;
        report.calls += 1;
        out.extend(page.results);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}

/// Every result of a paged list, as JSON (campaigns, emails).
async fn list_values(
    hubspot: &HubSpot,
    portal: i64,
    path: &str,
    report: &mut BackfillReport,
) -> Result<Vec<Value>, HubSpotError> {
    list_all(hubspot, portal, path, report, |body| {
        Ok(wire::Page {
            results: body["results"].as_array().cloned().unwrap_or_default(),
            next: wire::next_cursor(body),
        })
    })
    .await
}
