//! A portal installed by OAuth is supervised like the private app's: the gateway (the `server` binary, on Postgres)
//! is killed with SIGKILL in the middle of both backfills and started again; each backfill resumes and ends with
//! exactly its portal's live records, each portal's calls carry its own credential, and the reconcile sweep keeps the
//! installed portal in step with its own token when no webhook is delivered.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use entities::{contact, sync_state};
use generator::{PortalSpec, generate};
use hubspot::{ObjectType, Portal};
use reqwest::{Client, redirect::Policy};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde_json::json;
use server::{
    config::DEFAULT_OAUTH_SCOPES,
    hubspot::{ClientSettings, HubSpot},
    oauth::{OAuthApp, OAuthTokens, TokenSet, crypto::Keys},
    sync::is_complete,
};
use tests::{
    Backend, TestDb, fixed_now,
    process::ServerProcess,
    sim::{DEFAULT_TOKEN, Running, SimConfig, limits::Chaos},
    small_spec, wait_for,
};

/// The private app's portal.
const A: i64 = 100_001;
/// The portal installed by OAuth.
const B: i64 = 100_002;
const REDIRECT: &str = "http://127.0.0.1:1/oauth/hubspot/callback";

/// B differs from A in size and seed: record ids start at the same numbers in every generated portal, so B's mirror
/// holding B's ids and emails, and not A's, shows whose records (and so whose token) the calls got.
fn spec_b() -> PortalSpec {
    PortalSpec::sized(B, 11, 240, 50, 120, fixed_now())
}

fn encryption_key() -> String {
    format!("k1:{}", STANDARD.encode([9u8; 32]))
}

/// B's install as the gateway's callback would make it: HubSpot's approval for portal B, the code exchanged, the
/// tokens stored encrypted under the key the binary gets.
async fn install_b(sim: &Running, db: &TestDb) -> TokenSet {
    let scopes = DEFAULT_OAUTH_SCOPES;
    let approved = Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/oauth/authorize", sim.base_url()))
        .query(&[
            ("client_id", sim.sim.config.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", scopes),
            ("state", "s"),
            ("portal_id", &B.to_string()),
        ])
        .send()
        .await
        .unwrap();
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let app = OAuthApp {
        client_id: sim.sim.config.client_id.clone(),
        client_secret: sim.sim.config.client_secret.clone(),
        redirect_uri: REDIRECT.to_owned(),
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
    };
    let keys = Arc::new(Keys::new(&encryption_key(), &[]).unwrap());
    let settings = ClientSettings { base_url: sim.base_url(), ..ClientSettings::default() };
    let tokens = OAuthTokens::new(db.db.clone(), keys, app, HubSpot::anonymous(settings));
    let set = tokens.exchange(&code).await.expect("code exchanged");
    assert_eq!(tokens.portal_of(&set.access_token).await.unwrap(), B);
    tokens.store(B, &set).await.unwrap();
    set
}

/// The gateway with the public app configured (B's install) and a sweep every second.
fn start(db: &TestDb, sim: &Running) -> ServerProcess {
    let port = tests::free_port();
    let env = [
        ("HUBSPOT_CLIENT_ID", sim.sim.config.client_id.clone()),
        ("HUBSPOT_CLIENT_SECRET", sim.sim.config.client_secret.clone()),
        ("TOKEN_ENCRYPTION_KEY", encryption_key()),
        ("SYNC_RECONCILE_SECS", "1".to_owned()),
    ];
    ServerProcess::start(db, sim, port, &env)
}

async fn ids(db: &TestDb, table: &str, portal: i64) -> Vec<i64> {
    let sql = format!("SELECT hubspot_id FROM {table} WHERE portal_id = {portal}");
    let rows = db.db.query_all_raw(Statement::from_string(db.db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|r| r.try_get::<i64>("", "hubspot_id").unwrap()).collect()
}

/// The mirror holds each live record of `portal` once and nothing else, and the contacts' emails are that portal's.
async fn assert_mirrors(db: &TestDb, portal: &Portal) {
    for (table, object_type) in [
        ("contacts", ObjectType::Contact),
        ("companies", ObjectType::Company),
        ("deals", ObjectType::Deal),
        ("tickets", ObjectType::Ticket),
    ] {
        let held = ids(db, table, portal.portal_id).await;
        let live: BTreeSet<i64> = portal.objects(object_type).iter().filter(|o| !o.archived).map(|o| o.id).collect();
        assert_eq!(held.len(), live.len(), "{table} of portal {}: none missing or twice", portal.portal_id);
        assert_eq!(held.into_iter().collect::<BTreeSet<_>>(), live, "{table} of portal {}", portal.portal_id);
    }
    let emails: BTreeMap<i64, Option<String>> = contact::Entity::find()
        .filter(contact::Column::PortalId.eq(portal.portal_id))
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.hubspot_id, c.email))
        .collect();
    let expected: BTreeMap<i64, Option<String>> =
        portal.contacts.iter().filter(|c| !c.archived).map(|c| (c.id, c.properties["email"].clone())).collect();
    assert_eq!(emails, expected, "portal {}'s own contacts", portal.portal_id);
}

