//! A portal's own association labels, end to end: defined at HubSpot (the simulator) and used before the backfill,
//! added after it (brought by webhook), and made through the gateway's `associate(label:)`, the mirror holds each
//! link with HubSpot's type id and label in both directions, and connections filter on them. Deal ↔ ticket links
//! come through too.

use std::{sync::Arc, time::Duration};

use reqwest::{Client, Method};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use server::{
    http::AppState,
    hubspot::{ClientSettings, HubSpot, PrivateApp},
    metrics::Metrics,
    sync::{Progress, backfill},
    upstream::HubSpotUpstream,
    webhooks::{
        Receiver,
        apply::{Applier, ApplierSettings},
        signature::Versions,
    },
};
use tests::{
    Backend, TestDb,
    convergence::differences,
    data_of, execute, first_error, on_both,
    sim::{Running, webhooks::WebhookSettings},
    wait_for,
};

const PORTAL: i64 = 100_001;
const SECRET: &str = "labels-secret";

/// The simulator delivering webhooks to a gateway (receiver and applier) over a backfilled mirror.
struct World {
    sim: Running,
    db: TestDb,
    upstream: HubSpotUpstream,
    schema: schema::GatewaySchema,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

impl World {
    /// HubSpot's REST API, as an admin or an integration calls it.
    async fn hubspot(&self, method: Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.sim.base_url());
        let response =
            Client::new().request(method, url).bearer_auth(self.sim.token()).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// Defines a label at HubSpot; its type ids (this direction, the inverse).
    async fn define(&self, from: &str, to: &str, body: Value) -> (i64, i64) {
        let created = self.hubspot(Method::POST, &format!("/crm/v4/associations/{from}/{to}/labels"), body).await;
        (created["results"][0]["typeId"].as_i64().unwrap(), created["results"][1]["typeId"].as_i64().unwrap())
    }

    /// Links two records at HubSpot with a label's type.
    async fn link(&self, from: &str, id: i64, to: &str, to_id: i64, type_id: i64) {
        let path = format!("/crm/v4/objects/{from}/{id}/associations/{to}/{to_id}");
        let spec = json!([{ "associationCategory": "USER_DEFINED", "associationTypeId": type_id }]);
        self.hubspot(Method::PUT, &path, spec).await;
    }

    async fn run(&self, query: &str, variables: Value) -> Value {
        let scope = schema::Scope::new(self.db.db.clone(), PORTAL, schema::Role::Admin)
            .with_upstream(Some(Arc::new(self.upstream.clone())));
        execute(&self.schema, scope, query, variables).await
    }

    async fn data(&self, query: &str, variables: Value) -> Value {
        data_of(self.run(query, variables).await)
    }

    /// The live records of a type the simulator holds, first ones first.
    fn live(&self, object_type: hubspot::ObjectType, n: usize) -> Vec<i64> {
        let world = self.sim.sim.world.lock().unwrap();
        let records = world.portals[&PORTAL].records(object_type);
        records.values().filter(|r| !r.object.archived).take(n).map(|r| r.object.id).collect()
    }

    /// Until the mirror equals HubSpot (records and every association row with its type id).
    async fn converged(&self) {
        wait_for("the mirror equals HubSpot", 60, async || {
            differences(&self.db.db, &self.sim.sim, PORTAL).await.is_empty()
        })
        .await;
    }
}

/// Starts the simulator, lets `before` shape HubSpot, backfills, then serves webhooks to an applier.
async fn start(backend: Backend) -> World {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let webhooks = WebhookSettings {
        retry_base: Duration::from_millis(20),
        flush_every: Duration::from_millis(20),
        ..WebhookSettings::new(format!("{public_url}/webhooks/hubspot"), SECRET)
    };
    let sim = Running::delivering(PORTAL, webhooks).await;
    let db = TestDb::migrated(backend).await;
    let settings = ClientSettings { base_url: sim.base_url(), rate_limit: 100_000, ..ClientSettings::default() };
    let hubspot = HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())));
    let upstream = HubSpotUpstream {
        db: db.db.clone(),
        hubspot: hubspot.clone(),
        keys: server::idempotency::Keys::new(db.db.clone(), hubspot.settings().longest_call()),
        health: None,
        reference: Default::default(),
        search_lag: Duration::ZERO,
    };
    World { sim, db, upstream, schema: schema::build(), tasks: vec![] }.serving(listener, public_url, hubspot)
}

