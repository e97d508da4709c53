//! The schema's way to HubSpot for writes: each goes through the upstream client (rate limit, retries on 429 and
//! 5xx only, timeouts), then HubSpot's answer goes into the mirror, so the next query sees it. The webhook
//! HubSpot sends about the same change then finds nothing newer to apply.

use chrono::Utc;
use generator::{AssociationKind, ObjectType};
use schema::upstream::{Answer, Link, Properties, Upstream, UpstreamError, WriteError};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use crate::{
    hubspot::{Call, HubSpot, HubSpotError},
    mirror::{self, events},
    sync::wire,
};

#[derive(Clone)]
pub struct Writes {
    pub db: DatabaseConnection,
    pub hubspot: HubSpot,
}

fn refused(err: HubSpotError) -> WriteError {
    WriteError::HubSpot(UpstreamError {
        unavailable: err.retryable(),
        status: err.status,
        category: err.category,
        message: err.message,
        correlation_id: err.correlation_id,
    })
}

/// The association type a new link gets; the schema only asks for pairs HubSpot has a type for.
fn kind(from: ObjectType, to: ObjectType) -> AssociationKind {
    AssociationKind::default_between(from, to).expect("the schema checks that the two types can be associated")
}

impl Writes {
    async fn create(
        self,
        portal: i64,
        object_type: ObjectType,
        properties: Properties,
        links: Vec<Link>,
    ) -> Result<i64, WriteError> {
        let associations: Vec<_> = links
            .iter()
            .map(|link| {
                let type_id = kind(object_type, link.to_type).type_id;
                json!({ "to": { "id": link.to_id.to_string() },
                        "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id }] })
            })
            .collect();
        let body = json!({ "properties": properties, "associations": associations });
        let call = Call::post(format!("/crm/v3/objects/{}", object_type.plural()), body);
        let answer = self.hubspot.send(portal, call).await.map_err(refused)?;
        let object = wire::object(&answer).map_err(refused)?;
        let mut edges = Vec::new();
        for link in &links {
            let kind = kind(object_type, link.to_type);
            edges.extend([kind.association(object.id, link.to_id), kind.inverse().association(link.to_id, object.id)]);
        }
        let now = Utc::now();
        let txn = self.db.begin().await?;
        mirror::upsert_objects(&txn, portal, object_type, std::slice::from_ref(&object), now).await?;
        mirror::upsert_associations(&txn, portal, &edges, now).await?;
        txn.commit().await?;
        Ok(object.id)
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
        // Each property HubSpot answered with dates from the answer's `updatedAt`, as its webhook will say.
        let at = object.updated_at.timestamp_millis();
        let changes = object
            .properties
            .iter()
            .map(|(name, value)| events::Change { name: name.clone(), value: value.clone(), occurred_ms: at })
            .collect();
        let txn = self.db.begin().await?;
        let missing = events::set_properties(&txn, portal, object_type, &[(id, changes)]).await?;
        if !missing.is_empty() {
            mirror::upsert_objects(&txn, portal, object_type, std::slice::from_ref(&object), Utc::now()).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    async fn archive(self, portal: i64, object_type: ObjectType, id: i64) -> Result<(), WriteError> {
        let call = Call::delete(format!("/crm/v3/objects/{}/{id}", object_type.plural()));
        self.hubspot.send(portal, call).await.map_err(refused)?;
        events::tombstone(&self.db, portal, object_type, id, Utc::now().timestamp_millis()).await?;
        Ok(())
    }
}

impl Upstream for Writes {
    fn create(&self, portal: i64, object_type: ObjectType, properties: Properties, links: Vec<Link>) -> Answer<i64> {
        Box::pin(self.clone().create(portal, object_type, properties, links))
    }

    fn update(&self, portal: i64, object_type: ObjectType, id: i64, properties: Properties) -> Answer<()> {
        Box::pin(self.clone().update(portal, object_type, id, properties))
    }

    fn archive(&self, portal: i64, object_type: ObjectType, id: i64) -> Answer<()> {
        Box::pin(self.clone().archive(portal, object_type, id))
    }
}
