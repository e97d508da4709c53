//! Reference data (owners, pipelines and their stages, property definitions, campaigns with their email statistics):
//! HubSpot sends no webhooks for it, so it is read whole, on a schedule and at once when an event or a mutation meets
//! an id the mirror does not know. An answer whose digest matches the last one writes nothing. A kind that fails
//! (a missing scope, say) is recorded in `sync_state` and the others go on.

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use hubspot::ObjectType;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{SyncError, list_values, state, wire};
use crate::{
    hubspot::{Call, HubSpot, HubSpotError},
    mirror,
};

/// A kind of reference data, named as `syncStatus` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Owners,
    Pipelines,
    /// Custom object schemas.
    Schemas,
    Properties,
    Campaigns,
}

impl Kind {
    /// In refresh order: schemas before properties, whose custom types they name.
    pub const ALL: [Kind; 5] = [Kind::Owners, Kind::Pipelines, Kind::Schemas, Kind::Properties, Kind::Campaigns];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Owners => "owners",
            Kind::Pipelines => "pipelines",
            Kind::Schemas => "schemas",
            Kind::Properties => "properties",
            Kind::Campaigns => "campaigns",
        }
    }
}

/// What refreshing one kind did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// HubSpot's answer differed from the last one and was written.
    Changed,
    Unchanged,
    /// HubSpot refused or failed; recorded in `sync_state`, nothing written.
    Failed(String),
}

/// Refreshes every kind; a kind that fails does not stop the others. Only a failing mirror is an error.
pub async fn refresh_all(db: &DatabaseConnection, hubspot: &HubSpot, portal: i64) -> Result<u64, SyncError> {
    let mut calls = 0;
    for kind in Kind::ALL {
        calls += refresh(db, hubspot, portal, kind).await?.1;
    }
    Ok(calls)
}

/// Reads one kind whole and writes it when it changed; what happened and the calls it took.
pub async fn refresh(
    db: &DatabaseConnection,
    hubspot: &HubSpot,
    portal: i64,
    kind: Kind,
) -> Result<(Refreshed, u64), SyncError> {
    let mut calls = 0;
    let types = super::object_types(db, portal).await?;
    let read = read(hubspot, portal, kind, &types, &mut calls).await;
    let answers = match read {
        Ok(answers) => answers,
        Err(err) => {
            let missing = err.missing_scopes();
            if missing.is_some() {
                tracing::warn!(portal, kind = kind.name(), error = %err, "missing scopes: this kind is not mirrored");
            } else {
                tracing::warn!(portal, kind = kind.name(), error = %err, "refreshing reference data failed");
            }
            state::refresh_failed(db, portal, kind.name(), &err.to_string(), missing.as_deref()).await?;
            return Ok((Refreshed::Failed(err.to_string()), calls));
        }
    };
    let fingerprint = digest(&answers);
    let held = state::load_kind(db, portal, kind.name()).await?.and_then(|s| s.fingerprint);
    let outcome = if held.as_deref() == Some(fingerprint.as_str()) {
        Refreshed::Unchanged
    } else {
        match write(db, portal, kind, &types, &answers).await {
            Ok(()) => Refreshed::Changed,
            Err(SyncError::HubSpot(err)) => {
                state::refresh_failed(db, portal, kind.name(), &err.to_string(), None).await?;
                return Ok((Refreshed::Failed(err.to_string()), calls));
            }
            Err(err) => return Err(err),
        }
    };
    state::refreshed(db, portal, kind.name(), &fingerprint).await?;
    Ok((outcome, calls))
}

