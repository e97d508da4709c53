//! Batch writes: up to 100 records in one HubSpot call. Each input carries its position as `objectWriteTraceId`,
//! which HubSpot returns on the input's result, or in its error's `context` when it answers 207, so every outcome
//! finds its input. What HubSpot wrote is in the mirror, in one transaction, before the call returns.

use chrono::Utc;
use hubspot::{CrmObject, ObjectType};
use schema::upstream::{ItemAnswer, NewRecord, Properties, UpstreamError, WriteError};
use serde_json::{Value, json};

use super::{HubSpotUpstream, associations, changes, edges, record, refused, sets_scored};
use crate::{
    hubspot::{Call, HubSpotError},
    mirror::{self, events},
    sync::wire,
};

fn batch_call(object_type: ObjectType, operation: &str, inputs: Vec<Value>) -> Call {
    let call =
        Call::post(format!("/crm/v3/objects/{}/batch/{operation}", object_type.plural()), json!({ "inputs": inputs }));
    // A batch create whose answer was lost is not sent again: the client hears HubSpot was unavailable.
    Call { once: operation == "create", ..call }
}

/// The input position a trace id names.
fn position(trace: &Value) -> Option<usize> {
    trace.as_str()?.parse().ok()
}

/// HubSpot's batch answer, one outcome per input in input order. A result without a trace id is matched by the
/// record id the input named (`ids`, for updates).
fn per_input(answer: &Value, ids: &[i64], n: usize) -> Result<Vec<ItemAnswer<CrmObject>>, HubSpotError> {
    let mut outcomes: Vec<Option<ItemAnswer<CrmObject>>> = (0..n).map(|_| None).collect();
    for result in answer["results"].as_array().into_iter().flatten() {
        let object = wire::object(result)?;
        let at = position(&result["objectWriteTraceId"]).or_else(|| ids.iter().position(|id| *id == object.id));
        if let Some(slot) = at.and_then(|at| outcomes.get_mut(at)) {
            *slot = Some(Ok(object));
        }
    }
    for error in answer["errors"].as_array().into_iter().flatten() {
        let at = position(&error["context"]["objectWriteTraceId"][0]);
        if let Some(slot) = at.and_then(|at| outcomes.get_mut(at)) {
            *slot = Some(Err(UpstreamError {
                status: Some(207),
                category: error["category"].as_str().unwrap_or("UNKNOWN").to_owned(),
                message: error["message"].as_str().unwrap_or("HubSpot refused this input").to_owned(),
                correlation_id: answer["correlationId"].as_str().map(str::to_owned),
                unavailable: false,
            }));
        }
    }
    Ok(outcomes.into_iter().map(|o| o.unwrap_or_else(|| Err(UpstreamError::no_answer()))).collect())
}

impl HubSpotUpstream {
    pub(super) async fn create_many(
        self,
        portal: i64,
        object_type: ObjectType,
        new: Vec<NewRecord>,
    ) -> Result<Vec<ItemAnswer<i64>>, WriteError> {
        let inputs = new
            .iter()
            .enumerate()
            .map(|(n, record)| {
                json!({ "properties": record.properties, "associations": associations(&record.links),
                        "objectWriteTraceId": n.to_string() })
            })
            .collect();
        let answer = self.hubspot.send(portal, batch_call(object_type, "create", inputs)).await.map_err(refused)?;
        let outcomes = per_input(&answer, &[], new.len()).map_err(refused)?;
        let objects: Vec<CrmObject> = outcomes.iter().filter_map(|o| o.as_ref().ok().cloned()).collect();
        let links = outcomes
            .iter()
            .zip(&new)
            .filter_map(|(outcome, record)| Some(edges(outcome.as_ref().ok()?.id, &record.links)))
            .flatten()
            .collect::<Vec<_>>();
        let now = Utc::now();
        let txn = crate::db::begin_write(&self.db).await?;
        mirror::upsert_objects(&txn, portal, object_type, &objects, now).await?;
        mirror::upsert_associations(&txn, portal, &links, now).await?;
        txn.commit().await?;
        for object in &objects {
            // A read of the id before it existed may have been remembered as missing.
            self.hubspot.forget(portal, &record(object_type, object.id)).await;
        }
        let mut touched: Vec<(ObjectType, i64)> = objects.iter().map(|o| (object_type, o.id)).collect();
        touched.extend(links.iter().map(|edge| (edge.to_type, edge.to_id)));
        self.rescore(portal, "createMany", &touched).await;
        Ok(outcomes.into_iter().map(|o| o.map(|object| object.id)).collect())
    }

    pub(super) async fn update_many(
        self,
        portal: i64,
        object_type: ObjectType,
        changed: Vec<(i64, Properties)>,
    ) -> Result<Vec<ItemAnswer<()>>, WriteError> {
        let ids: Vec<i64> = changed.iter().map(|(id, _)| *id).collect();
        let inputs = changed
            .iter()
            .enumerate()
            .map(|(n, (id, properties))| {
                json!({ "id": id.to_string(), "properties": properties, "objectWriteTraceId": n.to_string() })
            })
            .collect();
        let answer = self.hubspot.send(portal, batch_call(object_type, "update", inputs)).await.map_err(refused)?;
        let outcomes = per_input(&answer, &ids, ids.len()).map_err(refused)?;
        let updated: Vec<&CrmObject> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        let records: Vec<(i64, Vec<events::Change>)> = updated.iter().map(|o| (o.id, changes(o))).collect();
        let txn = crate::db::begin_write(&self.db).await?;
        let missing = events::set_properties(&txn, portal, object_type, &records).await?;
        if !missing.is_empty() {
            let objects: Vec<CrmObject> =
                updated.iter().filter(|o| missing.contains(&o.id)).map(|o| (*o).clone()).collect();
            mirror::upsert_objects(&txn, portal, object_type, &objects, Utc::now()).await?;
        }
        txn.commit().await?;
        for object in &updated {
            self.hubspot.forget(portal, &record(object_type, object.id)).await;
        }
        let scored: Vec<i64> =
            changed.iter().filter(|(_, properties)| sets_scored(object_type, properties)).map(|(id, _)| *id).collect();
        let touched: Vec<(ObjectType, i64)> =
            updated.iter().filter(|o| scored.contains(&o.id)).map(|o| (object_type, o.id)).collect();
        self.rescore(portal, "updateMany", &touched).await;
        Ok(outcomes.into_iter().map(|o| o.map(|_| ())).collect())
    }

    /// HubSpot's batch archive answers 204 for the lot, ids it did not hold included.
    pub(super) async fn archive_many(
        self,
        portal: i64,
        object_type: ObjectType,
        ids: Vec<i64>,
    ) -> Result<(), WriteError> {
        let inputs = ids.iter().map(|id| json!({ "id": id.to_string() })).collect();
        self.hubspot.send(portal, batch_call(object_type, "archive", inputs)).await.map_err(refused)?;
        let at = Utc::now().timestamp_millis();
        let txn = crate::db::begin_write(&self.db).await?;
        let deleted: Vec<(i64, i64)> = ids.iter().map(|id| (*id, at)).collect();
        events::tombstone(&txn, portal, object_type, &deleted).await?;
        txn.commit().await?;
        for id in &ids {
            self.hubspot.forget(portal, &record(object_type, *id)).await;
        }
        let touched: Vec<(ObjectType, i64)> = ids.iter().map(|id| (object_type, *id)).collect();
        self.rescore(portal, "archiveMany", &touched).await;
        Ok(())
    }
}
