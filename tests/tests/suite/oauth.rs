//! OAuth tokens against the simulator: exchanged, stored encrypted, refreshed once however many calls wait, used
//! by the upstream client, and revoked on disconnect.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use entities::oauth_token;
use reqwest::{Client, redirect::Policy};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use server::{
    hubspot::{Call, ClientSettings, HubSpot},
    oauth::{OAuthApp, OAuthTokens, crypto::Keys},
};
use tests::{
    Backend, TestDb, on_both,
    sim::{Running, SimConfig},
    small_spec,
};

const PORTAL: i64 = 100_001;
const REDIRECT: &str = "http://127.0.0.1:1/oauth/hubspot/callback";

fn settings(sim: &Running) -> ClientSettings {
    ClientSettings { base_url: sim.base_url(), min_backoff: Duration::from_millis(10), ..ClientSettings::default() }
}

fn tokens(sim: &Running, db: &TestDb) -> Arc<OAuthTokens> {
    tokens_via(sim, db, settings(sim))
}

fn tokens_via(sim: &Running, db: &TestDb, settings: ClientSettings) -> Arc<OAuthTokens> {
    let keys = Keys::new(&format!("k1:{}", STANDARD.encode([7u8; 32])), &[]).unwrap();
    let app = OAuthApp {
        client_id: sim.sim.config.client_id.clone(),
        client_secret: sim.sim.config.client_secret.clone(),
        redirect_uri: REDIRECT.to_owned(),
        scopes: vec!["oauth".into(), "crm.objects.contacts.read".into()],
    };
    Arc::new(OAuthTokens::new(db.db.clone(), Arc::new(keys), app, HubSpot::anonymous(settings)))
}