/// HubSpot's answers for a kind, in a fixed order.
/// `types` are the portal's object types, custom ones included, whose properties are read.
async fn read(
    hubspot: &HubSpot,
    portal: i64,
    kind: Kind,
    types: &[ObjectType],
    calls: &mut u64,
) -> Result<Vec<Value>, HubSpotError> {
    let mut report = super::BackfillReport::default();
    let answers = match kind {
        Kind::Owners => {
            let mut owners = list_values(hubspot, portal, "/crm/v3/owners?limit=500", &mut report).await?;
            owners.extend(list_values(hubspot, portal, "/crm/v3/owners?limit=500&archived=true", &mut report).await?);
            vec![Value::Array(owners)]
        }
        Kind::Pipelines => {
            let mut out = Vec::new();
            for object_type in [ObjectType::Deal, ObjectType::Ticket] {
                report.calls += 1;
                out.push(hubspot.send(portal, Call::get(format!("/crm/v3/pipelines/{}", object_type.plural()))).await?);
            }
            out
        }
        Kind::Schemas => {
            report.calls += 1;
            vec![hubspot.send(portal, Call::get("/crm/v3/schemas".to_owned())).await?]
        }
        Kind::Properties => {
            let mut out = Vec::new();
            for &object_type in types {
                for archived in [false, true] {
                    let path = format!("/crm/v3/properties/{}?archived={archived}", object_type.plural());
                    report.calls += 1;
                    out.push(hubspot.send(portal, Call::get(path)).await?);
                }
            }
            out
        }
        Kind::Campaigns => {
            let campaigns = list_values(hubspot, portal, "/marketing/v3/campaigns?limit=100", &mut report).await?;
            let emails =
                list_values(hubspot, portal, "/marketing/v3/emails?limit=300&includeStats=true", &mut report).await?;
            vec![Value::Array(campaigns), Value::Array(emails)]
        }
    };
    *calls += report.calls;
    Ok(answers)
}

async fn write(
    db: &DatabaseConnection,
    portal: i64,
    kind: Kind,
    types: &[ObjectType],
    answers: &[Value],
) -> Result<(), SyncError> {
    let now = Utc::now();
    match kind {
        Kind::Owners => {
            let owners = wire::owners(&serde_json::json!({ "results": answers[0] }))?.results;
            mirror::upsert_owners(db, portal, &owners, now).await?;
        }
        Kind::Pipelines => {
            for (answer, object_type) in answers.iter().zip([ObjectType::Deal, ObjectType::Ticket]) {
                mirror::upsert_pipelines(db, portal, &wire::pipelines(answer, object_type)?, now).await?;
            }
        }
        Kind::Schemas => {
            mirror::schemas::replace(db, portal, &wire::schemas(&answers[0])?, now).await?;
        }
        Kind::Properties => {
            let txn = crate::db::begin_write(db).await?;
            for (pair, &object_type) in answers.chunks(2).zip(types) {
                let mut all = Vec::new();
                for answer in pair {
                    all.extend(wire::property_definitions(answer)?);
                }
                mirror::definitions::replace(&txn, portal, object_type, &all, now).await?;
            }
            txn.commit().await?;
        }
        Kind::Campaigns => {
            let (campaigns, emails) = (as_list(&answers[0]), as_list(&answers[1]));
            mirror::upsert_campaigns(db, portal, &wire::campaigns(&campaigns, &emails)?, now).await?;
        }
    }
    Ok(())
}

