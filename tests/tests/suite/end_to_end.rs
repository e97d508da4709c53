//! End to end: a change made in the simulator (as in HubSpot) goes out as a signed webhook, the gateway acknowledges
//! and applies it, rescoring the company it touched, and three subscribers hear the new score with the webhook as its
//! cause: one on `graphql-transport-ws`, one on the legacy `graphql-ws`, and the npm `graphql-ws` client (installed
//! by `make node-client`).

use std::{path::PathBuf, process::Stdio, sync::Arc, time::Duration};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use server::{
    health::{Health, Scoring, notify::Notifier},
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
    TestDb,
    sim::{Running, webhooks::WebhookSettings},
    subscriber::Subscriber,
};
use tokio::io::{AsyncBufReadExt, BufReader};

const PORTAL: i64 = 100_001;
const SECRET: &str = "end-to-end-secret";

const CHANGES: &str = "subscription($company: ID) { healthScoreChanged(companyId: $company) {
    cursor overall previousOverall company { hubspotId lifecycleStage } cause } }";

/// The npm client, subscribed; its stdout yields one JSON line per message.
struct NodeSubscriber {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl NodeSubscriber {
    async fn start(url: &str, variables: &Value) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
        assert!(
            dir.join("node_modules/graphql-ws").exists(),
            "{} has no graphql-ws: run `make node-client` (make test does)",
            dir.display()
        );
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("subscribe.mjs"))
            .args([url, &PORTAL.to_string(), CHANGES, &variables.to_string()])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut node = Self { child, lines };
        assert_eq!(node.next().await, json!({ "connected": true }));
        node
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .expect("the npm client printed in time")
            .unwrap()
            .unwrap_or_else(|| panic!("the npm client exited: {:?}", self.child.try_wait()));
        serde_json::from_str(&line).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_hubspot_reaches_subscribers_of_every_protocol_through_a_signed_webhook() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let webhooks = WebhookSettings {
        flush_every: Duration::from_millis(20),
        ..WebhookSettings::new(format!("{public_url}/webhooks/hubspot"), SECRET)
    };
    let sim = Running::delivering(PORTAL, webhooks).await;
    let db = TestDb::migrated(tests::Backend::Postgres).await;
    let settings = ClientSettings { base_url: sim.base_url(), rate_limit: 100_000, ..ClientSettings::default() };
    let hubspot = HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())));
    backfill(&db.db, &hubspot, PORTAL, false, &Progress::Quiet).await.unwrap();
    server::health::full_pass(&db.db, PORTAL, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();

    let notifier = Notifier::in_process();
    let metrics = Metrics::default();
    let state = AppState::new(db.db.clone(), metrics.clone())
        .await
        .unwrap()
        .with_webhooks(Some(Receiver {
            secrets: vec![SECRET.into()],
            public_url: public_url.clone(),
            signatures: Versions::Any,
            limits: Default::default(),
        }))
        .with_feed(Some(Arc::new(notifier.clone())));
    let gateway = tokio::spawn(async move { axum::serve(listener, server::http::app(state)).await });
    let applier = Applier {
        db: db.db.clone(),
        hubspot: Some(hubspot),
        stats: metrics.webhooks.clone(),
        settings: ApplierSettings { idle: Duration::from_millis(20), ..ApplierSettings::default() },
        health: Some(Health { notifier: Some(notifier), ..Health::new(db.db.clone(), Scoring::default()) }),
        reference: Default::default(),
    };
    let applying = tokio::spawn(applier.run());

    // A company that is not yet a customer (the backfilled mirror equals the simulator): making it one moves its CRM
    // score.
    let company = entities::company::Entity::find()
        .filter(entities::company::Column::ArchivedAt.is_null())
        .filter(entities::company::Column::Lifecyclestage.ne("customer"))
        .one(&db.db)
        .await
        .unwrap()
        .expect("a company that is not a customer")
        .hubspot_id;
    let ws = format!("ws://{}/graphql", public_url.trim_start_matches("http://"));
    let init = json!({ "X-HubSpot-Portal-Id": PORTAL.to_string() });
    let variables = json!({ "company": company.to_string() });
    let mut modern = Subscriber::connect(&ws, "graphql-transport-ws", init.clone()).await.unwrap();
    modern.subscribe(CHANGES, variables.clone()).await;
    let mut legacy = Subscriber::connect(&ws, "graphql-ws", init).await.unwrap();
    legacy.subscribe(CHANGES, variables.clone()).await;
    let mut node = NodeSubscriber::start(&ws, &variables).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let answer = reqwest::Client::new()
        .patch(format!("{}/crm/v3/objects/companies/{company}", sim.base_url()))
        .bearer_auth(sim.token())
        .json(&json!({ "properties": { "lifecyclestage": "customer" } }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());

    let heard = [modern.change().await, legacy.change().await, node.next().await["data"]["healthScoreChanged"].clone()];
    for change in &heard {
        assert_eq!(change["company"]["hubspotId"], company.to_string(), "{change}");
        assert_eq!(change["company"]["lifecycleStage"], "customer", "the mirror already holds the change");
        assert_eq!(change["cause"]["kind"], "webhook", "{change}");
        assert!(change["cause"]["eventIds"].as_array().is_some_and(|ids| !ids.is_empty()), "{change}");
        assert_ne!(change["overall"], change["previousOverall"]);
    }
    assert!(heard.iter().all(|c| c == &heard[0]), "every protocol carries the same change: {heard:?}");
    gateway.abort();
    applying.abort();
}
