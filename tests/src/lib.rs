//! Test support: a migrated mirror per test (a temporary SQLite file or a fresh Postgres database) holding a
//! generated portal, and ways to query it through the real schema and router.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use async_graphql::{Request, Variables};
use chrono::{TimeZone, Utc};
use generator::PortalSpec;
use hubspot::Portal;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;

pub use generator;
pub use hubspot;

/// Where the Postgres tests create their databases; the machine's server by default (no TLS on loopback).
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into())
}

/// `postgres_admin_url()` with another database name, keeping its options.
pub fn postgres_url(database: &str) -> String {
    let admin = postgres_admin_url();
    let (path, query) = admin.split_once('?').map_or((admin.as_str(), None), |(p, q)| (p, Some(q)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A CRM record of `properties`, created and last changed at `at`.
pub fn record(id: i64, at: chrono::DateTime<Utc>, properties: &[(&str, &str)]) -> hubspot::CrmObject {
    hubspot::CrmObject {
        id,
        properties: properties.iter().map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned()))).collect(),
        created_at: at,
        updated_at: at,
        archived: false,
    }
}

/// A fixed clock for generated portals, so expected values do not move with the day the tests run.
/// A port nothing listens on now, for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

pub fn fixed_now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).single().expect("valid date")
}

/// A small portal: big enough for paging and filters, quick to write.
pub fn small_spec(portal_id: i64) -> PortalSpec {
    PortalSpec::sized(portal_id, 7, 300, 60, 150, fixed_now())
}

/// An empty, migrated database that is removed when dropped.
pub struct TestDb {
    pub url: String,
    pub db: DatabaseConnection,
    /// Statements run on `db` so far.
    pub statements: Arc<AtomicU64>,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Removed with the folder when dropped.
    File {
        _dir: tempfile::TempDir,
    },
    Database(String),
}

fn unique_name() -> String {
    format!("gw_test_{}_{}", std::process::id(), rand::random::<u32>())
}

impl TestDb {
    /// A database with no tables yet.
    pub async fn empty(backend: Backend) -> Self {
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("mirror.db").display());
                (url, Cleanup::File { _dir: dir })
            }
            Backend::Postgres => {
                let name = unique_name();
                let admin =
                    Database::connect(postgres_admin_url()).await.expect("Postgres must be running for the tests");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
                admin.close().await.ok();
                let url = postgres_url(&name);
                (url, Cleanup::Database(name))
            }
        };
        let mut db = server::db::connect(&url).await.expect("connect to test database");
        let statements = Arc::new(AtomicU64::new(0));
        server::db::count_statements(&mut db, Arc::clone(&statements));
        Self { url, db, statements, cleanup }
    }

    /// A migrated database.
    pub async fn migrated(backend: Backend) -> Self {
        use migrations::MigratorTrait;
        let db = Self::empty(backend).await;
        migrations::Migrator::up(&db.db, None).await.expect("migrate");
        db
    }

    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::SeqCst)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Database(name) = &self.cleanup {
            let name = name.clone();
            // Drop runs outside async; a short-lived runtime on its own thread removes the database.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = Database::connect(postgres_admin_url()).await {
                        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A migrated mirror holding one generated portal.
pub struct Mirror {
    pub db: TestDb,
    pub portal: Portal,
    pub schema: schema::GatewaySchema,
}

impl Mirror {
    pub async fn new(backend: Backend, spec: &PortalSpec) -> Self {
        let db = TestDb::migrated(backend).await;
        let portal = generator::generate(spec);
        server::mirror::write_portal(&db.db, &portal).await.expect("write portal");
        Self { db, portal, schema: schema::build() }
    }

    pub async fn small(backend: Backend) -> Self {
        Self::new(backend, &small_spec(4242)).await
    }

    /// Runs a query against the portal; returns `{data, errors}` as JSON.
    pub async fn run(&self, query: &str, variables: Value) -> Value {
        self.run_in(self.portal.portal_id, query, variables).await
    }

    pub async fn run_in(&self, portal_id: i64, query: &str, variables: Value) -> Value {
        self.run_as(schema::Role::Admin, portal_id, query, variables).await
    }

    /// Runs a query as a caller with `role`.
    pub async fn run_as(&self, role: schema::Role, portal_id: i64, query: &str, variables: Value) -> Value {
        execute(&self.schema, schema::Scope::new(self.db.db.clone(), portal_id, role), query, variables).await
    }

    /// Runs a query that must succeed; returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        data_of(self.run(query, variables).await)
    }

    /// Runs a query that must fail; returns its first error.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        first_error(self.run(query, variables).await)
    }
}

/// Runs a request through `schema` in `scope`; returns `{data, errors}` as JSON.
pub async fn execute(schema: &schema::GatewaySchema, scope: schema::Scope, query: &str, variables: Value) -> Value {
    let request = Request::new(query).variables(Variables::from_json(variables)).data(scope);
    serde_json::to_value(schema.execute(request).await).expect("response as JSON")
}

/// The `data` of a response that must have no errors.
pub fn data_of(response: Value) -> Value {
    assert!(response.get("errors").is_none_or(|e| e.as_array().is_none_or(Vec::is_empty)), "errors: {response:#}");
    response["data"].clone()
}

/// The first error of a response that must have one.
pub fn first_error(response: Value) -> Value {
    assert!(response["errors"][0].is_object(), "expected an error: {response:#}");
    response["errors"][0].clone()
}

/// Declares a test twice, on SQLite and on Postgres: `on_both!(name, |backend| async move { … })`.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::Backend::Postgres).await
            }
        }
    };
}

pub mod balancer;
pub mod convergence;
pub mod gateway;
pub mod load;
pub mod postgres_server;
pub mod process;
pub mod redis_server;
pub mod remote;
pub mod sim;
pub mod subscriber;

/// A simulated portal (`small_spec(portal)`), backfilled into a fresh mirror by a client with `settings` (its base
/// URL and token set to the simulator's); the client is returned for more calls.
pub async fn synced_mirror(
    backend: Backend,
    portal: i64,
    settings: server::hubspot::ClientSettings,
) -> (sim::Running, TestDb, server::hubspot::HubSpot) {
    use server::hubspot::{ClientSettings, HubSpot, PrivateApp};
    let config = sim::SimConfig { portals: vec![small_spec(portal)], ..sim::SimConfig::default() };
    let sim = sim::Running::start(config).await.expect("simulator starts");
    let db = TestDb::migrated(backend).await;
    let settings = ClientSettings { base_url: sim.base_url(), ..settings };
    let hubspot = HubSpot::new(settings, Arc::new(PrivateApp(sim.token().to_owned())));
    server::sync::backfill(&db.db, &hubspot, portal, false, &server::sync::Progress::Quiet).await.expect("backfill");
    (sim, db, hubspot)
}

/// Waits until `done` holds, checking ten times a second; fails the test naming `what` after `secs` seconds.
pub async fn wait_for(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..secs * 10 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {secs} s");
}
