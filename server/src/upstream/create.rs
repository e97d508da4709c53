//! Creates, made once. A create whose answer is lost (a timeout, a cut connection, a 5xx: HubSpot may have made
//! the record) is never sent again blindly: the record is looked for at HubSpot first, by a search on what the
//! create set and its creation time, and sent again only when HubSpot holds no such record. With an idempotency
//! key the claim (in the database) makes one request of all those sending the key do this, and a later one take
//! over a claim whose create ended without knowing.
//!
//! HubSpot's search index trails a create by a few seconds; the look-up waits [`HubSpotUpstream::search_lag`]
//! past the lost create before it searches.

use chrono::{DateTime, Utc};
use hubspot::{CrmObject, ObjectType};
use schema::upstream::{Link, NewRecord, Properties, UpstreamError, WriteError};
use serde_json::json;

use super::{HubSpotUpstream, associations, edges, record, record_call, refused};
use crate::{
    hubspot::{Call, HubSpotError},
    idempotency::Claim,
    mirror,
    sync::{properties::Asked, wire},
};

/// How often, and how many times, a create waits on another request creating with the same idempotency key.
const KEY_POLL: std::time::Duration = std::time::Duration::from_millis(100);
const KEY_POLLS: u32 = 100;
/// How many times one request sends a create, each after the last one's answer was lost and a look-up found
/// nothing.
const SENDS: u32 = 3;
/// HubSpot's clock may be behind ours: a record is looked for from this long before its create was first sent.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// Property filters a look-up uses besides the creation time (HubSpot takes 6 filters in a group).
const MATCHED: usize = 5;
/// The properties that tell records apart best, matched first.
const TELLING: [&str; 8] = ["email", "dealname", "name", "domain", "subject", "firstname", "lastname", "phone"];

/// A create that failed, and whether HubSpot may have made the record all the same.
struct Failed {
    error: WriteError,
    unknown: bool,
}

impl Failed {
    fn known(error: impl Into<WriteError>) -> Self {
        Self { error: error.into(), unknown: false }
    }

    fn unknown(error: HubSpotError) -> Self {
        Self { error: refused(error), unknown: true }
    }
}

/// The properties a look-up matches: set ones, the telling ones first. A value with `;` (several options of an
/// enumeration) is left out, since HubSpot may store its options in another order.
fn matched(properties: &Properties) -> Vec<(&str, &str)> {
    let set = properties.iter().filter_map(|(name, value)| Some((name.as_str(), value.as_deref()?)));
    let mut set: Vec<_> = set.filter(|(_, value)| !value.is_empty() && !value.contains(';')).collect();
    set.sort_by_key(|(name, _)| TELLING.iter().position(|t| t == name).unwrap_or(TELLING.len()));
    set.truncate(MATCHED);
    set
}

fn create_call(object_type: ObjectType, new: &NewRecord) -> Call {
    let body = json!({ "properties": new.properties, "associations": associations(&new.links) });
    Call::create(format!("/crm/v3/objects/{}", object_type.plural()), body)
}

impl HubSpotUpstream {
    /// A create, made once per idempotency key.
    pub(super) async fn create(self, portal: i64, object_type: ObjectType, new: NewRecord) -> Result<i64, WriteError> {
        let Some(key) = new.idempotency_key.clone() else {
            let object = self.create_at_hubspot(portal, object_type, &new, None).await.map_err(|f| f.error)?;
            return self.record_created(portal, object_type, object, &new.links).await;
        };
        for _ in 0..KEY_POLLS {
            match self.keys.claim(portal, object_type, &key).await? {
                Claim::Mine { since } => {
                    let object = match self.create_at_hubspot(portal, object_type, &new, since).await {
                        Ok(object) => object,
                        Err(failed) => {
                            if failed.unknown {
                                self.keys.abandon(portal, object_type, &key).await?;
                            } else {
                                self.keys.release(portal, object_type, &key).await?;
                            }
                            return Err(failed.error);
                        }
                    };
                    let id = object.id;
                    let recorded = self.record_created(portal, object_type, object, &new.links).await;
                    // HubSpot holds the record even if the mirror's write failed: the key notes it either way.
                    self.keys.finish(portal, object_type, &key, id).await?;
                    return recorded;
                }
                Claim::Created(id) => {
                    // Made through another replica, or before a restart: the mirror may not hold it yet.
                    if self.mirrored_version(portal, object_type, id).await?.is_none() {
                        self.clone().fetch(portal, object_type, id).await?;
                    }
                    return Ok(id);
                }
                Claim::Pending => tokio::time::sleep(KEY_POLL).await,
            }
        }
        Err(WriteError::KeyInUse)
    }

