//! Applying the event log: the newest change wins per property whatever the order, duplicates apply once, and
//! creation, deletion, merge, association change and GDPR erasure leave the mirror as HubSpot holds it. Changes
//! are made at the simulator, as in HubSpot's UI, and their events delivered by hand.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entities::{association, contact, deal, object_properties, webhook_event};
use generator::generate;
use hubspot::ObjectType;
use reqwest::{Client, Method};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use server::{
    hubspot::{CircuitSettings, ClientSettings, HubSpot, PrivateApp},
    webhooks::{
        WebhookStats,
        apply::{Applier, ApplierSettings, Pass},
        event::parse_batch,
        log,
    },
};
use tests::{
    Backend, TestDb, on_both,
    sim::{Running, SimConfig},
    small_spec, synced_mirror,
};

const PORTAL: i64 = 100_001;

struct World {
    sim: Running,
    db: TestDb,
    applier: Applier,
    /// Where the applier's rescoring is counted.
    metrics: server::metrics::Metrics,
    next_event: i64,
}

impl World {
    /// A simulated portal, backfilled into a fresh mirror.
    async fn new(backend: Backend) -> Self {
        // The circuit stays closed however HubSpot fails: these tests replay at once when it is back (see
        // `circuit.rs` for the circuit's own behaviour).
        let circuit = CircuitSettings { failures: u32::MAX, ..CircuitSettings::default() };
        let settings = ClientSettings {
            min_backoff: Duration::from_millis(10),
            max_retries: 1,
            circuit,
            ..ClientSettings::default()
        };
        let (sim, db, hubspot) = synced_mirror(backend, PORTAL, settings).await;
        let metrics = server::metrics::Metrics::default();
        let applier = Applier {
            db: db.db.clone(),
            hubspot: Some(hubspot),
            stats: WebhookStats::default(),
            settings: ApplierSettings { min_backoff: Duration::ZERO, ..ApplierSettings::default() },
            health: Some(server::health::Health {
                rescored: metrics.health_clients_rescored.clone(),
                ..server::health::Health::new(db.db.clone(), Default::default())
            }),
            reference: Default::default(),
        };
        Self { sim, db, applier, metrics, next_event: 1 }
    }

