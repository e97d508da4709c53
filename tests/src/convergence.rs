//! The convergence checker: does the mirror hold exactly what the simulator holds? The same live records with the
//! same properties, and the same associations between them, for the built-in types and the portal's custom ones.

use std::collections::{BTreeMap, BTreeSet};

use entities::{association, object_properties};
use hubspot::ObjectType;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, Query},
};

use crate::sim::Shared;

type Edge = (String, i64, String, i64, i32);

/// Every difference between the mirror and the simulator's `portal`, described; empty when they agree.
pub async fn differences(db: &DatabaseConnection, sim: &Shared, portal: i64) -> Vec<String> {
    let mut out = Vec::new();
    let (sim_records, sim_edges) = {
        let world = sim.world.lock().expect("simulator state");
        let state = &world.portals[&portal];
        let custom = state.schemas.iter().filter(|s| !s.archived).map(|s| s.object_type);
        let records: BTreeMap<ObjectType, BTreeMap<i64, BTreeMap<String, Option<String>>>> = ObjectType::BUILT_IN
            .into_iter()
            .chain(custom)
            .map(|t| {
                let live = state.records(t).values().filter(|r| !r.object.archived);
                (t, live.map(|r| (r.object.id, r.object.properties.clone())).collect())
            })
            .collect();
        let live = |t: ObjectType, id: i64| records.get(&t).is_some_and(|ids| ids.contains_key(&id));
        let edges: BTreeSet<Edge> = state
            .associations
            .iter()
            .filter(|((ft, fid, tt, tid), _)| live(*ft, *fid) && live(*tt, *tid))
            .flat_map(|((ft, fid, tt, tid), types)| {
                types.iter().map(|t| (ft.singular().to_owned(), *fid, tt.singular().to_owned(), *tid, t.type_id))
            })
            .collect();
        (records, edges)
    };
    let mut mirror_live: BTreeMap<ObjectType, BTreeSet<i64>> = BTreeMap::new();
    let types: Vec<ObjectType> = sim_records.keys().copied().collect();
    for object_type in types {
        let live = live_ids(db, portal, object_type).await;
        let expected: BTreeSet<i64> = sim_records[&object_type].keys().copied().collect();
        for id in expected.difference(&live) {
            out.push(format!("{} {id} is live at HubSpot, not in the mirror", object_type.singular()));
        }
        for id in live.difference(&expected) {
            out.push(format!("{} {id} is live in the mirror, not at HubSpot", object_type.singular()));
        }
        let rows = object_properties::Entity::find()
            .filter(object_properties::Column::PortalId.eq(portal))
            .filter(object_properties::Column::ObjectType.eq(object_type.singular()))
            .all(db)
            .await
            .expect("reading properties");
        let compared: Vec<&str> = generator::generated_properties(object_type)
            .iter()
            .copied()
            .filter(|p| *p != object_type.last_modified_property())
            .collect();
        for row in rows.into_iter().filter(|r| expected.contains(&r.hubspot_id) && live.contains(&r.hubspot_id)) {
            let held: BTreeMap<String, Option<String>> = serde_json::from_str(&row.properties).unwrap_or_default();
            let truth = &sim_records[&object_type][&row.hubspot_id];
            for name in &compared {
                let norm = |v: Option<&Option<String>>| v.cloned().flatten().filter(|s| !s.is_empty());
                let (h, t) = (norm(held.get(*name)), norm(truth.get(*name)));
                if h != t {
                    out.push(format!(
                        "{} {} {name}: mirror {h:?}, HubSpot {t:?}",
                        object_type.singular(),
                        row.hubspot_id
                    ));
                }
            }
        }
        mirror_live.insert(object_type, live);
    }
    let live = |t: &str, id: i64| mirror_live.iter().any(|(o, ids)| o.singular() == t && ids.contains(&id));
    let mirror_edges: BTreeSet<Edge> = association::Entity::find()
        .filter(association::Column::PortalId.eq(portal))
        .all(db)
        .await
        .expect("reading associations")
        .into_iter()
        .filter(|a| live(&a.from_type, a.from_id) && live(&a.to_type, a.to_id))
        .map(|a| (a.from_type, a.from_id, a.to_type, a.to_id, a.type_id))
        .collect();
    for edge in sim_edges.difference(&mirror_edges) {
        out.push(format!("association {edge:?} is at HubSpot, not in the mirror"));
    }
    for edge in mirror_edges.difference(&sim_edges) {
        out.push(format!("association {edge:?} is in the mirror, not at HubSpot"));
    }
    out
}

/// Ids of the mirror's live records of a type: not archived, not merged away.
async fn live_ids(db: &DatabaseConnection, portal: i64, object_type: ObjectType) -> BTreeSet<i64> {
    let select = Query::select()
        .column(Alias::new("hubspot_id"))
        .from(server::mirror::schemas::table(object_type))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("archived_at")).is_null())
        .and_where(Expr::col(Alias::new("merged_into")).is_null())
        .and_where_option(server::mirror::schemas::of_type(object_type))
        .to_owned();
    db.query_all(&select)
        .await
        .expect("reading ids")
        .into_iter()
        .map(|row| row.try_get::<i64>("", "hubspot_id").expect("an id"))
        .collect()
}