impl World {
    fn serving(mut self, listener: tokio::net::TcpListener, public_url: String, hubspot: HubSpot) -> Self {
        let db = self.db.db.clone();
        self.tasks.push(tokio::spawn(async move {
            let metrics = Metrics::default();
            let receiver = Receiver {
                secrets: vec![SECRET.into()],
                public_url,
                signatures: Versions::Any,
                limits: Default::default(),
            };
            let state = AppState::new(db.clone(), metrics.clone()).await.unwrap().with_webhooks(Some(receiver));
            let applier = Applier {
                db,
                hubspot: Some(hubspot),
                stats: metrics.webhooks.clone(),
                settings: ApplierSettings { idle: Duration::from_millis(20), ..ApplierSettings::default() },
                health: None,
                reference: Default::default(),
            };
            tokio::spawn(applier.run());
            let _ = axum::serve(listener, server::http::app(state)).await;
        }));
        self
    }

    async fn backfill(&self) {
        let hubspot = self.upstream.hubspot.clone();
        backfill(&self.db.db, &hubspot, PORTAL, false, &Progress::Quiet).await.unwrap();
    }
}

const COMPANY_CONTACTS: &str = "query($id: ID!, $label: String) { company(id: $id) { id
    contacts(label: $label, first: 100) { edges { labels isPrimary node { hubspotId email } } } } }";
const CONTACT_COMPANIES: &str = "query($id: ID!, $label: String) { contact(id: $id) { id
    companies(label: $label, first: 100) { edges { labels isPrimary node { hubspotId } } } } }";

/// The `(hubspotId, labels)` of a connection's edges.
fn edges(connection: &Value) -> Vec<(String, Value)> {
    let edges = connection["edges"].as_array().unwrap();
    edges.iter().map(|e| (e["node"]["hubspotId"].as_str().unwrap().to_owned(), e["labels"].clone())).collect()
}

