//! A disconnected portal's mirror is kept for the grace period and then removed whole, while another portal's rows
//! stay untouched; a reinstall within the grace period calls the purge off. Two portals are synced from the
//! simulator (A by the private app, B by an OAuth install), B is disconnected through the HTTP endpoint, and the
//! purge step is run with a clock past the grace period instead of waiting.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Request, header},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use entities::{idempotency_key, portal, webhook_event, webhook_queue};
use generator::PortalSpec;
use reqwest::{Client, redirect::Policy};
use schema::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait, NotSet, Statement};
use serde_json::json;
use server::{
    auth::{Grant, keys},
    config::DEFAULT_OAUTH_SCOPES,
    http::AppState,
    hubspot::{ClientSettings, HubSpot, TokenSource, credentials::Credentials},
    metrics::Metrics,
    mirror::purge::purge_due,
    oauth::{Install, OAuthApp, OAuthTokens, crypto::Keys},
    sync::{Progress, Schedule, Supervisor, backfill},
};
use tests::{
    Backend, TestDb, fixed_now, on_both,
    sim::{DEFAULT_TOKEN, Running, SimConfig},
};
use tower::ServiceExt;

/// The private app's portal: it stays.
const A: i64 = 100_001;
/// The installed portal that is disconnected.
const B: i64 = 100_002;
const PUBLIC_URL: &str = "http://127.0.0.1:1";
const REDIRECT: &str = "http://127.0.0.1:1/oauth/hubspot/callback";
const GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Every table the purge empties of the portal's rows.
const PURGED: [&str; 22] = [
    "contacts",
    "companies",
    "deals",
    "tickets",
    "custom_objects",
    "object_schemas",
    "associations",
    "object_properties",
    "property_values",
    "property_definitions",
    "owners",
    "pipelines",
    "pipeline_stages",
    "campaigns",
    "sync_state",
    "health_scores",
    "health_score_history",
    "insights",
    "insight_events",
    "webhook_events",
    "webhook_queue",
    "idempotency_keys",
];

struct Setup {
    sim: Running,
    db: TestDb,
    app: axum::Router,
}

/// Both portals synced and scored, with a webhook event queued and an idempotency key each; B installed by OAuth,
/// A by the private app; the gateway's router with the install (every caller an admin).
async fn setup(backend: Backend) -> Setup {
    let config = SimConfig {
        portals: vec![
            PortalSpec::sized(A, 7, 60, 15, 30, fixed_now()),
            PortalSpec::sized(B, 11, 60, 15, 30, fixed_now()),
        ],
        tokens: vec![DEFAULT_TOKEN.to_owned()],
        rate_limit: 100_000,
        ..SimConfig::default()
    };
    let sim = Running::start(config).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let settings = ClientSettings { base_url: sim.base_url(), ..ClientSettings::default() };
    let app = OAuthApp {
        client_id: sim.sim.config.client_id.clone(),
        client_secret: sim.sim.config.client_secret.clone(),
        redirect_uri: REDIRECT.to_owned(),
        scopes: DEFAULT_OAUTH_SCOPES.split_whitespace().map(str::to_owned).collect(),
    };
    let keys = Arc::new(Keys::new(&format!("k1:{}", STANDARD.encode([5u8; 32])), &[]).unwrap());
    let tokens = Arc::new(OAuthTokens::new(db.db.clone(), keys, app, HubSpot::anonymous(settings.clone())));
    let client_id = &sim.sim.config.client_id;
    let scope = DEFAULT_OAUTH_SCOPES.replace(' ', "%20");
    let url = format!(
        "{}/oauth/authorize?client_id={client_id}&redirect_uri={REDIRECT}&scope={scope}&state=s",
        sim.base_url()
    );
    let code = authorize(&url).await;
    let code = code.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    tokens.store(B, &tokens.exchange(&code).await.unwrap()).await.unwrap();

    let credentials =
        Arc::new(Credentials::new(Some(DEFAULT_TOKEN.to_owned()), Some(tokens.clone() as Arc<dyn TokenSource>)));
    credentials.private_portal_is(A);
    let hubspot = HubSpot::new(settings, credentials);
    for portal in [A, B] {
        backfill(&db.db, &hubspot, portal, false, &Progress::for_terminal()).await.unwrap();
        server::health::full_pass(&db.db, portal, Default::default(), &json!({ "test": "setup" })).await.unwrap();
        let event = webhook_event::ActiveModel {
            id: NotSet,
            batch_id: Set(format!("batch-{portal}")),
            portal_id: Set(portal),
            event_id: Set(1),
            subscription_type: Set("contact.propertyChange".into()),
            object_id: Set(1001),
            occurred_at: Set(0),
            dedupe_key: Set(format!("dedupe-{portal}")),
            payload: Set(json!({})),
            state: Set("pending".into()),
            attempts: Set(0),
            last_error: Set(None),
            received_at: Set(Utc::now()),
            next_attempt_at: Set(Utc::now()),
            applied_at: Set(None),
        }
        .insert(&db.db)
        .await
        .unwrap();
        let queued = webhook_queue::ActiveModel { id: Set(event.id), next_attempt_at: Set(Utc::now()) };
        webhook_queue::Entity::insert(queued).exec_without_returning(&db.db).await.unwrap();
        let key = idempotency_key::ActiveModel {
            portal_id: Set(portal),
            object_type: Set("contact".into()),
            key: Set("k".into()),
            hubspot_id: Set(Some(1001)),
            created_at: Set(Utc::now()),
            expires_at: Set(Utc::now() + chrono::Duration::hours(24)),
        };
        idempotency_key::Entity::insert(key).exec_without_returning(&db.db).await.unwrap();
    }

    let install = Install {
        supervisor: Supervisor::new(db.db.clone(), hubspot, None, Schedule::default()),
        tokens,
        authorize_url: format!("{}/oauth/authorize", sim.base_url()),
        public_url: PUBLIC_URL.to_owned(),
    };
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap();
    let app = server::http::app(state.with_install(Some(Arc::new(install))));
    Setup { sim, db, app }
}