    /// A change made straight at HubSpot (the simulator).
    async fn at_hubspot(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request =
            Client::new().request(method, format!("{}{path}", self.sim.base_url())).bearer_auth(self.sim.token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// An event as HubSpot would send it.
    fn event(&mut self, kind: &str, object: i64, occurred_at: i64, extra: Value) -> Value {
        self.next_event += 1;
        let mut event = json!({ "eventId": self.next_event, "subscriptionId": 1, "portalId": PORTAL, "appId": 1,
            "occurredAt": occurred_at, "subscriptionType": kind, "objectId": object, "attemptNumber": 0 });
        event.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        event
    }

    async fn deliver(&self, events: &[Value]) {
        let batch = parse_batch(&serde_json::to_vec(events).unwrap()).unwrap();
        log::append(&self.db.db, "test", batch).await.unwrap();
    }

    /// `gateway_health_clients_rescored_total` as `/metrics` shows it.
    fn rescored(&self) -> u64 {
        let text = self.metrics.render();
        text.lines()
            .find_map(|l| l.strip_prefix("gateway_health_clients_rescored_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("the rescoring counter in {text}"))
    }

    async fn contact(&self, id: i64) -> Option<contact::Model> {
        contact::Entity::find_by_id((PORTAL, id)).one(&self.db.db).await.unwrap()
    }

    async fn links(&self, from_type: &str, from: i64, to_type: &str) -> Vec<i64> {
        let mut ids: Vec<i64> = association::Entity::find()
            .filter(association::Column::PortalId.eq(PORTAL))
            .filter(association::Column::FromType.eq(from_type))
            .filter(association::Column::FromId.eq(from))
            .filter(association::Column::ToType.eq(to_type))
            .all(&self.db.db)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.to_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

on_both!(the_newest_change_wins_per_property_and_duplicates_apply_once, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    let id = generate(&small_spec(PORTAL)).contacts.iter().find(|c| !c.archived).unwrap().id;
    let t = now_ms();
    let newer = world.event(
        "contact.propertyChange",
        id,
        t + 2_000,
        json!({ "propertyName": "firstname", "propertyValue": "Newer" }),
    );
    let older = world.event(
        "contact.propertyChange",
        id,
        t + 1_000,
        json!({ "propertyName": "firstname", "propertyValue": "Older" }),
    );
    let other = world.event(
        "contact.propertyChange",
        id,
        t + 1_000,
        json!({ "propertyName": "lastname", "propertyValue": "Other" }),
    );
    let stale =
        world.event("contact.propertyChange", id, 1_000, json!({ "propertyName": "city", "propertyValue": "Stale" }));
    let before = world.contact(id).await.unwrap();

    world.deliver(&[newer.clone(), stale]).await;
    assert_eq!(world.applier.drain().await.unwrap(), Pass { applied: 2, ..Pass::default() });
    // Later deliveries: an older change of the same property, another property, and HubSpot's retry of the first.
    world.deliver(&[older, other, newer]).await;
    assert_eq!(world.applier.drain().await.unwrap().applied, 2, "the retry was never stored twice");

    let after = world.contact(id).await.unwrap();
    assert_eq!(after.firstname.as_deref(), Some("Newer"), "the older change arrived last and lost");
    assert_eq!(after.lastname.as_deref(), Some("Other"));
    assert_eq!(after.city, before.city, "a change older than the mirrored version is ignored");
    assert_eq!(after.email, before.email);
    assert!(after.search_text.contains("newer"), "derived columns follow: {}", after.search_text);
    let properties = object_properties::Entity::find_by_id((PORTAL, "contact".to_owned(), id))
        .one(&world.db.db)
        .await
        .unwrap()
        .unwrap();
    assert!(properties.properties.contains("\"firstname\":\"Newer\""), "{}", properties.properties);
    assert_eq!(world.applier.drain().await.unwrap(), Pass::default(), "nothing is applied twice");
});

on_both!(creation_association_and_deletion_follow_hubspot, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    let portal = generate(&small_spec(PORTAL));
    let company = portal.companies.iter().find(|c| !c.archived).unwrap().id;
    let created = world
        .at_hubspot(
            Method::POST,
            "/crm/v3/objects/contacts",
            Some(json!({ "properties": { "email": "new@example.com", "firstname": "Nova" } })),
        )
        .await;
    let id: i64 = created["id"].as_str().unwrap().parse().unwrap();
    world
        .at_hubspot(
            Method::PUT,
            &format!("/crm/v4/objects/contacts/{id}/associations/default/companies/{company}"),
            None,
        )
        .await;
    let t = now_ms();
    // HubSpot sends the association from both sides, and may send them before the creation.
    let events = [
        world.event("contact.associationChange", id, t, json!({ "associationType": "CONTACT_TO_COMPANY", "fromObjectId": id, "toObjectId": company, "associationRemoved": false, "isPrimaryAssociation": true })),
        world.event("company.associationChange", company, t, json!({ "associationType": "COMPANY_TO_CONTACT", "fromObjectId": company, "toObjectId": id, "associationRemoved": false, "isPrimaryAssociation": false })),
        world.event("contact.creation", id, t - 10, json!({ "changeFlag": "CREATED" })),
    ];
    world.deliver(&events).await;
    let pass = world.applier.drain().await.unwrap();
    let log = webhook_event::Entity::find().all(&world.db.db).await.unwrap();
    assert_eq!(pass.applied, 3, "{pass:?} {:?}", log.iter().map(|e| (&e.state, &e.last_error)).collect::<Vec<_>>());
    let contact = world.contact(id).await.expect("the created contact was read from HubSpot");
    assert_eq!((contact.email.as_deref(), contact.firstname.as_deref()), (Some("new@example.com"), Some("Nova")));
    assert_eq!(world.links("contact", id, "company").await, vec![company]);
    assert!(world.links("company", company, "contact").await.contains(&id));

    // The link removed, then the deal deleted.
    world
        .at_hubspot(Method::DELETE, &format!("/crm/v4/objects/contacts/{id}/associations/companies/{company}"), None)
        .await;
    let deal = portal.deals.iter().find(|d| !d.archived).unwrap().id;
    world.at_hubspot(Method::DELETE, &format!("/crm/v3/objects/deals/{deal}"), None).await;
    let t = now_ms();
    let events = [
        world.event("contact.associationChange", id, t, json!({ "associationType": "CONTACT_TO_COMPANY", "fromObjectId": id, "toObjectId": company, "associationRemoved": true })),
        world.event("deal.deletion", deal, t, json!({ "changeFlag": "DELETED" })),
    ];
    world.deliver(&events).await;
    world.applier.drain().await.unwrap();
    assert!(world.links("contact", id, "company").await.is_empty());
    assert!(!world.links("company", company, "contact").await.contains(&id));
    let row = deal::Entity::find_by_id((PORTAL, deal)).one(&world.db.db).await.unwrap().unwrap();
    assert!(row.archived_at.is_some(), "deleted at HubSpot: a tombstone in the mirror");

    // Restored from HubSpot's recycle bin: the deal is read again and lives.
    world
        .sim
        .sim
        .world
        .lock()
        .unwrap()
        .portals
        .get_mut(&PORTAL)
        .unwrap()
        .restore(hubspot::ObjectType::Deal, deal, Utc::now())
        .unwrap();
    let restore = world.event("deal.restore", deal, now_ms(), json!({}));
    world.deliver(&[restore]).await;
    assert_eq!(world.applier.drain().await.unwrap().applied, 1);
    let row = deal::Entity::find_by_id((PORTAL, deal)).one(&world.db.db).await.unwrap().unwrap();
    assert!(row.archived_at.is_none(), "restored");
});

on_both!(merge_and_privacy_deletion_leave_the_mirror_as_hubspot_would, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    let contacts: Vec<i64> =
        generate(&small_spec(PORTAL)).contacts.iter().filter(|c| !c.archived).map(|c| c.id).collect();
    let (primary, absorbed, erased) = (contacts[0], contacts[1], contacts[2]);
    let survivor = world
        .at_hubspot(
            Method::POST,
            "/crm/v3/objects/contacts/merge",
            Some(json!({ "primaryObjectId": primary.to_string(), "objectIdToMerge": absorbed.to_string() })),
        )
        .await;
    let survivor: i64 = survivor["id"].as_str().unwrap().parse().unwrap();
    let t = now_ms();
    let merge = world.event("contact.merge", primary, t, json!({ "primaryObjectId": primary, "mergedObjectIds": [absorbed], "newObjectId": survivor, "numberOfPropertiesMoved": 3 }));
    world.deliver(&[merge]).await;
    assert_eq!(world.applier.drain().await.unwrap().applied, 1);
    let absorbed = world.contact(absorbed).await.unwrap();
    assert_eq!(absorbed.merged_into, Some(survivor));
    assert!(absorbed.archived_at.is_some());
    assert!(world.contact(survivor).await.unwrap().archived_at.is_none());

    // GDPR: an earlier change of the contact is in the log; the erasure comes with a deletion, in any order.
    let email = world.contact(erased).await.unwrap().email.unwrap();
    let change = world.event(
        "contact.propertyChange",
        erased,
        t,
        json!({ "propertyName": "email", "propertyValue": email.clone() }),
    );
    world.deliver(&[change]).await;
    world.applier.drain().await.unwrap();
    world
        .at_hubspot(
            Method::POST,
            "/crm/v3/objects/contacts/gdpr-delete",
            Some(json!({ "objectId": erased.to_string() })),
        )
        .await;
    let events = [
        world.event("contact.deletion", erased, t + 5, json!({})),
        world.event("contact.privacyDeletion", erased, t + 5, json!({})),
    ];
    world.deliver(&events).await;
    world.applier.drain().await.unwrap();
    assert!(world.contact(erased).await.is_none(), "erased, not archived");
    assert!(world.links("contact", erased, "company").await.is_empty());
    let edges_to = association::Entity::find()
        .filter(association::Column::ToType.eq("contact"))
        .filter(association::Column::ToId.eq(erased))
        .count(&world.db.db)
        .await
        .unwrap();
    assert_eq!(edges_to, 0);
    let logged = webhook_event::Entity::find()
        .filter(webhook_event::Column::ObjectId.eq(erased))
        .all(&world.db.db)
        .await
        .unwrap();
    assert!(!logged.is_empty());
    for event in logged {
        assert!(!event.payload.to_string().contains(&email), "the log keeps no personal data: {}", event.payload);
    }
});

on_both!(one_pass_tombstones_and_merges_many_records, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    let portal = generate(&small_spec(PORTAL));
    let deals: Vec<i64> = portal.deals.iter().filter(|d| !d.archived).map(|d| d.id).take(5).collect();
    let contacts: Vec<i64> = portal.contacts.iter().filter(|c| !c.archived).map(|c| c.id).take(4).collect();
    let mut survivors = Vec::new();
    for pair in contacts.chunks(2) {
        let body = json!({ "primaryObjectId": pair[0].to_string(), "objectIdToMerge": pair[1].to_string() });
        let survivor = world.at_hubspot(Method::POST, "/crm/v3/objects/contacts/merge", Some(body)).await;
        survivors.push(survivor["id"].as_str().unwrap().parse::<i64>().unwrap());
    }
    for deal in &deals[..4] {
        world.at_hubspot(Method::DELETE, &format!("/crm/v3/objects/deals/{deal}"), None).await;
    }
    // Four deals deleted at different times, the first twice (the earlier deletion is the one that archives it);
    // two merges. One delivery, one pass.
    let t = now_ms();
    let mut events: Vec<Value> =
        deals[..4].iter().zip(1..).map(|(deal, i)| world.event("deal.deletion", *deal, t + i, json!({}))).collect();
    events.push(world.event("deal.deletion", deals[0], t + 9, json!({})));
    for (pair, survivor) in contacts.chunks(2).zip(&survivors) {
        let merge = json!({ "primaryObjectId": pair[0], "mergedObjectIds": [pair[1]], "newObjectId": survivor });
        events.push(world.event("contact.merge", pair[0], t, merge));
    }
    world.deliver(&events).await;
    let pass = world.applier.pass().await.unwrap();
    assert_eq!(pass, Pass { applied: events.len() as u64, ..Pass::default() });
    let deal = |id: i64| {
        let db = world.db.db.clone();
        async move { deal::Entity::find_by_id((PORTAL, id)).one(&db).await.unwrap().unwrap() }
    };
    for (id, i) in deals[..4].iter().zip(1..) {
        let at = chrono::DateTime::from_timestamp_millis(t + i).unwrap();
        assert_eq!(deal(*id).await.archived_at, Some(at), "deal {id}, deleted at t + {i}");
    }
    assert_eq!(deal(deals[4]).await.archived_at, None, "not deleted");
    for (pair, survivor) in contacts.chunks(2).zip(&survivors) {
        let absorbed = pair.iter().find(|id| *id != survivor).copied().unwrap();
        let absorbed = world.contact(absorbed).await.unwrap();
        assert_eq!(absorbed.merged_into, Some(*survivor));
        assert!(absorbed.archived_at.is_some());
        assert!(world.contact(*survivor).await.unwrap().archived_at.is_none());
    }
});

on_both!(an_event_that_keeps_failing_goes_dead_with_its_reason, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    world.applier.settings.max_attempts = 3;
    world.sim.sim.set_chaos(tests::sim::limits::Chaos { fail_next: 1_000, ..Default::default() });
    let creation = world.event("contact.creation", 999_999_999, now_ms(), json!({}));
    world.deliver(&[creation]).await;
    let mut total = Pass::default();
    for _ in 0..3 {
        let pass = world.applier.pass().await.unwrap();
        total.retried += pass.retried;
        total.dead += pass.dead;
    }
    assert_eq!(total, Pass { applied: 0, retried: 2, dead: 1 });
    let dead = webhook_event::Entity::find().one(&world.db.db).await.unwrap().unwrap();
    assert_eq!((dead.state.as_str(), dead.attempts), ("dead", 3));
    assert!(dead.last_error.as_deref().unwrap().contains("503"), "{:?}", dead.last_error);
    assert_eq!(world.applier.stats.dead.load(std::sync::atomic::Ordering::Relaxed), 1);

    // An operator lists dead events and replays them once HubSpot is back.
    let graphql = |query: &'static str| {
        let request = async_graphql::Request::new(query).data(schema::Scope::new(
            world.db.db.clone(),
            PORTAL,
            schema::Role::Admin,
        ));
        async move { serde_json::to_value(schema::build().execute(request).await).unwrap() }
    };
    let listed = graphql("{ webhookEvents(state: DEAD) { id subscriptionType attempts lastError payload } }").await;
    let events = listed["data"]["webhookEvents"].as_array().unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["subscriptionType"], "contact.creation");
    assert!(events[0]["lastError"].as_str().unwrap().contains("503"));
    let wrong = graphql(r#"mutation { replayWebhookEvents(id: "12345678") }"#).await;
    assert!(wrong["errors"][0]["message"].as_str().unwrap().contains("`id`"), "{wrong}");
    world.sim.sim.set_chaos(tests::sim::limits::Chaos::default());
    let replayed = graphql("mutation { replayWebhookEvents }").await;
    assert_eq!(replayed["data"]["replayWebhookEvents"], 1, "{replayed}");
    assert_eq!(world.applier.drain().await.unwrap().applied, 1, "applied on replay (the record is not at HubSpot)");
    let none = graphql("{ webhookEvents(state: DEAD) { id } }").await;
    assert_eq!(none["data"]["webhookEvents"], json!([]));
});

