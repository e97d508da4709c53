//! The backfill copies a portal from the simulator into the mirror (SQLite and Postgres): every live record with its
//! properties, both directions of every association, owners, pipelines and campaigns with their email statistics;
//! a killed backfill resumes from its saved cursor.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use entities::{association, campaign, contact, object_properties, owner, pipeline_stage, sync_state};
use generator::generate;
use hubspot::{ObjectType, Portal};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use server::{
    hubspot::credentials::Credentials,
    hubspot::{ClientSettings, HubSpot, PrivateApp},
    sync::{Progress, Schedule, Supervisor, backfill, is_complete, token_portal},
};
use tests::{
    Backend, TestDb, on_both,
    sim::{Running, SimConfig, limits::Chaos},
    small_spec,
};

const PORTAL: i64 = 100_001;

async fn simulator() -> Running {
    Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.expect("simulator")
}

fn client(sim: &Running, max_retries: usize) -> HubSpot {
    let settings = ClientSettings {
        base_url: sim.base_url(),
        max_retries,
        min_backoff: Duration::from_millis(10),
        ..ClientSettings::default()
    };
    HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())))
}

fn live(portal: &Portal, object_type: ObjectType) -> BTreeSet<i64> {
    portal.objects(object_type).iter().filter(|o| !o.archived).map(|o| o.id).collect()
}

/// The live records of every type the portal has: the built-in ones and its custom object types.
fn live_total(portal: &Portal) -> usize {
    let custom = portal.schemas.iter().map(|s| s.object_type);
    ObjectType::BUILT_IN.into_iter().chain(custom).map(|t| live(portal, t).len()).sum()
}

/// The mirror holds exactly the generated portal's live records, associations among them, owners, stages and
/// campaigns.
async fn assert_mirrors(db: &TestDb, portal: &Portal) {
    let contacts: BTreeSet<i64> = contact::Entity::find()
        .filter(contact::Column::PortalId.eq(PORTAL))
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.hubspot_id)
        .collect();
    assert_eq!(contacts, live(portal, ObjectType::Contact));
    let sample = portal.contacts.iter().find(|c| !c.archived).unwrap();
    let row = contact::Entity::find_by_id((PORTAL, sample.id)).one(&db.db).await.unwrap().unwrap();
    assert_eq!(row.email, sample.properties["email"].clone());
    assert_eq!(row.updated_at, sample.updated_at);
    let props = object_properties::Entity::find_by_id((PORTAL, "contact".to_owned(), sample.id))
        .one(&db.db)
        .await
        .unwrap()
        .expect("properties beside the row");
    let props: serde_json::Value = serde_json::from_str(&props.properties).unwrap();
    assert_eq!(props["lifecyclestage"], serde_json::json!(sample.properties["lifecyclestage"]));

    // Every generated edge between live records, in both directions, with HubSpot's type ids.
    let alive = |t: ObjectType, id: i64| live(portal, t).contains(&id);
    let expected: BTreeSet<(String, i64, String, i64, i32)> = portal
        .associations
        .iter()
        .filter(|a| alive(a.from_type, a.from_id) && alive(a.to_type, a.to_id))
        .map(|a| (a.from_type.singular().to_owned(), a.from_id, a.to_type.singular().to_owned(), a.to_id, a.type_id))
        .collect();
    let stored: BTreeSet<(String, i64, String, i64, i32)> = association::Entity::find()
        .filter(association::Column::PortalId.eq(PORTAL))
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.from_type, a.from_id, a.to_type, a.to_id, a.type_id))
        .collect();
    assert_eq!(stored, expected);

    let owners = owner::Entity::find().filter(owner::Column::PortalId.eq(PORTAL)).count(&db.db).await.unwrap();
    assert_eq!(owners as usize, portal.owners.len());
    let stages =
        pipeline_stage::Entity::find().filter(pipeline_stage::Column::PortalId.eq(PORTAL)).count(&db.db).await.unwrap();
    assert_eq!(stages as usize, portal.pipelines.iter().map(|p| p.stages.len()).sum::<usize>());
    let first = &portal.campaigns[0];
    let stored = campaign::Entity::find_by_id((PORTAL, first.id.clone())).one(&db.db).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.sent, stored.opened),
        (first.name.as_str(), first.stats.sent, first.stats.opened)
    );
}