async fn objects_synced(db: &TestDb, portal: i64) -> i64 {
    let rows = sync_state::Entity::find().filter(sync_state::Column::PortalId.eq(portal)).all(&db.db).await.unwrap();
    rows.iter().map(|s| s.objects_synced).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_portal_survives_a_kill_and_is_swept_with_its_own_token() {
    // Each call waits a while, so the backfills are still going when the gateway is killed.
    let config = SimConfig {
        portals: vec![small_spec(A), spec_b()],
        tokens: vec![DEFAULT_TOKEN.to_owned()],
        rate_limit: 100_000,
        chaos: Chaos { latency_ms: 100, ..Chaos::default() },
        ..SimConfig::default()
    };
    let sim = Running::start(config).await.unwrap();
    let db = TestDb::migrated(Backend::Postgres).await;
    let b_tokens = install_b(&sim, &db).await;

    let mut gateway = start(&db, &sim);
    let part_way = async || objects_synced(&db, B).await > 0 && !is_complete(&db.db, B).await.unwrap();
    wait_for("part of B's backfill", 30, part_way).await;
    gateway.kill();
    assert!(!is_complete(&db.db, B).await.unwrap(), "killed before B's backfill ended");
    sim.sim.set_chaos(Chaos::default());

    let _gateway = start(&db, &sim);
    let both = async || is_complete(&db.db, A).await.unwrap() && is_complete(&db.db, B).await.unwrap();
    wait_for("both backfills", 45, both).await;
    assert_mirrors(&db, &generate(&spec_b())).await;
    assert_mirrors(&db, &generate(&small_spec(A))).await;

    // Each portal's calls carried its own credential, and no other token was used.
    let by_token = sim.sim.stats().by_token;
    assert!(by_token.get(DEFAULT_TOKEN).is_some_and(|n| *n > 0), "A's private app token: {by_token:?}");
    assert!(by_token.get(&b_tokens.access_token).is_some_and(|n| *n > 0), "B's OAuth token: {by_token:?}");
    assert_eq!(by_token.len(), 2, "only A's and B's tokens");
    // The simulator answers a token with its own portal's records: B's token does not see A's contact 1250.
    let http = Client::new();
    let contact = |id: i64| format!("{}/crm/v3/objects/contacts/{id}", sim.base_url());
    let other = http.get(contact(1250)).bearer_auth(&b_tokens.access_token).send().await.unwrap();
    assert_eq!(other.status(), 404, "B's token reads B's portal only");

    // A change at HubSpot with no webhook sent: the sweep, every second, brings it with B's token.
    let changed = generate(&spec_b()).contacts.iter().find(|c| !c.archived).unwrap().id;
    let before = sim.sim.stats().by_token[&b_tokens.access_token];
    let patch = http
        .patch(contact(changed))
        .bearer_auth(&b_tokens.access_token)
        .json(&json!({ "properties": { "firstname": "Swept" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200, "{}", patch.text().await.unwrap());
    let swept = async || {
        let row = contact::Entity::find_by_id((B, changed)).one(&db.db).await.unwrap().unwrap();
        row.firstname.as_deref() == Some("Swept")
    };
    wait_for("the sweep", 15, swept).await;
    let after = sim.sim.stats().by_token;
    assert!(after[&b_tokens.access_token] > before + 1, "the sweep called with B's token");
    assert_eq!(after.len(), 2, "still only A's and B's tokens: {after:?}");
    assert_eq!(sim.sim.sender.snapshot().queued, 0, "no webhook was sent");
}