// HubSpot's example deliveries (`tests/fixtures/webhook-events.json`, from `shared/fixtures`), applied batch by
// batch to a mirror that holds their records as they were before: event 1017 (the older `eventType` field, and older
// than 1007) arrives last and must not win; the merge, deletion and GDPR erasure take effect.
on_both!(hubspots_example_deliveries_apply_as_documented, |backend: Backend| async move {
    use hubspot::{CrmObject, ObjectType};
    const FIXTURE_PORTAL: i64 = 62515;
    let sim =
        Running::start(SimConfig { portals: vec![small_spec(FIXTURE_PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let before = chrono::DateTime::from_timestamp_millis(1_732_180_000_000).unwrap();
    let record = |id: i64, properties: &[(&str, &str)]| CrmObject {
        id,
        properties: properties.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect(),
        created_at: before,
        updated_at: before,
        archived: false,
    };
    let now = Utc::now();
    let mirror = &db.db;
    server::mirror::ensure_portal(mirror, FIXTURE_PORTAL, "Fixture").await.unwrap();
    let contacts = [5101, 5102, 5103]
        .map(|id| record(id, &[("email", &format!("c{id}@example.com")), ("lifecyclestage", "lead")]));
    server::mirror::upsert_objects(mirror, FIXTURE_PORTAL, ObjectType::Contact, &contacts, now).await.unwrap();
    let companies = [7101, 7102].map(|id| record(id, &[("name", "Acme")]));
    server::mirror::upsert_objects(mirror, FIXTURE_PORTAL, ObjectType::Company, &companies, now).await.unwrap();
    let deal = record(9101, &[("dealname", "Big"), ("dealstage", "appointmentscheduled"), ("amount", "1000")]);
    server::mirror::upsert_objects(mirror, FIXTURE_PORTAL, ObjectType::Deal, &[deal], now).await.unwrap();
    let ticket = record(3101, &[("subject", "Help"), ("hs_ticket_priority", "LOW")]);
    server::mirror::upsert_objects(mirror, FIXTURE_PORTAL, ObjectType::Ticket, &[ticket], now).await.unwrap();

    let settings = ClientSettings { base_url: sim.base_url(), max_retries: 0, ..ClientSettings::default() };
    let applier = Applier {
        db: db.db.clone(),
        hubspot: Some(HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())))),
        stats: WebhookStats::default(),
        settings: ApplierSettings::default(),
        health: None,
        reference: Default::default(),
    };
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/webhook-events.json")).unwrap(),
    )
    .unwrap();
    for batch in fixture["batches"].as_array().unwrap() {
        let events = parse_batch(&serde_json::to_vec(batch).unwrap()).unwrap();
        let count = events.len() as u64;
        assert_eq!(log::append(&db.db, "fixture", events).await.unwrap().stored, count);
        let pass = applier.drain().await.unwrap();
        assert_eq!((pass.applied, pass.dead), (count, 0), "{pass:?}");
    }
    let deal = deal::Entity::find_by_id((FIXTURE_PORTAL, 9101)).one(&db.db).await.unwrap().unwrap();
    assert_eq!(deal.dealstage.as_deref(), Some("contractsent"), "1017 is older than 1007 and lost");
    assert_eq!(deal.amount, Some(48000.0));
    let contact = |id: i64| contact::Entity::find_by_id((FIXTURE_PORTAL, id)).one(&db.db);
    assert_eq!(contact(5101).await.unwrap().unwrap().lifecyclestage.as_deref(), Some("salesqualifiedlead"));
    assert_eq!(contact(5102).await.unwrap().unwrap().merged_into, Some(5101));
    assert!(contact(5103).await.unwrap().is_none(), "erased");
    let ticket = entities::ticket::Entity::find_by_id((FIXTURE_PORTAL, 3101)).one(&db.db).await.unwrap().unwrap();
    assert_eq!(ticket.priority.as_deref(), Some("HIGH"));
});