on_both!(fills_the_mirror_from_hubspot, |backend: Backend| async move {
    let sim = simulator().await;
    let db = TestDb::migrated(backend).await;
    let hubspot = client(&sim, 3);
    assert_eq!(token_portal(&hubspot, sim.token()).await.unwrap(), PORTAL);
    let report = backfill(&db.db, &hubspot, PORTAL, false, &Progress::Quiet).await.expect("backfill");
    let portal = generate(&small_spec(PORTAL));
    let live_total = live_total(&portal);
    assert_eq!(report.objects as usize, live_total);
    assert_mirrors(&db, &portal).await;
    assert_eq!(sim.sim.stats().rate_limited, 0);

    let status = schema::build()
        .execute(
            async_graphql::Request::new("{ syncStatus { objectType objectsSynced done lastError } }")
                .data(schema::Scope::new(db.db.clone(), PORTAL, schema::Role::Reader)),
        )
        .await
        .into_result()
        .expect("syncStatus answers")
        .data
        .into_json()
        .unwrap();
    let contacts = status["syncStatus"].as_array().unwrap().iter().find(|s| s["objectType"] == "contact").unwrap();
    let expected = live(&portal, ObjectType::Contact).len();
    assert_eq!(
        contacts,
        &serde_json::json!({ "objectType": "contact", "objectsSynced": expected, "done": true, "lastError": null })
    );

    // Done types are not listed again; `--full` lists everything again.
    let again = backfill(&db.db, &hubspot, PORTAL, false, &Progress::Quiet).await.unwrap();
    assert_eq!(again.objects, 0);
    let full = backfill(&db.db, &hubspot, PORTAL, true, &Progress::Quiet).await.unwrap();
    assert_eq!(full.objects as usize, live_total);
});

on_both!(resumes_a_killed_backfill_where_it_stopped, |backend: Backend| async move {
    let sim = simulator().await;
    let db = TestDb::migrated(backend).await;
    // HubSpot goes away after 30 calls (14 read the reference data), and the client does not retry: the backfill
    // stops part-way.
    sim.sim.set_chaos(Chaos { pass_next: 30, fail_next: 1_000, ..Chaos::default() });
    let failed = backfill(&db.db, &client(&sim, 0), PORTAL, false, &Progress::Quiet).await;
    assert!(failed.is_err());
    let saved = sync_state::Entity::find().filter(sync_state::Column::PortalId.eq(PORTAL)).all(&db.db).await.unwrap();
    let done_before: i64 = saved.iter().map(|s| s.objects_synced).sum();
    assert!(done_before > 0, "some pages were committed before the failure");
    assert!(saved.iter().any(|s| s.last_error.as_deref().is_some_and(|e| e.contains("503"))), "{saved:?}");

    sim.sim.set_chaos(Chaos::default());
    let resumed = backfill(&db.db, &client(&sim, 3), PORTAL, false, &Progress::Quiet).await.expect("resumes");
    let portal = generate(&small_spec(PORTAL));
    let live_total = live_total(&portal);
    assert_eq!(resumed.objects as usize + done_before as usize, live_total, "no page was fetched twice");
    assert_mirrors(&db, &portal).await;
});

/// A supervisor whose sweeps and refreshes wait an hour: the test sees the backfill alone.
fn supervisor(sim: &Running, db: &TestDb) -> (Supervisor, Arc<Credentials>) {
    let credentials = Arc::new(Credentials::new(Some(sim.token().to_owned()), None));
    let settings = ClientSettings { base_url: sim.base_url(), ..ClientSettings::default() };
    let hubspot = HubSpot::new(settings, credentials.clone());
    let hour = Duration::from_secs(3600);
    let schedule = Schedule { reconcile: hour, reference: hour, ..Schedule::default() };
    (Supervisor::new(db.db.clone(), hubspot, None, schedule), credentials)
}

on_both!(start_up_backfills_the_private_apps_portal, |backend: Backend| async move {
    let sim = simulator().await;
    let db = TestDb::migrated(backend).await;
    let (supervisor, credentials) = supervisor(&sim, &db);
    supervisor.start(credentials.clone()).await;
    tests::wait_for("the backfill", 60, async || is_complete(&db.db, PORTAL).await.unwrap()).await;
    assert_eq!(credentials.private_portal(), Some(PORTAL), "the token's portal was asked once");
    assert_eq!(supervisor.supervised(), vec![PORTAL]);
    assert_mirrors(&db, &generate(&small_spec(PORTAL))).await;
    supervisor.stop(PORTAL);
    assert!(supervisor.supervised().is_empty());
});
