//! Reading associations from HubSpot (v4 batch read) as the mirror's rows, one per direction.
//!
//! HubSpot reports each direction of a link with its own type id. For its built-in types the other direction's id is
//! known ([`AssociationKind`]), so one read gives both rows. A portal's own labels (`USER_DEFINED`) are a pair of ids
//! the portal allocated, and the other direction may carry another label ("Billing contact" / "Billed company"):
//! those rows are read from the other end, never guessed.

use std::collections::{BTreeMap, BTreeSet};

use hubspot::{Association, AssociationKind, ObjectType};
use serde_json::{Value, json};

use crate::hubspot::{Call, HubSpot, HubSpotError};

/// HubSpot's cap on the inputs of one association batch read.
const BATCH: usize = 1_000;

/// One type of a link as HubSpot reported it from `from_id`'s side.
struct Reported {
    from_id: i64,
    to_id: i64,
    type_id: i32,
    category: String,
    label: Option<String>,
}

/// Both directions of the associations from `ids` (of `from`) to `to`.
pub(crate) async fn associations(
    hubspot: &HubSpot,
    portal: i64,
    from: ObjectType,
    to: ObjectType,
    ids: &[i64],
) -> Result<Vec<Association>, HubSpotError> {
    let mut out = Vec::new();
    // Targets linked by a type of the portal's own, and the records of `ids` they link back to.
    let mut labelled: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for link in read(hubspot, portal, from, to, ids).await? {
        let row = association(from, to, &link);
        match AssociationKind::by_type_id(link.type_id).filter(|k| k.from == from && k.to == to) {
            Some(kind) => {
                let mut inverse = kind.inverse().association(link.to_id, link.from_id);
                inverse.category = row.category.clone();
                inverse.label = row.label.clone();
                out.push(row);
                out.push(inverse);
            }
            None => {
                labelled.entry(link.to_id).or_default().insert(link.from_id);
                out.push(row);
            }
        }
    }
    if labelled.is_empty() {
        return Ok(out);
    }
    let targets: Vec<i64> = labelled.keys().copied().collect();
    for link in read(hubspot, portal, to, from, &targets).await? {
        let asked = labelled.get(&link.from_id).is_some_and(|back| back.contains(&link.to_id));
        let built_in = AssociationKind::by_type_id(link.type_id).is_some_and(|k| k.from == to && k.to == from);
        if asked && !built_in {
            out.push(association(to, from, &link));
        }
    }
    Ok(out)
}

/// Every row of the link between two records, both directions, as HubSpot holds it now.
pub(crate) async fn between(
    hubspot: &HubSpot,
    portal: i64,
    (from, from_id): (ObjectType, i64),
    (to, to_id): (ObjectType, i64),
) -> Result<Vec<Association>, HubSpotError> {
    let mut rows = associations(hubspot, portal, from, to, &[from_id]).await?;
    rows.retain(|a| (a.from_id, a.to_id) == (from_id, to_id) || (a.from_id, a.to_id) == (to_id, from_id));
    Ok(rows)
}

fn association(from: ObjectType, to: ObjectType, link: &Reported) -> Association {
    let primary = AssociationKind::by_type_id(link.type_id).is_some_and(|k| k.primary && k.from == from && k.to == to)
        || link.label.as_deref() == Some("Primary");
    Association {
        from_type: from,
        from_id: link.from_id,
        to_type: to,
        to_id: link.to_id,
        type_id: link.type_id,
        category: link.category.clone(),
        label: link.label.clone(),
        primary,
    }
}

/// HubSpot's answer to batch reads of `ids`' associations from `from` to `to`, one entry per type of each link.
async fn read(
    hubspot: &HubSpot,
    portal: i64,
    from: ObjectType,
    to: ObjectType,
    ids: &[i64],
) -> Result<Vec<Reported>, HubSpotError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id.to_string() })).collect();
        let path = format!("/crm/v4/associations/{}/{}/batch/read", from.plural(), to.plural());
        let body = hubspot.send(portal, Call::post(path, json!({ "inputs": inputs }))).await?;
        out.extend(parse(&body));
    }
    Ok(out)
}

fn parse(body: &Value) -> Vec<Reported> {
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
                out.push(Reported {
                    from_id,
                    to_id,
                    type_id,
                    category: t["category"].as_str().unwrap_or("HUBSPOT_DEFINED").to_owned(),
                    label: t["label"].as_str().map(str::to_owned),
                });
            }
        }
    }
    out
}