// A pass takes along the later events of the records it claimed, so a backlog costs one write per record, not per
// event; the rest of the log waits for the next pass.
on_both!(a_pass_applies_every_due_event_of_the_records_it_claims, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    world.applier.settings.batch = 1;
    let mut ids = generate(&small_spec(PORTAL)).contacts.into_iter().filter(|c| !c.archived).map(|c| c.id);
    let (first, second) = (ids.next().unwrap(), ids.next().unwrap());
    let t = now_ms();
    let title = |n: i64| json!({ "propertyName": "jobtitle", "propertyValue": format!("title {n}") });
    let events = [
        world.event("contact.propertyChange", first, t + 1, title(1)),
        world.event("contact.propertyChange", second, t + 2, title(2)),
        world.event("contact.propertyChange", first, t + 3, title(3)),
        world.event("contact.propertyChange", first, t + 4, title(4)),
    ];
    world.deliver(&events).await;
    assert_eq!(world.applier.pass().await.unwrap().applied, 3, "the first record's three events, in one pass");
    assert_eq!(world.contact(first).await.unwrap().jobtitle.as_deref(), Some("title 4"));
    assert_ne!(world.contact(second).await.unwrap().jobtitle.as_deref(), Some("title 2"), "not claimed yet");
    assert_eq!(world.applier.pass().await.unwrap().applied, 1);
    assert_eq!(world.contact(second).await.unwrap().jobtitle.as_deref(), Some("title 2"));
});