    /// Makes the record at HubSpot, or finds the one an earlier send made. `since`: an earlier create (another
    /// request's, with the same key) may have made it from then on, so it is looked for before anything is sent.
    async fn create_at_hubspot(
        &self,
        portal: i64,
        object_type: ObjectType,
        new: &NewRecord,
        since: Option<DateTime<Utc>>,
    ) -> Result<CrmObject, Failed> {
        let mut look_since = since;
        let first_sent = since.unwrap_or_else(Utc::now);
        let mut sends = 0;
        loop {
            if let Some(since) = look_since
                && let Some(found) = self.look_up(portal, object_type, &new.properties, since).await?
            {
                tracing::info!(portal, id = found.id, "a create whose answer was lost had made its record");
                return Ok(found);
            }
            sends += 1;
            match self.hubspot.send(portal, create_call(object_type, new)).await {
                // Made, but an answer we cannot read still leaves us not knowing which record.
                Ok(answer) => return wire::object(&answer).map_err(Failed::unknown),
                Err(err) if err.outcome_unknown() && sends < SENDS => {
                    tracing::warn!(portal, error = %err, "a create's answer was lost: looking for its record");
                    look_since = Some(first_sent);
                }
                Err(err) if err.outcome_unknown() => return Err(Failed::unknown(err)),
                Err(err) => return Err(Failed::known(refused(err))),
            }
        }
    }

    /// The live record of `object_type` created since `since` (less the clock skew) with `properties`' values,
    /// read whole; `Ok(None)` when HubSpot holds none. An error leaves the create's outcome unknown.
    async fn look_up(
        &self,
        portal: i64,
        object_type: ObjectType,
        properties: &Properties,
        since: DateTime<Utc>,
    ) -> Result<Option<CrmObject>, Failed> {
        let matched = matched(properties);
        if matched.is_empty() {
            // Creation time alone would match anyone's record: the outcome stays unknown.
            return Err(Failed {
                error: WriteError::HubSpot(UpstreamError {
                    status: None,
                    category: "OUTCOME_UNKNOWN".into(),
                    message: "an earlier create may have made this record, and it sets no property to find it by"
                        .into(),
                    correlation_id: None,
                    unavailable: true,
                }),
                unknown: true,
            });
        }
        let wait = (since + self.search_lag - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let created = if object_type.is_custom() { "hs_createdate" } else { "createdate" };
        let from = (since - CLOCK_SKEW).timestamp_millis().to_string();
        let mut filters = vec![json!({ "propertyName": created, "operator": "GTE", "value": from })];
        filters.extend(matched.iter().map(|(n, v)| json!({ "propertyName": n, "operator": "EQ", "value": v })));
        let body = json!({
            "filterGroups": [{ "filters": filters }],
            "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }],
            "properties": ["hs_object_id"],
            "limit": 1,
        });
        let path = format!("/crm/v3/objects/{}/search", object_type.plural());
        let found = self.hubspot.send(portal, Call::post(path, body)).await.map_err(Failed::unknown)?;
        let Some(id) = found["results"][0]["id"].as_str().and_then(|id| id.parse::<i64>().ok()) else {
            return Ok(None);
        };
        let asked = Asked::load(&self.db, portal, object_type).await.map_err(Failed::known)?;
        let read = self.hubspot.send(portal, record_call(object_type, id, &asked)).await.map_err(Failed::unknown)?;
        read["results"].get(0).map(wire::object).transpose().map_err(Failed::unknown)
    }

    /// HubSpot's new record, with its links, into the mirror; then its clients rescored.
    async fn record_created(
        &self,
        portal: i64,
        object_type: ObjectType,
        object: CrmObject,
        links: &[Link],
    ) -> Result<i64, WriteError> {
        let edges = edges(object.id, links);
        let now = Utc::now();
        let txn = crate::db::begin_write(&self.db).await?;
        mirror::upsert_objects(&txn, portal, object_type, std::slice::from_ref(&object), now).await?;
        mirror::upsert_associations(&txn, portal, &edges, now).await?;
        txn.commit().await?;
        // A read of the id before it existed may have been remembered as missing.
        self.hubspot.forget(portal, &record(object_type, object.id)).await;
        let mut touched = vec![(object_type, object.id)];
        touched.extend(links.iter().map(|link| (link.kind.to, link.to_id)));
        self.rescore(portal, "create", &touched).await;
        Ok(object.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_look_up_matches_the_telling_properties_first() {
        let properties: Properties = [
            ("amount", Some("12")),
            ("dealname", Some("Renewal")),
            ("hs_tag", Some("a;b")),
            ("pipeline", Some("default")),
            ("closedate", None),
            ("dealstage", Some("qualifiedtobuy")),
            ("description", Some("")),
            ("hubspot_owner_id", Some("7")),
            ("z_extra", Some("z")),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.map(str::to_owned)))
        .collect();
        let names: Vec<&str> = matched(&properties).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["dealname", "amount", "dealstage", "hubspot_owner_id", "pipeline"]);
    }
}
