//! A gateway over a simulated portal, for tests of writes and fallback reads.

use std::{sync::Arc, time::Duration};

use reqwest::Client;
use serde_json::{Value, json};
use server::{hubspot::ClientSettings, idempotency::Keys, shared_redis::SharedRedis, upstream::HubSpotUpstream};

use crate::{Backend, TestDb, data_of, execute, first_error, sim::Running, synced_mirror};

/// A simulated portal backfilled into a fresh mirror, and the schema over it with a way to HubSpot (the
/// simulator) for writes and fallback reads.
pub struct Gateway {
    pub portal: i64,
    pub sim: Running,
    pub db: TestDb,
    pub schema: schema::GatewaySchema,
    pub upstream: HubSpotUpstream,
}

impl Gateway {
    /// A simulated portal, backfilled into a fresh mirror, and a gateway writing to it.
    pub async fn start(backend: Backend, portal: i64) -> Self {
        Self::start_with(backend, portal, None).await
    }

    /// The same, sharing `redis` as replicas do (the read cache and HubSpot's rate budget).
    pub async fn start_with(backend: Backend, portal: i64, redis: Option<SharedRedis>) -> Self {
        Self::start_custom(backend, portal, ClientSettings { redis, ..Self::settings() }).await
    }

    /// The client settings of [`Gateway::start`]: quick retries.
    pub fn settings() -> ClientSettings {
        ClientSettings {
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retries: 2,
            ..ClientSettings::default()
        }
    }

    /// A gateway whose client to HubSpot has `settings` (the simulator's address is filled in).
    pub async fn start_custom(backend: Backend, portal: i64, settings: ClientSettings) -> Self {
        let (sim, db, hubspot) = synced_mirror(backend, portal, settings).await;
        let keys = Keys::new(db.db.clone(), hubspot.settings().longest_call());
        let health = Some(server::health::Health::new(db.db.clone(), Default::default()));
        let upstream = HubSpotUpstream {
            db: db.db.clone(),
            hubspot,
            keys,
            health,
            reference: Default::default(),
            // The simulator's search sees a record as soon as it is made.
            search_lag: Duration::ZERO,
        };
        Self { portal, sim, db, schema: schema::build(), upstream }
    }

    pub async fn run(&self, query: &str, variables: Value) -> Value {
        let scope = schema::Scope::new(self.db.db.clone(), self.portal, schema::Role::Admin)
            .with_upstream(Some(Arc::new(self.upstream.clone())));
        execute(&self.schema, scope, query, variables).await
    }

    pub async fn data(&self, query: &str, variables: Value) -> Value {
        data_of(self.run(query, variables).await)
    }

    /// The first error of a request that must fail.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        first_error(self.run(query, variables).await)
    }

    /// A record as HubSpot (the simulator) holds it; `None` when it is not live there.
    pub async fn at_hubspot(&self, plural: &str, id: &str, properties: &str) -> Option<Value> {
        let url = format!("{}/crm/v3/objects/{plural}/{id}?properties={properties}", self.sim.base_url());
        let response = Client::new().get(url).bearer_auth(self.sim.token()).send().await.unwrap();
        if response.status() == 404 {
            return None;
        }
        assert!(response.status().is_success(), "{}", response.status());
        Some(response.json().await.unwrap())
    }

    pub fn requests(&self) -> u64 {
        self.sim.sim.stats().requests
    }

    /// The calls to HubSpot that changed something (reads of reference data a check made are not among them).
    pub fn writes(&self) -> u64 {
        self.sim.sim.stats().writes
    }

    /// The global ID and HubSpot id of the first record of a list field.
    pub async fn first(&self, list: &str) -> (String, String) {
        let data = self.data(&format!("{{ {list}(first: 1) {{ nodes {{ id hubspotId }} }} }}"), json!({})).await;
        let node = &data[list]["nodes"][0];
        (node["id"].as_str().unwrap().to_owned(), node["hubspotId"].as_str().unwrap().to_owned())
    }
}