// A pass applies its whole batch (on SQLite in several transactions, so a delivery waits for one of them, not the
// pass) and reads the records its events wait on from HubSpot once for the whole batch: two association changes
// far apart in the log cost the calls of one.
on_both!(a_pass_reads_hubspot_once_for_its_whole_batch, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    let portal = generate(&small_spec(PORTAL));
    let contacts: Vec<i64> = portal.contacts.iter().filter(|c| !c.archived).map(|c| c.id).collect();
    let company = portal.companies.iter().find(|c| !c.archived).unwrap().id;
    for id in &contacts[..3] {
        let path = format!("/crm/v4/objects/contacts/{id}/associations/default/companies/{company}");
        world.at_hubspot(Method::PUT, &path, None).await;
    }
    let t = now_ms();
    let link = |world: &mut World, id: i64| {
        let change = json!({ "associationType": "CONTACT_TO_COMPANY", "fromObjectId": id, "toObjectId": company,
            "associationRemoved": false, "isPrimaryAssociation": false });
        world.event("contact.associationChange", id, t, change)
    };
    let alone = [link(&mut world, contacts[0])];
    world.deliver(&alone).await;
    let before = world.sim.sim.stats().requests;
    assert_eq!(world.applier.pass().await.unwrap().applied, 1);
    let one_read = world.sim.sim.stats().requests - before;
    assert!(one_read > 0, "an association change reads its record");

    let mut events = vec![link(&mut world, contacts[1])];
    for (n, id) in contacts[3..203].iter().enumerate() {
        let title = json!({ "propertyName": "jobtitle", "propertyValue": format!("title {n}") });
        events.push(world.event("contact.propertyChange", *id, t, title));
    }
    events.push(link(&mut world, contacts[2]));
    world.deliver(&events).await;
    let before = world.sim.sim.stats().requests;
    let pass = world.applier.pass().await.unwrap();
    assert_eq!(pass.applied, events.len() as u64, "{pass:?}");
    assert_eq!(world.sim.sim.stats().requests - before, one_read, "both records in one read");
    for id in &contacts[1..3] {
        assert!(world.links("contact", *id, "company").await.contains(&company));
    }
    assert_eq!(world.contact(contacts[202]).await.unwrap().jobtitle.as_deref(), Some("title 199"));
});