on_both!(labels_reach_the_mirror_by_backfill_webhook_and_mutation, |backend: Backend| async move {
    use hubspot::ObjectType::{Company, Contact, Deal, Ticket};
    let world = start(backend).await;
    let company = world.live(Company, 1)[0];
    let contacts = world.live(Contact, 4);
    // Before the backfill: "Decision maker" (one label both ways) on a link.
    let (decider, _) =
        world.define("contacts", "companies", json!({ "label": "Decision maker", "name": "decision_maker" })).await;
    world.link("contacts", contacts[0], "companies", company, decider).await;
    world.backfill().await;
    assert_eq!(differences(&world.db.db, &world.sim.sim, PORTAL).await, Vec::<String>::new());
    let vars = json!({ "id": company.to_string(), "label": "Decision maker" });
    let deciders = world.data(COMPANY_CONTACTS, vars).await;
    assert_eq!(edges(&deciders["company"]["contacts"]), [(contacts[0].to_string(), json!(["Decision maker"]))]);
    assert_eq!(deciders["company"]["contacts"]["edges"][0]["isPrimary"], false);
    assert!(deciders["company"]["contacts"]["edges"][0]["node"]["email"].is_string());

    // After it: a paired label ("Billing contact", read from the company "Billed company") arrives by webhook.
    let body = json!({ "label": "Billing contact", "name": "billing_contact", "inverseLabel": "Billed company" });
    let (billing, _) = world.define("contacts", "companies", body).await;
    world.link("contacts", contacts[1], "companies", company, billing).await;
    let vars = json!({ "id": company.to_string(), "label": "Billed company" });
    wait_for("the billing link by webhook", 30, async || {
        let found = world.data(COMPANY_CONTACTS, vars.clone()).await;
        edges(&found["company"]["contacts"]).iter().any(|(id, _)| *id == contacts[1].to_string())
    })
    .await;
    let vars = json!({ "id": contacts[1].to_string(), "label": "Billing contact" });
    let billed = world.data(CONTACT_COMPANIES, vars).await;
    assert_eq!(edges(&billed["contact"]["companies"]), [(company.to_string(), json!(["Billing contact"]))]);

    // Through the gateway: a label the mirror has seen, then one only HubSpot's labels API knows.
    let associate = "mutation($from: ID!, $to: ID!, $label: String) { associate(from: $from, to: $to, label: $label) {
        __typename } }";
    let ids = world
        .data(
            "query($a: ID!, $b: ID!) { a: contact(id: $a) { id } b: company(id: $b) { id } }",
            json!({ "a": contacts[2].to_string(), "b": company.to_string() }),
        )
        .await;
    let (contact_id, company_id) = (ids["a"]["id"].clone(), ids["b"]["id"].clone());
    world.data(associate, json!({ "from": contact_id, "to": company_id, "label": "Billing contact" })).await;
    let vars = json!({ "id": company.to_string(), "label": "Billed company" });
    let billed = world.data(COMPANY_CONTACTS, vars).await;
    assert!(edges(&billed["company"]["contacts"]).contains(&(contacts[2].to_string(), json!(["Billed company"]))));

    let deal = world.live(Deal, 1)[0];
    let (champion, champion_back) = world
        .define("deals", "contacts", json!({ "label": "Champion", "name": "champion", "inverseLabel": "Champion of" }))
        .await;
    let deal_id = world.data("query($id: ID!) { deal(id: $id) { id } }", json!({ "id": deal.to_string() })).await;
    let (deal_id, contact_id) = (deal_id["deal"]["id"].clone(), world
        .data("query($id: ID!) { contact(id: $id) { id } }", json!({ "id": contacts[3].to_string() }))
        .await["contact"]["id"]
        .clone());
    world.data(associate, json!({ "from": deal_id, "to": contact_id, "label": "Champion" })).await;
    let rows: Vec<(String, i32, Option<String>)> = entities::association::Entity::find()
        .all(&world.db.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.category == "USER_DEFINED" && [deal, contacts[3]].contains(&a.from_id))
        .map(|a| (a.from_type, a.type_id, a.label))
        .collect();
    assert!(rows.contains(&("deal".into(), champion as i32, Some("Champion".into()))), "{rows:?}");
    assert!(rows.contains(&("contact".into(), champion_back as i32, Some("Champion of".into()))), "{rows:?}");
    let unknown =
        first_error(world.run(associate, json!({ "from": deal_id, "to": contact_id, "label": "Nope" })).await);
    assert_eq!(unknown["extensions"]["argument"], "label", "{unknown}");

    // Deal ↔ ticket (HubSpot's 27 / 28), linked at HubSpot, by webhook, both ways.
    let ticket = world.live(Ticket, 1)[0];
    let path = format!("/crm/v4/objects/deals/{deal}/associations/default/tickets/{ticket}");
    world.hubspot(Method::PUT, &path, json!({})).await;
    let deal_tickets = "query($id: ID!) { deal(id: $id) { tickets(first: 100) { nodes { hubspotId } } } }";
    wait_for("the deal's ticket by webhook", 30, async || {
        let found = world.data(deal_tickets, json!({ "id": deal.to_string() })).await;
        found["deal"]["tickets"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["hubspotId"] == ticket.to_string().as_str())
    })
    .await;
    let ticket_deals = "query($id: ID!) { ticket(id: $id) { deals(first: 100) { nodes { hubspotId } } } }";
    let found = world.data(ticket_deals, json!({ "id": ticket.to_string() })).await;
    assert!(
        found["ticket"]["deals"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["hubspotId"] == deal.to_string().as_str())
    );
    world.converged().await;
});