/// What a user approving the install in HubSpot's page yields: an authorization code.
async fn authorize(sim: &Running) -> String {
    let response = Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/oauth/authorize", sim.base_url()))
        .query(&[
            ("client_id", sim.sim.config.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            // The simulator holds a token to the scopes it was granted: the test calls owners with it.
            ("scope", "oauth crm.objects.owners.read"),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    location.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned()
}

on_both!(refreshes_once_for_many_waiting_calls, |backend: Backend| async move {
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let tokens = tokens(&sim, &db);
    let set = tokens.exchange(&authorize(&sim).await).await.expect("code exchanged");
    assert_eq!(tokens.portal_of(&set.access_token).await.unwrap(), PORTAL);
    tokens.store(PORTAL, &set).await.unwrap();

    let row = oauth_token::Entity::find_by_id(PORTAL).one(&db.db).await.unwrap().unwrap();
    let needle = &set.refresh_token.as_bytes()[..16];
    assert!(!row.refresh_token_enc.windows(16).any(|w| w == needle), "stored encrypted");
    assert!(!row.access_token_enc.windows(16).any(|w| w == &set.access_token.as_bytes()[..16]));
    assert_eq!(row.key_id, "k1");

    // The access token is about to expire: twenty calls at once cause one refresh.
    let mut expiring = row.into_active_model();
    expiring.expires_at = Set(chrono::Utc::now() + chrono::Duration::seconds(30));
    expiring.update(&db.db).await.unwrap();
    let calls = (0..20).map(|_| tokens.access_token(PORTAL));
    let got = futures::future::join_all(calls).await;
    let first = got[0].as_ref().expect("a token").clone();
    assert_ne!(first, set.access_token);
    assert!(got.iter().all(|t| t.as_ref().ok() == Some(&first)), "every caller got the refreshed token");
    assert_eq!(sim.sim.stats().token_refreshes, 1);

    // The upstream client calls HubSpot with it.
    let hubspot = HubSpot::new(settings(&sim), tokens.clone());
    let owners = hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=1")).await.expect("an OAuth call");
    assert_eq!(owners["results"].as_array().unwrap().len(), 1);

    // Disconnect revokes at HubSpot and forgets locally.
    tokens.disconnect(PORTAL).await.expect("disconnect");
    assert!(oauth_token::Entity::find_by_id(PORTAL).one(&db.db).await.unwrap().is_none());
    let stale = hubspot.send(PORTAL, Call::get("/crm/v3/owners?limit=1")).await.unwrap_err();
    assert!(stale.message.contains("no OAuth install"), "{}", stale.message);
    let refresh = Client::new()
        .post(format!("{}/oauth/v1/token", sim.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", set.refresh_token.as_str()),
            ("client_id", sim.sim.config.client_id.as_str()),
            ("client_secret", sim.sim.config.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), reqwest::StatusCode::BAD_REQUEST, "the refresh token was revoked");
});

on_both!(a_failed_exchange_carries_hubspots_error, |backend: Backend| async move {
    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(backend).await;
    let err = tokens(&sim, &db).exchange("not-a-code").await.unwrap_err();
    assert_eq!((err.status, err.category.as_str()), (Some(400), "BAD_AUTH_CODE"));
    assert!(oauth_token::Entity::find().one(&db.db).await.unwrap().is_none(), "nothing stored");
});

/// Captured log output.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn expire(db: &TestDb) {
    let mut row = oauth_token::Entity::find_by_id(PORTAL).one(&db.db).await.unwrap().unwrap().into_active_model();
    row.expires_at = Set(chrono::Utc::now());
    row.update(&db.db).await.unwrap();
}

/// Tokens appear in no log line and no error, on the paths that handle them: exchange, refresh, a refresh that
/// cannot reach HubSpot, and a disconnect that cannot either.
#[tokio::test]
async fn tokens_never_reach_logs_or_errors() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
    let db = TestDb::migrated(Backend::Sqlite).await;
    let tokens = tokens(&sim, &db);
    let set = tokens.exchange(&authorize(&sim).await).await.unwrap();
    tokens.store(PORTAL, &set).await.unwrap();
    expire(&db).await;
    let first = tokens.access_token(PORTAL).await.unwrap();
    // A log statement another test thread registered while this subscriber was being set (its registration began
    // before and ended after) keeps the "no one listens" it computed then. Each statement on the refresh's path has
    // been met once above, so every one is registered: recompute who listens to each, and refresh again, through
    // tokens of their own (those above hold the refreshed token in memory, and would not refresh).
    tracing::callsite::rebuild_interest_cache();
    expire(&db).await;
    let renewed = self::tokens(&sim, &db).access_token(PORTAL).await.unwrap();

    let unreachable = ClientSettings { base_url: "http://127.0.0.1:1".into(), max_retries: 1, ..settings(&sim) };
    let offline = tokens_via(&sim, &db, unreachable);
    expire(&db).await;
    let refresh_failed = offline.access_token(PORTAL).await.unwrap_err();
    let revoke_failed = offline.disconnect(PORTAL).await.unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("refreshed the OAuth access token"), "the logs were captured: {logs}");
    let seen = format!("{logs}\n{refresh_failed}\n{refresh_failed:?}\n{revoke_failed}\n{revoke_failed:?}\n{set:?}");
    for secret in [&set.access_token, &set.refresh_token, &first, &renewed] {
        assert!(!seen.contains(secret.as_str()), "a token leaked:\n{seen}");
    }
}

mod install {
    //! The install: an admin's key gets a single-use link, the browser that opens it is bound to the install by a
    //! cookie, and only that browser, once, before the state expires, finishes it.

    use std::collections::HashMap;

    use axum::{
        body::Body,
        http::{Request, header},
    };
    use chrono::Utc;
    use entities::{oauth_state, oauth_ticket, portal};
    use schema::Role;
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    use serde_json::{Value, json};
    use server::{
        auth::{Authenticator, Grant, KeyStore, keys},
        http::AppState,
        metrics::Metrics,
        oauth::Install,
        sync::{Schedule, Supervisor},
    };
    use tower::ServiceExt;

    use super::*;

    const PUBLIC_URL: &str = "http://127.0.0.1:1";

    fn install(sim: &Running, db: &TestDb, public_url: &str) -> Arc<Install> {
        let tokens = tokens(sim, db);
        let hubspot = HubSpot::new(settings(sim), tokens.clone());
        Arc::new(Install {
            supervisor: Supervisor::new(db.db.clone(), hubspot, None, Schedule::default()),
            tokens,
            authorize_url: format!("{}/oauth/authorize", sim.base_url()),
            public_url: public_url.to_owned(),
        })
    }

    /// The gateway without callers' checks (`AppState::new`: every caller is an admin).
    /// The simulator with the one portal, and a fresh mirror.
    async fn simulated(backend: Backend) -> (Running, TestDb) {
        let sim =
            Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
        (sim, TestDb::migrated(backend).await)
    }

    async fn app(sim: &Running, db: &TestDb) -> axum::Router {
        let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap();
        server::http::app(state.with_install(Some(install(sim, db, PUBLIC_URL))))
    }

    /// The gateway checking API keys, at `public_url`.
    async fn guarded(sim: &Running, db: &TestDb, public_url: &str) -> axum::Router {
        let keys = KeyStore::load(&db.db).await.unwrap().reloading_on_miss_after(Duration::ZERO);
        let state = AppState::new(db.db.clone(), Metrics::default())
            .await
            .unwrap()
            .with_auth(Arc::new(Authenticator::On { keys, jwt: None }), None)
            .with_install(Some(install(sim, db, public_url)));
        server::http::app(state)
    }

    struct Answer {
        status: u16,
        headers: axum::http::HeaderMap,
        body: String,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(|v| v.to_str().unwrap())
        }

        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
        }
    }

    async fn call(app: &axum::Router, request: Request<Body>) -> Answer {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    /// A browser's navigation to `path`, sending the install cookie when it has one.
    async fn get(app: &axum::Router, path: &str, nonce: Option<&str>) -> Answer {
        let mut request = Request::get(path);
        if let Some(nonce) = nonce {
            request = request.header(header::COOKIE, format!("theme=dark; hsgw_install={nonce}"));
        }
        call(app, request.body(Body::empty()).unwrap()).await
    }

    /// `POST /oauth/hubspot/install`, with `key` when given.
    async fn ask(app: &axum::Router, key: Option<&str>) -> Answer {
        let mut request = Request::post("/oauth/hubspot/install");
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        call(app, request.body(Body::empty()).unwrap()).await
    }

    /// An install link's path (its ticket checked for shape) after checking the answer that gave it.
    async fn link(app: &axum::Router, key: Option<&str>) -> String {
        let answer = ask(app, key).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        let json = answer.json();
        let url = json["installUrl"].as_str().unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(json["expiresAt"].as_str().unwrap()).unwrap();
        let left = expires.with_timezone(&Utc) - Utc::now();
        assert!(left > chrono::Duration::minutes(4) && left <= chrono::Duration::minutes(5), "{left}");
        let path = url.strip_prefix(PUBLIC_URL).unwrap_or_else(|| panic!("{url}")).to_owned();
        assert!(path.starts_with("/oauth/hubspot/install/"), "{path}");
        path
    }

    /// A browser that opened an install link: the state HubSpot was sent, the authorize URL and the cookie's nonce.
    struct Browser {
        state: String,
        authorize: String,
        nonce: String,
    }

    /// Opens `path` (an install link) and checks it went on to HubSpot with a state and set the cookie.
    async fn open(app: &axum::Router, sim: &Running, path: &str) -> Browser {
        let answer = get(app, path, None).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        let authorize = answer.header("location").unwrap().to_owned();
        assert!(authorize.starts_with(&format!("{}/oauth/authorize?", sim.base_url())), "{authorize}");
        let url = reqwest::Url::parse(&authorize).unwrap();
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["redirect_uri"], REDIRECT);
        assert!(query["scope"].contains("crm.objects.contacts.read"));
        let cookie = answer.header("set-cookie").unwrap();
        let (pair, attributes) = cookie.split_once("; ").unwrap();
        assert_eq!(attributes, "HttpOnly; SameSite=Lax; Path=/oauth/hubspot; Max-Age=600", "not Secure on http");
        let nonce = pair.strip_prefix("hsgw_install=").unwrap().to_owned();
        Browser { state: query["state"].clone(), authorize, nonce }
    }

    /// An install started by the (unchecked) admin, open in a browser.
    async fn begin(app: &axum::Router, sim: &Running) -> Browser {
        let path = link(app, None).await;
        open(app, sim, &path).await
    }

    /// HubSpot's page approving the install: the callback's path and query the browser is sent back to.
    async fn approve(browser: &Browser) -> String {
        let approved =
            Client::builder().redirect(Policy::none()).build().unwrap().get(&browser.authorize).send().await.unwrap();
        let back = approved.headers()["location"].to_str().unwrap().to_owned();
        back.strip_prefix("http://127.0.0.1:1").unwrap().to_owned()
    }

    async fn stored(db: &TestDb) -> u64 {
        oauth_token::Entity::find().count(&db.db).await.unwrap()
    }

    fn assert_refused(answer: &Answer, says: &str) {
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(answer.body.contains(says), "{says:?} in {}", answer.body);
        let cleared = answer.header("set-cookie").unwrap_or_default();
        assert!(cleared.starts_with("hsgw_install=;") && cleared.contains("Max-Age=0"), "{cleared}");
    }

    on_both!(the_install_page_explains_the_two_steps, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let answer = get(&app(&sim, &db).await, "/oauth/hubspot/install", None).await;
        assert_eq!((answer.status, answer.header("location")), (200, None), "no redirect");
        assert!(answer.body.contains("curl -X POST") && answer.body.contains("installUrl"), "{}", answer.body);
        assert_eq!(oauth_state::Entity::find().count(&db.db).await.unwrap(), 0, "nor a state");
    });

    on_both!(only_an_admin_gets_an_install_link, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let grant = Grant::Only(vec![PORTAL]);
        let (reader, _) = keys::create(&db.db, "r", Role::Reader, &grant).await.unwrap();
        let (writer, _) = keys::create(&db.db, "w", Role::Writer, &grant).await.unwrap();
        let (admin, admin_info) = keys::create(&db.db, "a", Role::Admin, &Grant::All).await.unwrap();
        let app = guarded(&sim, &db, "https://gw.example.com").await;

        let answer = ask(&app, None).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert!(answer.header("www-authenticate").unwrap().starts_with("Bearer"));
        assert_eq!(answer.json()["code"], "UNAUTHENTICATED");
        for key in [&reader, &writer] {
            let answer = ask(&app, Some(key)).await;
            assert_eq!((answer.status, answer.json()["code"].clone()), (403, json!("FORBIDDEN")), "{}", answer.body);
        }
        assert_eq!(oauth_ticket::Entity::find().count(&db.db).await.unwrap(), 0, "no refused caller made a ticket");

        let answer = ask(&app, Some(&admin)).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let url = answer.json()["installUrl"].as_str().unwrap().to_owned();
        let ticket = url.strip_prefix("https://gw.example.com/oauth/hubspot/install/").unwrap();
        let row = oauth_ticket::Entity::find().one(&db.db).await.unwrap().unwrap();
        assert_ne!(row.ticket_hash, ticket, "only a hash of the ticket is stored");
        assert_eq!(row.created_by, format!("key:{}", admin_info.id));

        // Opened in a browser, with no key: the link itself is the credential, and on https the cookie is Secure.
        let answer = get(&app, &format!("/oauth/hubspot/install/{ticket}"), None).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        let cookie = answer.header("set-cookie").unwrap();
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        let nonce = cookie.split(';').next().unwrap().strip_prefix("hsgw_install=").unwrap();
        let state = oauth_state::Entity::find().one(&db.db).await.unwrap().unwrap();
        let bound = state.browser_hash.unwrap();
        assert!(bound.len() == 64 && bound != nonce, "only a hash of the browser's nonce is stored");
        assert_eq!(state.created_by.as_deref(), Some(format!("key:{}", admin_info.id).as_str()));
    });

    on_both!(a_ticket_works_once_even_opened_at_once, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let app = app(&sim, &db).await;
        let path = link(&app, None).await;
        let opened = futures::future::join_all((0..8).map(|_| get(&app, &path, None))).await;
        let statuses: Vec<u16> = opened.iter().map(|a| a.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
        assert!(opened.iter().filter(|a| a.status != 303).all(|a| a.status == 400 && a.body.contains("already used")));
        assert_eq!(oauth_state::Entity::find().count(&db.db).await.unwrap(), 1, "one install started");

        let answer = get(&app, "/oauth/hubspot/install/0123abcd", None).await;
        assert_eq!(answer.status, 400, "a made-up ticket: {}", answer.body);

        // A ticket past its five minutes.
        let path = link(&app, None).await;
        oauth_ticket::Entity::update_many()
            .col_expr(oauth_ticket::Column::ExpiresAt, sea_orm::sea_query::Expr::value(Utc::now()))
            .exec(&db.db)
            .await
            .unwrap();
        let answer = get(&app, &path, None).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(answer.body.contains("expired"));
        assert_eq!(oauth_state::Entity::find().count(&db.db).await.unwrap(), 1, "no install started");
    });

    on_both!(failures_end_on_an_error_page_and_store_nothing, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let app = app(&sim, &db).await;

        let browser = begin(&app, &sim).await;
        let answer = get(&app, "/oauth/hubspot/callback?code=x&state=forged", Some(&browser.nonce)).await;
        assert_refused(&answer, "unknown, already used or expired");

        let path = format!("/oauth/hubspot/callback?error=access_denied&state={}", browser.state);
        assert_refused(&get(&app, &path, Some(&browser.nonce)).await, "did not grant access");

        let browser = begin(&app, &sim).await;
        let path = format!("/oauth/hubspot/callback?code=bogus&state={}", browser.state);
        let answer = get(&app, &path, Some(&browser.nonce)).await;
        assert_eq!(answer.status, 502);
        assert!(answer.body.contains("BAD_AUTH_CODE"), "{}", answer.body);

        assert_eq!(stored(&db).await, 0, "no failure stored tokens");
        assert_eq!(portal::Entity::find().count(&db.db).await.unwrap(), 0, "nor registered a portal");
    });

    on_both!(a_callback_from_another_browser_is_refused_and_stores_nothing, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let app = app(&sim, &db).await;

        // Someone else's approved callback, opened in a browser with no install cookie.
        let victim = begin(&app, &sim).await;
        let callback = approve(&victim).await;
        assert_refused(&get(&app, &callback, None).await, "another browser");
        // The state was used up by that attempt: not even its own browser can finish it now.
        assert_refused(&get(&app, &callback, Some(&victim.nonce)).await, "already used");

        // The attacker's own install, started to get a nonce of their own: it fits no one else's state.
        let victim = begin(&app, &sim).await;
        let attacker = begin(&app, &sim).await;
        let callback = approve(&victim).await;
        assert_refused(&get(&app, &callback, Some(&attacker.nonce)).await, "another browser");
        assert_refused(&get(&app, &callback, Some("not-a-nonce")).await, "already used");

        assert_eq!(stored(&db).await, 0, "no tokens stored");
        assert_eq!(portal::Entity::find().count(&db.db).await.unwrap(), 0, "nor a portal registered");
    });

    on_both!(a_state_is_refused_used_twice_or_expired, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let app = app(&sim, &db).await;

        let browser = begin(&app, &sim).await;
        let callback = approve(&browser).await;
        oauth_state::Entity::update_many()
            .col_expr(oauth_state::Column::ExpiresAt, sea_orm::sea_query::Expr::value(Utc::now()))
            .filter(oauth_state::Column::State.eq(&browser.state))
            .exec(&db.db)
            .await
            .unwrap();
        assert_refused(&get(&app, &callback, Some(&browser.nonce)).await, "expired");
        assert_eq!(stored(&db).await, 0);

        // Two tabs bring the same callback back at once: one install, one refusal.
        let browser = begin(&app, &sim).await;
        let callback = approve(&browser).await;
        let (first, second) =
            tokio::join!(get(&app, &callback, Some(&browser.nonce)), get(&app, &callback, Some(&browser.nonce)));
        let mut statuses = [first.status, second.status];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "{} / {}", first.body, second.body);
        assert_eq!(stored(&db).await, 1);
        assert_refused(&get(&app, &callback, Some(&browser.nonce)).await, "already used");
    });

    on_both!(expired_states_and_tickets_are_purged, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let app = app(&sim, &db).await;
        let live = begin(&app, &sim).await;
        let past = Utc::now() - chrono::Duration::minutes(1);
        for n in 0..3 {
            let state = oauth_state::ActiveModel {
                state: Set(format!("abandoned-{n}")),
                expires_at: Set(past),
                created_at: Set(past - chrono::Duration::minutes(10)),
                browser_hash: Set(Some("00".repeat(32))),
                created_by: Set(None),
            };
            oauth_state::Entity::insert(state).exec_without_returning(&db.db).await.unwrap();
            let ticket = oauth_ticket::ActiveModel {
                ticket_hash: Set(format!("unused-{n}")),
                created_by: Set("anonymous".into()),
                expires_at: Set(past),
                created_at: Set(past - chrono::Duration::minutes(5)),
            };
            oauth_ticket::Entity::insert(ticket).exec_without_returning(&db.db).await.unwrap();
        }

        // Asking for a link clears expired tickets; opening it, expired states.
        let path = link(&app, None).await;
        assert_eq!(oauth_ticket::Entity::find().count(&db.db).await.unwrap(), 1, "the new ticket only");
        assert_eq!(oauth_state::Entity::find().count(&db.db).await.unwrap(), 4);
        let opened = open(&app, &sim, &path).await;
        let mut states: Vec<String> =
            oauth_state::Entity::find().all(&db.db).await.unwrap().into_iter().map(|s| s.state).collect();
        states.sort();
        let mut live = vec![live.state, opened.state];
        live.sort();
        assert_eq!(states, live, "the live states only");
        assert_eq!(oauth_ticket::Entity::find().count(&db.db).await.unwrap(), 0, "the opened ticket is used up");
    });

    on_both!(an_approved_install_stores_tokens_and_registers_the_portal, |backend: Backend| async move {
        let (sim, db) = simulated(backend).await;
        let app = app(&sim, &db).await;
        let browser = begin(&app, &sim).await;
        let callback = approve(&browser).await;
        let answer = get(&app, &callback, Some(&browser.nonce)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains(&format!("Portal {PORTAL}")));
        assert!(answer.header("set-cookie").unwrap().contains("Max-Age=0"), "the cookie is cleared");
        assert_eq!(stored(&db).await, 1);
        assert!(portal::Entity::find_by_id(PORTAL).one(&db.db).await.unwrap().is_some());
        assert_eq!(oauth_state::Entity::find().count(&db.db).await.unwrap(), 0, "the state is used up");

        assert_refused(&get(&app, &callback, Some(&browser.nonce)).await, "already used");
    });
}