// Two appliers at once: one merges a record while the other applies a change of one of its properties. The change's
// pass read the record before the merge committed and writes it after: the merge stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_committed_while_a_change_is_applied_stays() {
    let mut world = World::new(Backend::Postgres).await;
    let mut ids = generate(&small_spec(PORTAL)).contacts.into_iter().filter(|c| !c.archived).map(|c| c.id);
    let (merged, survivor) = (ids.next().unwrap(), ids.next().unwrap());
    let db = world.db.db.clone();
    let merge = db.begin().await.unwrap();
    server::mirror::mark_merged(&merge, PORTAL, ObjectType::Contact, &[(merged, survivor)], Utc::now()).await.unwrap();
    let change = json!({ "propertyName": "jobtitle", "propertyValue": "During the merge" });
    let event = world.event("contact.propertyChange", merged, now_ms(), change);
    world.deliver(&[event]).await;
    let applier = world.applier.clone();
    let pass = tokio::spawn(async move { applier.pass().await });
    // The pass has read the record and waits for the merge's lock on it.
    let waiting = Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"contacts\"%'",
    );
    let mut blocked = false;
    for _ in 0..200 {
        let row = db.query_one_raw(waiting.clone()).await.unwrap().unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            blocked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(blocked, "the pass never waited on the merged record");
    merge.commit().await.unwrap();
    assert_eq!(pass.await.unwrap().unwrap().applied, 1);
    let row = world.contact(merged).await.unwrap();
    assert_eq!(row.merged_into, Some(survivor), "the merge stayed");
    assert!(row.archived_at.is_some());
    assert_eq!(row.jobtitle.as_deref(), Some("During the merge"), "and the change applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_log_and_apply_each_event_once() {
    let mut world = World::new(Backend::Postgres).await;
    let ids: Vec<i64> = generate(&small_spec(PORTAL)).contacts.iter().filter(|c| !c.archived).map(|c| c.id).collect();
    let t = now_ms();
    let events: Vec<Value> = (0..1_000)
        .map(|n| {
            let extra = json!({ "propertyName": "jobtitle", "propertyValue": format!("title {n}") });
            world.event("contact.propertyChange", ids[n % ids.len()], t + n as i64, extra)
        })
        .collect();
    for batch in events.chunks(100) {
        world.deliver(batch).await;
    }
    // Three appliers, as three replicas would run them, each taking small batches.
    let replicas: Vec<Applier> = (0..3)
        .map(|_| Applier {
            settings: ApplierSettings { batch: 25, ..world.applier.settings.clone() },
            ..world.applier.clone()
        })
        .collect();
    let passes = futures::future::join_all(replicas.iter().map(Applier::drain)).await;
    let applied: u64 = passes.into_iter().map(|p| p.unwrap().applied).sum();
    assert_eq!(applied, 1_000, "every event applied by exactly one replica");
    let log = webhook_event::Entity::find().all(&world.db.db).await.unwrap();
    assert!(log.iter().all(|e| e.state == "applied" && e.attempts == 1), "none applied twice");
    // The newest title of each contact won.
    let last = &events[999];
    let contact = world.contact(last["objectId"].as_i64().unwrap()).await.unwrap();
    assert_eq!(contact.jobtitle.as_deref(), last["propertyValue"].as_str());
}

// A pass that takes a full batch tells the rescoring loop the appliers are behind (it then waits for them, within a
// bound: `health::pending`); the pass that finds fewer due than it could take says they caught up.
on_both!(a_full_pass_says_the_appliers_are_behind, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    world.applier.settings.batch = 2;
    let contacts: Vec<i64> =
        generate(&small_spec(PORTAL)).contacts.iter().filter(|c| !c.archived).map(|c| c.id).take(5).collect();
    let t = now_ms();
    let events: Vec<Value> = contacts
        .iter()
        .map(|id| {
            let change = json!({ "propertyName": "lifecyclestage", "propertyValue": "customer" });
            world.event("contact.propertyChange", *id, t, change)
        })
        .collect();
    world.deliver(&events).await;
    let pending = world.applier.health.clone().unwrap().pending;
    assert!(!pending.behind(), "nothing has run yet");
    for left in [3, 1] {
        assert_eq!(world.applier.pass().await.unwrap().applied, 2);
        assert!(pending.behind(), "a full batch taken, {left} still due");
    }
    assert_eq!(world.applier.pass().await.unwrap().applied, 1);
    assert!(!pending.behind(), "the last event taken with room to spare: caught up");
    assert_eq!(world.applier.pass().await.unwrap().applied, 0);
    assert!(!pending.behind());
});

