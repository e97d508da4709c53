//! Webhooks alone keep the mirror equal to HubSpot: the simulator makes random changes and delivers their events,
//! duplicated and shuffled, to a gateway whose reconcile sweep never runs; once every delivery is acknowledged and
//! applied, the convergence checker finds no difference.

use std::{sync::Arc, time::Duration};

use entities::webhook_event;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use server::{
    http::AppState,
    hubspot::{ClientSettings, HubSpot, PrivateApp},
    metrics::Metrics,
    sync::{Progress, backfill},
    webhooks::{
        Receiver,
        apply::{Applier, ApplierSettings},
        signature::Versions,
    },
};
use tests::{
    Backend, TestDb,
    convergence::differences,
    on_both,
    sim::{Running, mutate, webhooks::WebhookSettings},
};

const PORTAL: i64 = 100_001;
const SECRET: &str = "convergence-secret";

/// Waits until the simulator has no event unsent or unacknowledged and the log nothing pending.
async fn settle(sim: &Running, db: &TestDb) {
    for _ in 0..600 {
        let pending = webhook_event::Entity::find()
            .filter(webhook_event::Column::State.eq("pending"))
            .count(&db.db)
            .await
            .unwrap();
        if sim.sim.unsent() == 0 && sim.sim.sender.snapshot().outstanding() == 0 && pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stuck =
        webhook_event::Entity::find().filter(webhook_event::Column::State.ne("applied")).all(&db.db).await.unwrap();
    let reasons: Vec<_> = stuck.iter().take(5).map(|e| (&e.subscription_type, &e.state, &e.last_error)).collect();
    panic!("not settled after 60 s: {:?}, {} events not applied: {reasons:?}", sim.sim.sender.snapshot(), stuck.len());
}

on_both!(duplicated_shuffled_deliveries_converge, |backend: Backend| async move {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let webhooks = WebhookSettings {
        retry_base: Duration::from_millis(20),
        duplicate_rate: 0.2,
        shuffle: true,
        flush_every: Duration::from_millis(20),
        ..WebhookSettings::new(format!("{public_url}/webhooks/hubspot"), SECRET)
    };
    let sim = Running::delivering(PORTAL, webhooks).await;
    let db = TestDb::migrated(backend).await;
    let settings = ClientSettings { base_url: sim.base_url(), rate_limit: 100_000, ..ClientSettings::default() };
    let hubspot = HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())));
    backfill(&db.db, &hubspot, PORTAL, false, &Progress::Quiet).await.unwrap();
    assert_eq!(differences(&db.db, &sim.sim, PORTAL).await, Vec::<String>::new(), "the backfill starts equal");

    let metrics = Metrics::default();
    let receiver =
        Receiver { secrets: vec![SECRET.into()], public_url, signatures: Versions::Any, limits: Default::default() };
    let state = AppState::new(db.db.clone(), metrics.clone()).await.unwrap().with_webhooks(Some(receiver));
    let gateway = tokio::spawn(async move { axum::serve(listener, server::http::app(state)).await });
    let applier = Applier {
        db: db.db.clone(),
        hubspot: Some(hubspot),
        stats: metrics.webhooks.clone(),
        settings: ApplierSettings { idle: Duration::from_millis(20), ..ApplierSettings::default() },
        health: None,
        reference: Default::default(),
    };
    let applying = tokio::spawn(applier.run());

    mutate::run(sim.sim.clone(), PORTAL, 2_000, 2_000.0, 7).await;
    settle(&sim, &db).await;
    let sent = sim.sim.sender.snapshot();
    assert!(sent.queued > 2_000, "every change sent its events, some twice: {sent:?}");
    assert_eq!(sent.dropped, 0);
    let diff = differences(&db.db, &sim.sim, PORTAL).await;
    assert!(diff.is_empty(), "{} differences, first: {:#?}", diff.len(), &diff[..diff.len().min(20)]);
    let dead =
        webhook_event::Entity::find().filter(webhook_event::Column::State.eq("dead")).count(&db.db).await.unwrap();
    assert_eq!(dead, 0);
    gateway.abort();
    applying.abort();
});