/// HubSpot's page approving an install of portal B (the account the user picks): where it sends the browser.
async fn authorize(url: &str) -> String {
    let url = format!("{url}&portal_id={B}");
    let approved = Client::builder().redirect(Policy::none()).build().unwrap().get(url).send().await.unwrap();
    approved.headers()["location"].to_str().unwrap().to_owned()
}

async fn call(app: &axum::Router, request: Request<Body>) -> (u16, Option<String>, Option<String>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let header = |name: header::HeaderName| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let (location, cookie) = (header(header::LOCATION), header(header::SET_COOKIE));
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, location, cookie, String::from_utf8_lossy(&body).into_owned())
}

async fn disconnect(app: &axum::Router) {
    let request = Request::post(format!("/oauth/hubspot/disconnect/{B}")).body(Body::empty()).unwrap();
    let (status, _, _, body) = call(app, request).await;
    assert_eq!(status, 204, "{body}");
}

/// The install again, through the gateway: a link, opened in a browser, approved for B, the callback.
async fn reinstall(app: &axum::Router) {
    let (status, _, _, body) = call(app, Request::post("/oauth/hubspot/install").body(Body::empty()).unwrap()).await;
    assert_eq!(status, 201, "{body}");
    let link: serde_json::Value = serde_json::from_str(&body).unwrap();
    let path = link["installUrl"].as_str().unwrap().strip_prefix(PUBLIC_URL).unwrap().to_owned();
    let (status, location, cookie, body) = call(app, Request::get(path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, 303, "{body}");
    let nonce = cookie.unwrap().split(';').next().unwrap().to_owned();
    let callback = authorize(&location.unwrap()).await;
    let callback = callback.strip_prefix(PUBLIC_URL).unwrap();
    let request = Request::get(callback).header(header::COOKIE, nonce).body(Body::empty()).unwrap();
    let (status, _, _, body) = call(app, request).await;
    assert_eq!(status, 200, "{body}");
}

async fn count(db: &TestDb, sql: String) -> i64 {
    let row = db.db.query_one_raw(Statement::from_string(db.db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// The portal's rows in each purged table (and on Postgres in the search tables), and in the kept ones.
async fn rows(db: &TestDb, portal: i64) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut tables: Vec<&str> = PURGED.to_vec();
    if db.db.get_database_backend() == DbBackend::Postgres {
        tables.extend(["contacts_search", "companies_search", "deals_search", "tickets_search"]);
    }
    for table in tables.into_iter().chain(["portals", "audit_log"]) {
        let filter = match table {
            "webhook_queue" => format!("id IN (SELECT id FROM webhook_events WHERE portal_id = {portal})"),
            _ => format!("portal_id = {portal}"),
        };
        out.insert(table.to_owned(), count(db, format!("SELECT count(*) AS n FROM {table} WHERE {filter}")).await);
    }
    out
}

async fn disconnected_at(db: &TestDb, portal: i64) -> Option<chrono::DateTime<Utc>> {
    portal::Entity::find_by_id(portal).one(&db.db).await.unwrap().unwrap().disconnected_at
}

on_both!(a_disconnected_portal_is_purged_after_its_grace_period_only, |backend: Backend| async move {
    let Setup { sim: _sim, db, app } = setup(backend).await;
    keys::create(&db.db, "b's app", Role::Reader, &Grant::Only(vec![B])).await.unwrap();
    let (a_before, b_before) = (rows(&db, A).await, rows(&db, B).await);
    for table in PURGED {
        assert!(b_before[table] > 0 && a_before[table] > 0, "{table} holds rows of both portals to start with");
    }

    disconnect(&app).await;
    let at = disconnected_at(&db, B).await.expect("the disconnect is recorded");
    assert!((Utc::now() - at).num_seconds().abs() < 60, "{at}");
    assert_eq!(disconnected_at(&db, A).await, None);
    // A second disconnect does not restart the grace period.
    disconnect(&app).await;
    assert_eq!(disconnected_at(&db, B).await, Some(at));

    // Within the grace period nothing goes.
    let almost = at + chrono::Duration::from_std(GRACE).unwrap() - chrono::Duration::seconds(1);
    assert_eq!(purge_due(&db.db, almost, GRACE).await.unwrap(), []);
    let mut b_kept = b_before.clone();
    b_kept.insert("audit_log".into(), b_before["audit_log"] + 2);
    assert_eq!(rows(&db, B).await, b_kept, "the audit log has the disconnects; the mirror is whole");

    // Past it, every row of B goes but its audit log and API key; A's are untouched.
    let past = at + chrono::Duration::from_std(GRACE).unwrap();
    let purged = purge_due(&db.db, past, GRACE).await.unwrap();
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].0, B);
    let b_after = rows(&db, B).await;
    for (table, n) in &b_after {
        let expected = if table == "audit_log" { b_kept["audit_log"] } else { 0 };
        assert_eq!(*n, expected, "{table} after the purge");
    }
    let removed: i64 =
        b_kept.iter().filter(|(t, _)| t.as_str() != "audit_log" && !t.ends_with("_search")).map(|(_, n)| n).sum();
    assert_eq!(purged[0].1 as i64, removed, "the rows it reports are the rows it removed");
    assert_eq!(rows(&db, A).await, a_before, "the other portal is untouched");
    assert_eq!(keys::list(&db.db).await.unwrap().len(), 1, "the API key stays for an admin to revoke");
    if backend == Backend::Sqlite {
        // The full-text indexes followed the deletes: an index entry of a deleted row fails the check.
        for table in ["contacts", "companies", "deals", "tickets"] {
            let check = format!("INSERT INTO {table}_search({table}_search) VALUES ('integrity-check')");
            db.db.execute_unprepared(&check).await.unwrap();
        }
    }
    assert_eq!(purge_due(&db.db, past + chrono::Duration::days(1), GRACE).await.unwrap(), [], "nothing left to purge");
});

on_both!(a_reinstall_within_the_grace_period_keeps_the_mirror, |backend: Backend| async move {
    let Setup { sim: _sim, db, app } = setup(backend).await;
    disconnect(&app).await;
    let at = disconnected_at(&db, B).await.expect("the disconnect is recorded");
    reinstall(&app).await;
    assert_eq!(disconnected_at(&db, B).await, None, "the reinstall clears the mark");
    let contacts = rows(&db, B).await["contacts"];
    let later = at + chrono::Duration::from_std(GRACE).unwrap() + chrono::Duration::days(30);
    assert_eq!(purge_due(&db.db, later, GRACE).await.unwrap(), [], "nothing is due");
    assert_eq!(rows(&db, B).await["contacts"], contacts);
});