// A webhook that changes what a score reads rescores the clients it touches in the applier's pass, with the events
// as the cause; a change to a property no score reads leaves every score (and its history) alone.
on_both!(applied_events_rescore_the_clients_they_touch, |backend: Backend| async move {
    let mut world = World::new(backend).await;
    let db = world.db.db.clone();
    let cause = json!({ "kind": "fullPass" });
    server::health::full_pass(&db, PORTAL, Default::default(), &cause).await.unwrap();
    let history = || {
        let db = db.clone();
        async move { entities::health_score_history::Entity::find().all(&db).await.unwrap() }
    };
    let before = history().await.len();
    // An open deal of a company: winning it moves the company's score.
    let (deal, company) = {
        let deals =
            entities::deal::Entity::find().filter(entities::deal::Column::IsClosed.eq(false)).all(&db).await.unwrap();
        let mut found = None;
        for deal in deals {
            if let Some(company) = world.links("deal", deal.hubspot_id, "company").await.first() {
                found = Some((deal.hubspot_id, *company));
                break;
            }
        }
        found.expect("an open deal linked to a company")
    };
    let t = now_ms();
    let contact = generate(&small_spec(PORTAL)).contacts.iter().find(|c| !c.archived).unwrap().id;
    let events = [world.event(
        "contact.propertyChange",
        contact,
        t,
        json!({ "propertyName": "jobtitle", "propertyValue": "CEO" }),
    )];
    world.deliver(&events).await;
    world.applier.drain().await.unwrap();
    assert_eq!(history().await.len(), before, "a job title is no input of any score");
    assert_eq!(world.rescored(), 0, "nor does it rescore anyone");

    let mut events = Vec::new();
    for (name, value) in [("dealstage", "closedwon"), ("hs_is_closed", "true"), ("hs_is_closed_won", "true")] {
        events.push(world.event(
            "deal.propertyChange",
            deal,
            t + 1,
            json!({ "propertyName": name, "propertyValue": value }),
        ));
    }
    world.deliver(&events).await;
    world.applier.drain().await.unwrap();
    let after = history().await;
    let point = after
        .iter()
        .rev()
        .find(|h| h.subject_type == "company" && h.subject_id == company)
        .expect("the company was rescored");
    assert!(world.rescored() >= 1, "the rescoring is counted");
    assert_eq!(point.cause["kind"], "webhook", "{:?}", point.cause);
    assert_eq!(point.cause["events"], 3);
    assert!(point.previous_overall.is_some());
    let current = entities::health_score::Entity::find_by_id((PORTAL, "company".to_owned(), company))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.overall, point.overall);
});
