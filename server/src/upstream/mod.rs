//! The schema's way to HubSpot, for writes and for reads the mirror cannot answer. Each call goes through the
//! upstream client (rate limit, retries on 429 and 5xx only, timeouts); HubSpot's answer goes into the mirror before
//! the call returns, so the next query sees it. The webhook HubSpot sends about a write then finds nothing newer
//! to apply, and the cached fallback read of the record is dropped.

mod batch;
mod create;

use chrono::Utc;
use hubspot::{Association, CrmObject, ObjectType};
use schema::upstream::{
    Answer, AssociationType, ItemAnswer, Link, NewRecord, Properties, Reference, Source, Upstream, UpstreamError,
    WriteError,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use serde_json::json;

use crate::{
    health::Health,
    hubspot::{Call, HubSpot, HubSpotError},
    idempotency::Keys,
    mirror::{self, events},
    sync::{properties::Asked, wire},
};

#[derive(Clone)]
pub struct HubSpotUpstream {
    pub db: DatabaseConnection,
    pub hubspot: HubSpot,
    pub keys: Keys,
    /// Rescores the clients a write touches before the mutation answers; `None` leaves it to the full pass.
    pub health: Option<Health>,
    /// Re-reads owners or pipelines when a mutation names one the mirror does not know.
    pub reference: std::sync::Arc<crate::sync::reference::OnMiss>,
    /// How long after a create HubSpot's search may still miss its record: a look-up after a lost answer waits
    /// this long past the send (see `create`).
    pub search_lag: std::time::Duration,
}

/// HubSpot's search index trails writes by a few seconds.
pub const SEARCH_LAG: std::time::Duration = std::time::Duration::from_secs(5);

fn refused(err: HubSpotError) -> WriteError {
    WriteError::HubSpot(UpstreamError {
        unavailable: err.unavailable(),
        status: err.status,
        category: err.category,
        message: err.message,
        correlation_id: err.correlation_id,
    })
}

/// The read of one record a fallback makes: every property the portal defines, named in a batch read's body (a
/// GET's query string would hit HubSpot's URL limit).
fn record_call(object_type: ObjectType, id: i64, asked: &Asked) -> Call {
    let path = format!("/crm/v3/objects/{}/batch/read", object_type.plural());
    Call::post(path, json!({ "inputs": [{ "id": id.to_string() }], "properties": asked.names() }))
}

/// The read cache's name for record `id`, which a write of it drops.
fn record(object_type: ObjectType, id: i64) -> String {
    format!("{}/{id}", object_type.plural())
}

/// A new record's links as HubSpot's create takes them.
fn associations(links: &[Link]) -> Vec<serde_json::Value> {
    links
        .iter()
        .map(|link| {
            // A custom object's association types are its schema's own.
            let category =
                if link.kind.from.is_custom() || link.kind.to.is_custom() { "USER_DEFINED" } else { "HUBSPOT_DEFINED" };
            json!({ "to": { "id": link.to_id.to_string() },
                    "types": [{ "associationCategory": category, "associationTypeId": link.kind.type_id }] })
        })
        .collect()
}

/// The mirror's edges for record `id`'s links: each link both ways.
fn edges(id: i64, links: &[Link]) -> Vec<Association> {
    links
        .iter()
        .flat_map(|link| [link.kind.association(id, link.to_id), link.kind.inverse().association(link.to_id, id)])
        .collect()
}

/// What an update's answer says changed: each property HubSpot answered with, dated from the answer's
/// `updatedAt` as its webhook will be.
fn changes(object: &CrmObject) -> Vec<events::Change> {
    let at = object.updated_at.timestamp_millis();
    object
        .properties
        .iter()
        .map(|(name, value)| events::Change { name: name.clone(), value: value.clone(), occurred_ms: at })
        .collect()
}

/// Whether an update of `properties` can move a health score: a property no score reads moves none.
fn sets_scored(object_type: ObjectType, properties: &Properties) -> bool {
    properties.keys().any(|name| crate::health::inputs::reads_property(object_type, name))
}

impl HubSpotUpstream {
    /// Rescores the clients a write touched, so a query after the mutation sees their scores moved.
    async fn rescore(&self, portal: i64, operation: &str, records: &[(ObjectType, i64)]) {
        let Some(health) = &self.health else { return };
        let named: Vec<_> =
            records.iter().map(|(t, id)| json!({ "objectType": t.singular(), "objectId": id })).collect();
        let cause = json!({ "kind": "mutation", "operation": operation, "records": named });
        health.records_changed(portal, records, &cause).await;
    }

    async fn fetch(self, portal: i64, object_type: ObjectType, id: i64) -> Result<Option<Source>, WriteError> {
        let asked = Asked::load(&self.db, portal, object_type).await?;
        let call = record_call(object_type, id, &asked);
        let Some(answer) = self.hubspot.read_record(portal, &record(object_type, id), call).await.map_err(refused)?
        else {
            return Ok(None);
        };
        let object = wire::object(&answer.value).map_err(refused)?;
        if object.archived {
            return Ok(None);
        }
        let source = if answer.hit { Source::Cache } else { Source::Hubspot };
        match self.mirrored_version(portal, object_type, id).await? {
            // A webhook brought a newer version since HubSpot's answer was cached: the mirror's is the answer.
            Some(held) if held > object.updated_at => Ok(Some(Source::Mirror)),
            // Many readers of one missing record share one upstream answer; only the first needs to write it.
            Some(held) if held == object.updated_at => Ok(Some(source)),
            _ => {
                mirror::upsert_objects(&self.db, portal, object_type, std::slice::from_ref(&object), Utc::now())
                    .await?;
                Ok(Some(source))
            }
        }
    }

    /// HubSpot's `updatedAt` of the version of record `id` the mirror holds.
    async fn mirrored_version(
        &self,
        portal: i64,
        object_type: ObjectType,
        id: i64,
    ) -> Result<Option<chrono::DateTime<Utc>>, sea_orm::DbErr> {
        let select = Query::select()
            .column(Alias::new("updated_at"))
            .from(crate::mirror::schemas::table(object_type))
            .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
            .and_where(Expr::col(Alias::new("hubspot_id")).eq(id))
            .and_where_option(crate::mirror::schemas::of_type(object_type))
            .to_owned();
        match self.db.query_one(&select).await? {
            Some(row) => Ok(Some(row.try_get("", "updated_at")?)),
            None => Ok(None),
        }
    }

    async fn update(
        self,
        portal: i64,
        object_type: ObjectType,
        id: i64,
        properties: Properties,
    ) -> Result<(), WriteError> {
        let call =
            Call::patch(format!("/crm/v3/objects/{}/{id}", object_type.plural()), json!({ "properties": properties }));
        let answer = self.hubspot.send(portal, call).await.map_err(refused)?;
        let object = wire::object(&answer).map_err(refused)?;
        let txn = crate::db::begin_write(&self.db).await?;
        let missing = events::set_properties(&txn, portal, object_type, &[(id, changes(&object))]).await?;
        if !missing.is_empty() {
            mirror::upsert_objects(&txn, portal, object_type, std::slice::from_ref(&object), Utc::now()).await?;
        }
        txn.commit().await?;
        self.hubspot.forget(portal, &record(object_type, id)).await;
        if sets_scored(object_type, &properties) {
            self.rescore(portal, "update", &[(object_type, id)]).await;
        }
        Ok(())
    }

    async fn archive(self, portal: i64, object_type: ObjectType, id: i64) -> Result<(), WriteError> {
        let call = Call::delete(format!("/crm/v3/objects/{}/{id}", object_type.plural()));
        self.hubspot.send(portal, call).await.map_err(refused)?;
        events::tombstone(&self.db, portal, object_type, &[(id, Utc::now().timestamp_millis())]).await?;
        self.hubspot.forget(portal, &record(object_type, id)).await;
        self.rescore(portal, "archive", &[(object_type, id)]).await;
        Ok(())
    }

    async fn associate(self, portal: i64, edge: Association, inverse: Option<Association>) -> Result<(), WriteError> {
        let path = format!(
            "/crm/v4/objects/{}/{}/associations/{}/{}",
            edge.from_type.plural(),
            edge.from_id,
            edge.to_type.plural(),
            edge.to_id
        );
        let body = json!([{ "associationCategory": edge.category, "associationTypeId": edge.type_id }]);
        self.hubspot.send(portal, Call::put(path, body)).await.map_err(refused)?;
        let ends = [(edge.from_type, edge.from_id), (edge.to_type, edge.to_id)];
        match inverse {
            Some(inverse) => mirror::upsert_associations(&self.db, portal, &[edge, inverse], Utc::now()).await?,
            None => self.read_back_link(portal, edge).await?,
        }
        self.rescore(portal, "associate", &ends).await;
        Ok(())
    }

    /// The link as HubSpot now holds it, both directions, in place of the mirror's: a label's other direction has
    /// a type id and label only HubSpot knows. Should the read fail, the edge made is written alone and the webhook
    /// of the change brings the rest.
    async fn read_back_link(&self, portal: i64, edge: Association) -> Result<(), sea_orm::DbErr> {
        let ends = ((edge.from_type, edge.from_id), (edge.to_type, edge.to_id));
        let rows = match crate::sync::links::between(&self.hubspot, portal, ends.0, ends.1).await {
            Ok(rows) => rows,
            Err(err) => {
                tracing::warn!(error = %err, portal, "reading back a labelled link failed");
                return mirror::upsert_associations(&self.db, portal, &[edge], Utc::now()).await;
            }
        };
        let txn = crate::db::begin_write(&self.db).await?;
        mirror::remove_links(&txn, portal, ends.0, ends.1).await?;
        mirror::upsert_associations(&txn, portal, &rows, Utc::now()).await?;
        txn.commit().await
    }

    async fn association_labels(
        self,
        portal: i64,
        from: ObjectType,
        to: ObjectType,
    ) -> Result<Vec<AssociationType>, WriteError> {
        let path = format!("/crm/v4/associations/{}/{}/labels", from.plural(), to.plural());
        let answer = self.hubspot.send(portal, Call::get(path)).await.map_err(refused)?;
        let types = answer["results"].as_array().into_iter().flatten().filter_map(|t| {
            Some(AssociationType {
                type_id: i32::try_from(t["typeId"].as_i64()?).ok()?,
                category: t["category"].as_str().unwrap_or("HUBSPOT_DEFINED").to_owned(),
                label: t["label"].as_str().map(str::to_owned),
            })
        });
        Ok(types.collect())
    }

    async fn dissociate(
        self,
        portal: i64,
        (from, from_id): (ObjectType, i64),
        (to, to_id): (ObjectType, i64),
    ) -> Result<(), WriteError> {
        let path = format!("/crm/v4/objects/{}/{from_id}/associations/{}/{to_id}", from.plural(), to.plural());
        self.hubspot.send(portal, Call::delete(path)).await.map_err(refused)?;
        mirror::remove_links(&self.db, portal, (from, from_id), (to, to_id)).await?;
        self.rescore(portal, "dissociate", &[(from, from_id), (to, to_id)]).await;
        Ok(())
    }

    /// HubSpot moves the merged record's properties and links to the survivor: the mirror tombstones the merged
    /// one and reads the survivor again, links included.
    async fn merge(self, portal: i64, object_type: ObjectType, primary: i64, merged: i64) -> Result<i64, WriteError> {
        let path = format!("/crm/v3/objects/{}/merge", object_type.plural());
        let body = json!({ "primaryObjectId": primary.to_string(), "objectIdToMerge": merged.to_string() });
        let answer = self.hubspot.send(portal, Call::post(path, body)).await.map_err(refused)?;
        let survivor = wire::object(&answer).map_err(refused)?;
        let now = Utc::now();
        let txn = crate::db::begin_write(&self.db).await?;
        mirror::upsert_objects(&txn, portal, object_type, std::slice::from_ref(&survivor), now).await?;
        let absorbed: Vec<(i64, i64)> =
            [primary, merged].into_iter().filter(|id| *id != survivor.id).map(|id| (id, survivor.id)).collect();
        mirror::mark_merged(&txn, portal, object_type, &absorbed, now).await?;
        txn.commit().await?;
        if let Err(err) = crate::sync::refresh(&self.db, &self.hubspot, portal, object_type, &[survivor.id]).await {
            // The merge stands at HubSpot; its webhook brings the survivor's links if this read failed.
            tracing::warn!(error = %err, portal, survivor = survivor.id, "reading a merged record's links failed");
        }
        for id in [primary, merged] {
            self.hubspot.forget(portal, &record(object_type, id)).await;
        }
        self.rescore(portal, "merge", &[(object_type, primary), (object_type, merged)]).await;
        Ok(survivor.id)
    }
}

impl Upstream for HubSpotUpstream {
    fn refresh_reference(&self, portal: i64, kind: Reference) -> Answer<bool> {
        let this = self.clone();
        Box::pin(async move {
            let kind = match kind {
                Reference::Owners => crate::sync::reference::Kind::Owners,
                Reference::Pipelines => crate::sync::reference::Kind::Pipelines,
                Reference::Properties => crate::sync::reference::Kind::Properties,
            };
            this.reference.refresh(&this.db, &this.hubspot, portal, kind).await.map_err(|err| match err {
                crate::sync::SyncError::HubSpot(err) => refused(err),
                crate::sync::SyncError::Db(err) => WriteError::from(err),
            })
        })
    }

    fn associate(&self, portal: i64, edge: Association, inverse: Option<Association>) -> Answer<()> {
        Box::pin(self.clone().associate(portal, edge, inverse))
    }

    fn association_labels(&self, portal: i64, from: ObjectType, to: ObjectType) -> Answer<Vec<AssociationType>> {
        Box::pin(self.clone().association_labels(portal, from, to))
    }

    fn dissociate(&self, portal: i64, from: (ObjectType, i64), to: (ObjectType, i64)) -> Answer<()> {
        Box::pin(self.clone().dissociate(portal, from, to))
    }

    fn merge(&self, portal: i64, object_type: ObjectType, primary: i64, merged: i64) -> Answer<i64> {
        Box::pin(self.clone().merge(portal, object_type, primary, merged))
    }

    fn fetch(&self, portal: i64, object_type: ObjectType, id: i64) -> Answer<Option<Source>> {
        Box::pin(self.clone().fetch(portal, object_type, id))
    }

    fn create(&self, portal: i64, object_type: ObjectType, new: NewRecord) -> Answer<i64> {
        Box::pin(self.clone().create(portal, object_type, new))
    }

    fn create_many(&self, portal: i64, object_type: ObjectType, new: Vec<NewRecord>) -> Answer<Vec<ItemAnswer<i64>>> {
        Box::pin(self.clone().create_many(portal, object_type, new))
    }

    fn update_many(
        &self,
        portal: i64,
        object_type: ObjectType,
        changes: Vec<(i64, Properties)>,
    ) -> Answer<Vec<ItemAnswer<()>>> {
        Box::pin(self.clone().update_many(portal, object_type, changes))
    }

    fn archive_many(&self, portal: i64, object_type: ObjectType, ids: Vec<i64>) -> Answer<()> {
        Box::pin(self.clone().archive_many(portal, object_type, ids))
    }

    fn update(&self, portal: i64, object_type: ObjectType, id: i64, properties: Properties) -> Answer<()> {
        Box::pin(self.clone().update(portal, object_type, id, properties))
    }

    fn archive(&self, portal: i64, object_type: ObjectType, id: i64) -> Answer<()> {
        Box::pin(self.clone().archive(portal, object_type, id))
    }
}
