//! Filling the mirror from HubSpot. The backfill pages every record type with its associations into the mirror,
//! one transaction a page with the cursor saved beside it, so a killed backfill resumes where it stopped.

mod progress;
mod reconcile;
mod state;
pub(crate) mod wire;

use chrono::Utc;
use hubspot::{Association, AssociationKind, ObjectType};
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Value, json};

pub use self::{
    progress::Progress,
    reconcile::{ReconcileReport, reconcile, refresh},
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

/// The types a type's records can be associated with.
fn linked(object_type: ObjectType) -> &'static [ObjectType] {
    match object_type {
        ObjectType::Contact => &[ObjectType::Company, ObjectType::Deal, ObjectType::Ticket],
        ObjectType::Company => &[ObjectType::Contact, ObjectType::Deal, ObjectType::Ticket],
        ObjectType::Deal | ObjectType::Ticket => &[ObjectType::Contact, ObjectType::Company],
    }
}

/// The types whose associations the backfill reads from `object_type`'s pages: each pair once, from the side that
/// comes first in [`ObjectType::ALL`]; the mirror gets both directions.
fn read_from(object_type: ObjectType) -> impl Iterator<Item = ObjectType> {
    linked(object_type).iter().copied().filter(move |other| *other > object_type)
}

/// What a backfill did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub objects: u64,
    pub associations: u64,
    pub calls: u64,
}

/// Copies `portal` from HubSpot into the mirror: owners, pipelines, every contact, company, deal and ticket with
/// their associations, and campaigns. Resumes from the saved cursors unless `full`.
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
    let now = Utc::now();
    let owners = list_all(hubspot, portal, "/crm/v3/owners?limit=500", &mut report, wire::owners).await?;
    mirror::upsert_owners(db, portal, &owners, now).await?;
    for object_type in [ObjectType::Deal, ObjectType::Ticket] {
        let body = hubspot.send(portal, Call::get(format!("/crm/v3/pipelines/{}", object_type.plural()))).await?;
        report.calls += 1;
        mirror::upsert_pipelines(db, portal, &wire::pipelines(&body, object_type)?, now).await?;
    }
    for object_type in ObjectType::ALL {
        if let Err(err) = backfill_type(db, hubspot, portal, object_type, &mut report, progress).await {
            state::record_error(db, portal, object_type, &err.to_string()).await?;
            return Err(err);
        }
    }
    let campaigns = list_values(hubspot, portal, "/marketing/v3/campaigns?limit=100", &mut report).await?;
    let emails = list_values(hubspot, portal, "/marketing/v3/emails?limit=300&includeStats=true", &mut report).await?;
    mirror::upsert_campaigns(db, portal, &wire::campaigns(&campaigns, &emails)?, now).await?;
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
    let properties = generator::generated_properties(object_type).join(",");
    loop {
        let after = cursor.as_ref().map(|c| format!("&after={c}")).unwrap_or_default();
        let path = format!("/crm/v3/objects/{}?limit={PAGE}&properties={properties}{after}", object_type.plural());
        let page = wire::objects(&hubspot.send(portal, Call::get(path)).await?)?;
        report.calls += 1;
        let ids: Vec<i64> = page.results.iter().map(|o| o.id).collect();
        let mut links = Vec::new();
        for to in read_from(object_type) {
            links.extend(associations(hubspot, portal, object_type, to, &ids).await?);
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

/// Both directions of the associations from `ids` (of `from`) to `to`, by v4 batch read.
async fn associations(
    hubspot: &HubSpot,
    portal: i64,
    from: ObjectType,
    to: ObjectType,
    ids: &[i64],
) -> Result<Vec<Association>, HubSpotError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let inputs: Vec<Value> = ids.iter().map(|id| json!({ "id": id.to_string() })).collect();
    let path = format!("/crm/v4/associations/{}/{}/batch/read", from.plural(), to.plural());
    let body = hubspot.send(portal, Call::post(path, json!({ "inputs": inputs }))).await?;
    let mut out = Vec::new();
    for result in body["results"].as_array().into_iter().flatten() {
        let Some(from_id) = result["from"]["id"].as_str().and_then(|s| s.parse::<i64>().ok()) else { continue };
        for target in result["to"].as_array().into_iter().flatten() {
            let Some(to_id) = target["toObjectId"].as_i64().or_else(|| target["toObjectId"].as_str()?.parse().ok())
            else {
                continue;
            };
            for t in target["associationTypes"].as_array().into_iter().flatten() {
                let Some(type_id) = t["typeId"].as_i64().map(|v| v as i32) else { continue };
                let kind = AssociationKind::by_type_id(type_id);
                let label = t["label"].as_str().map(str::to_owned);
                let primary = kind.is_some_and(|k| k.primary) || label.as_deref() == Some("Primary");
                let category = t["category"].as_str().unwrap_or("HUBSPOT_DEFINED").to_owned();
                let inverse = kind.map_or(type_id, |k| k.inverse_type_id);
                out.push(Association {
                    from_type: from,
                    from_id,
                    to_type: to,
                    to_id,
                    type_id,
                    category: category.clone(),
                    label: label.clone(),
                    primary,
                });
                out.push(Association {
                    from_type: to,
                    from_id: to_id,
                    to_type: from,
                    to_id: from_id,
                    type_id: inverse,
                    category,
                    label,
                    primary,
                });
            }
        }
    }
    Ok(out)
}

/// Keeps the token's portal in step in the background: the backfill first when the mirror is empty or an earlier one
/// stopped short (the gateway answers meanwhile; `syncStatus` shows how far it got), then a reconcile sweep every
/// `every`.
pub async fn keep_in_step(
    db: DatabaseConnection,
    hubspot: HubSpot,
    token: String,
    every: std::time::Duration,
    health: Option<crate::health::Health>,
) {
    let Some(portal) = portal_of_token(&hubspot, &token).await else { return };
    let backfill = start_for_portal(db.clone(), hubspot.clone(), portal).await;
    tokio::spawn(async move {
        if let Some(task) = backfill
            && !matches!(task.await, Ok(Ok(_)))
        {
            return;
        }
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match reconcile(&db, &hubspot, portal, health.as_ref()).await {
                Ok(report) => tracing::info!(portal, ?report, "reconcile sweep done"),
                Err(err) => {
                    tracing::warn!(portal, error = %err, "reconcile sweep failed; the next one starts where it stopped")
                }
            }
        }
    });
}