fn as_list(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// SHA-256 of the answers, hex.
fn digest(answers: &[Value]) -> String {
    let mut hasher = Sha256::new();
    for answer in answers {
        hasher.update(answer.to_string().as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A property's new value, as a webhook names it.
pub type Change = (String, Option<String>);

/// Re-reads a kind at once when something names an id the mirror does not know (a mutation's owner or stage, a
/// webhook's property): at most once per [`ON_MISS_EVERY`] per portal and kind, so a flood of unknown ids costs a
/// few calls. Misses that arrive while a re-read is in flight wait for it instead of starting another.
#[derive(Default)]
pub struct OnMiss {
    slots: std::sync::Mutex<std::collections::HashMap<(i64, Kind), Arc<LastRead>>>,
    /// Re-reads started in the background, so a stop can wait for them.
    background: tokio_util::task::TaskTracker,
}

/// When a kind was last re-read for a miss; held while a re-read is in flight.
type LastRead = tokio::sync::Mutex<Option<Instant>>;

/// The least time between two re-reads of one kind for a miss.
pub const ON_MISS_EVERY: Duration = Duration::from_secs(2);

impl OnMiss {
    /// Re-reads `kind` of `portal` unless that was done within [`ON_MISS_EVERY`]; whether it read.
    pub async fn refresh(
        &self,
        db: &DatabaseConnection,
        hubspot: &HubSpot,
        portal: i64,
        kind: Kind,
    ) -> Result<bool, SyncError> {
        let slot = self.slots.lock().expect("on-miss slots").entry((portal, kind)).or_default().clone();
        let mut last = slot.lock().await;
        if last.is_some_and(|at| at.elapsed() < ON_MISS_EVERY) {
            return Ok(false);
        }
        let (outcome, _) = refresh(db, hubspot, portal, kind).await?;
        *last = Some(Instant::now());
        tracing::info!(
            portal,
            kind = kind.name(),
            ?outcome,
            "re-read reference data for an id the mirror did not know"
        );
        Ok(true)
    }

    /// [`OnMiss::refresh`] in the background, tracked: what applied a change need not wait for the read.
    pub fn refresh_in_background(
        self: &Arc<Self>,
        db: &DatabaseConnection,
        hubspot: &HubSpot,
        portal: i64,
        kind: Kind,
    ) {
        let (this, db, hubspot) = (Arc::clone(self), db.clone(), hubspot.clone());
        self.background.spawn(async move {
            if let Err(err) = this.refresh(&db, &hubspot, portal, kind).await {
                tracing::warn!(portal, kind = kind.name(), error = %err, "re-reading reference data failed");
            }
        });
    }

    /// Waits for the background re-reads under way (a stop); any started after run to their end too.
    pub async fn finished(&self) {
        self.background.close();
        self.background.wait().await;
    }
}

/// The kinds of reference data that changes of properties (`name` → value) name and the mirror does not hold:
/// a property without a definition, an owner or a pipeline stage it has never read.
pub async fn unknown_in(
    db: &impl sea_orm::ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    changes: &[Change],
) -> Result<BTreeSet<Kind>, sea_orm::DbErr> {
    use entities::{owner, pipeline_stage, property_definition as def};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let mut unknown = BTreeSet::new();
    if object_type.is_custom() && !crate::mirror::schemas::is_known(db, portal, object_type).await? {
        unknown.insert(Kind::Schemas);
    }
    let names: BTreeSet<&str> = changes.iter().map(|(n, _)| n.as_str()).collect();
    let defined = def::Entity::find()
        .filter(def::Column::PortalId.eq(portal))
        .filter(def::Column::ObjectType.eq(object_type.singular()))
        .filter(def::Column::Name.is_in(names.iter().copied()))
        .count(db)
        .await?;
    if defined < names.len() as u64 {
        unknown.insert(Kind::Properties);
    }
    let values = |property: &str| -> BTreeSet<String> {
        let given = changes.iter().filter(|(n, _)| n == property);
        given.filter_map(|(_, v)| v.clone()).filter(|v| !v.is_empty()).collect()
    };
    let owners: BTreeSet<i64> = values("hubspot_owner_id").iter().filter_map(|v| v.parse().ok()).collect();
    if !owners.is_empty() {
        let held = owner::Entity::find()
            .filter(owner::Column::PortalId.eq(portal))
            .filter(owner::Column::HubspotId.is_in(owners.iter().copied()))
            .count(db)
            .await?;
        if held < owners.len() as u64 {
            unknown.insert(Kind::Owners);
        }
    }
    let stages: BTreeSet<String> = values("dealstage").into_iter().chain(values("hs_pipeline_stage")).collect();
    if !stages.is_empty() {
        // A stage id may repeat across pipelines: it is known when some pipeline holds it.
        let held = pipeline_stage::Entity::find()
            .filter(pipeline_stage::Column::PortalId.eq(portal))
            .filter(pipeline_stage::Column::HubspotId.is_in(stages.iter().cloned()))
            .all(db)
            .await?;
        let held: BTreeSet<&str> = held.iter().map(|s| s.hubspot_id.as_str()).collect();
        if stages.iter().any(|s| !held.contains(s.as_str())) {
            unknown.insert(Kind::Pipelines);
        }
    }
    Ok(unknown)
}