/// The token's portal, or `None` (logged) when HubSpot cannot say.
async fn portal_of_token(hubspot: &HubSpot, token: &str) -> Option<i64> {
    match token_portal(hubspot, token).await {
        Ok(portal) => Some(portal),
        Err(err) => {
            tracing::error!(error = %err, "cannot tell which portal HUBSPOT_ACCESS_TOKEN belongs to; not syncing");
            None
        }
    }
}

/// At start-up: backfills the token's portal in the background when its mirror is empty or an earlier backfill
/// stopped short. The task, if one started.
pub async fn start_if_incomplete(
    db: DatabaseConnection,
    hubspot: HubSpot,
    token: String,
) -> Option<tokio::task::JoinHandle<Result<BackfillReport, SyncError>>> {
    let portal = portal_of_token(&hubspot, &token).await?;
    start_for_portal(db, hubspot, portal).await
}

async fn start_for_portal(
    db: DatabaseConnection,
    hubspot: HubSpot,
    portal: i64,
) -> Option<tokio::task::JoinHandle<Result<BackfillReport, SyncError>>> {
    match is_complete(&db, portal).await {
        Ok(true) => return None,
        Ok(false) => {}
        Err(err) => {
            tracing::error!(error = %err, "reading the sync state");
            return None;
        }
    }
    // Registered before serving, so the first requests already find the portal.
    if let Err(err) = mirror::ensure_portal(&db, portal, &format!("Portal {portal}")).await {
        tracing::error!(error = %err, "registering the portal");
        return None;
    }
    Some(tokio::spawn(async move {
        tracing::info!(portal, "backfilling the mirror from HubSpot");
        let outcome = backfill(&db, &hubspot, portal, false, &Progress::for_terminal()).await;
        match &outcome {
            Ok(report) => tracing::info!(portal, objects = report.objects, calls = report.calls, "backfill done"),
            Err(err) => tracing::error!(portal, error = %err, "backfill stopped; it resumes at the next start"),
        }
        outcome
    }))
}

/// Whether every object type of `portal` has been backfilled.
pub async fn is_complete(db: &DatabaseConnection, portal: i64) -> Result<bool, DbErr> {
    for object_type in ObjectType::ALL {
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
