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
            ("scope", "oauth"),
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
    // A log statement another test thread met first, while this subscriber was being registered, can keep the
    // "no one listens" it cached then: recompute what each statement's listeners are, now that this one is there.
    tracing::callsite::rebuild_interest_cache();
    let set = tokens.exchange(&authorize(&sim).await).await.unwrap();
    tokens.store(PORTAL, &set).await.unwrap();
    expire(&db).await;
    let renewed = tokens.access_token(PORTAL).await.unwrap();

    let unreachable = ClientSettings { base_url: "http://127.0.0.1:1".into(), max_retries: 1, ..settings(&sim) };
    let offline = tokens_via(&sim, &db, unreachable);
    expire(&db).await;
    let refresh_failed = offline.access_token(PORTAL).await.unwrap_err();
    let revoke_failed = offline.disconnect(PORTAL).await.unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("refreshed the OAuth access token"), "the logs were captured: {logs}");
    let seen = format!("{logs}\n{refresh_failed}\n{refresh_failed:?}\n{revoke_failed}\n{revoke_failed:?}\n{set:?}");
    for secret in [&set.access_token, &set.refresh_token, &renewed] {
        assert!(!seen.contains(secret.as_str()), "a token leaked:\n{seen}");
    }
}

mod install {
    use std::collections::HashMap;

    use axum::{body::Body, http::Request};
    use chrono::Utc;
    use entities::{oauth_state, portal};
    use sea_orm::PaginatorTrait;
    use server::{http::AppState, metrics::Metrics, oauth::Install};
    use tower::ServiceExt;

    use super::*;

    async fn app(sim: &Running, db: &TestDb) -> axum::Router {
        let tokens = tokens(sim, db);
        let install = Install {
            hubspot: HubSpot::new(settings(sim), tokens.clone()),
            tokens,
            authorize_url: format!("{}/oauth/authorize", sim.base_url()),
        };
        let state =
            AppState::new(db.db.clone(), Metrics::default()).await.unwrap().with_install(Some(Arc::new(install)));
        server::http::app(state)
    }

    async fn get(app: &axum::Router, path: &str) -> (u16, String, Option<String>) {
        let response = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned(), location)
    }

    /// The install redirect's `state`, after checking where it points.
    async fn begin(app: &axum::Router, sim: &Running) -> (String, String) {
        let (status, _, location) = get(app, "/oauth/hubspot/install").await;
        assert_eq!(status, 303);
        let location = location.unwrap();
        assert!(location.starts_with(&format!("{}/oauth/authorize?", sim.base_url())), "{location}");
        let url = reqwest::Url::parse(&location).unwrap();
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["redirect_uri"], REDIRECT);
        assert!(query["scope"].contains("crm.objects.contacts.read"));
        (query["state"].clone(), location)
    }

    async fn stored(db: &TestDb) -> u64 {
        oauth_token::Entity::find().count(&db.db).await.unwrap()
    }

    on_both!(failures_end_on_an_error_page_and_store_nothing, |backend: Backend| async move {
        let sim =
            Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
        let db = TestDb::migrated(backend).await;
        let app = app(&sim, &db).await;

        let (status, body, _) = get(&app, "/oauth/hubspot/callback?code=x&state=forged").await;
        assert_eq!(status, 400);
        assert!(body.contains("unknown or already used"), "{body}");

        let (state, _) = begin(&app, &sim).await;
        let (status, body, _) = get(&app, &format!("/oauth/hubspot/callback?error=access_denied&state={state}")).await;
        assert_eq!(status, 400);
        assert!(body.contains("did not grant access"), "{body}");

        let (state, _) = begin(&app, &sim).await;
        let (status, body, _) = get(&app, &format!("/oauth/hubspot/callback?code=bogus&state={state}")).await;
        assert_eq!(status, 502);
        assert!(body.contains("BAD_AUTH_CODE"), "{body}");

        let expired = oauth_state::ActiveModel {
            state: Set("old".into()),
            expires_at: Set(Utc::now() - chrono::Duration::minutes(1)),
            created_at: Set(Utc::now() - chrono::Duration::minutes(11)),
        };
        oauth_state::Entity::insert(expired).exec_without_returning(&db.db).await.unwrap();
        let (status, body, _) = get(&app, "/oauth/hubspot/callback?code=x&state=old").await;
        assert_eq!(status, 400);
        assert!(body.contains("expired"), "{body}");

        assert_eq!(stored(&db).await, 0, "no failure stored tokens");
        assert_eq!(portal::Entity::find().count(&db.db).await.unwrap(), 0, "nor registered a portal");
    });

    on_both!(an_approved_install_stores_tokens_and_registers_the_portal, |backend: Backend| async move {
        let sim =
            Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
        let db = TestDb::migrated(backend).await;
        let app = app(&sim, &db).await;
        let (_, authorize) = begin(&app, &sim).await;
        // HubSpot's page approves and sends the browser back to the callback.
        let approved = Client::builder().redirect(Policy::none()).build().unwrap().get(authorize).send().await.unwrap();
        let back = approved.headers()["location"].to_str().unwrap().to_owned();
        let callback = back.strip_prefix("http://127.0.0.1:1").unwrap().to_owned();
        let (status, body, _) = get(&app, &callback).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&format!("Portal {PORTAL}")));
        assert_eq!(stored(&db).await, 1);
        assert!(portal::Entity::find_by_id(PORTAL).one(&db.db).await.unwrap().is_some());

        let (status, body, _) = get(&app, &callback).await;
        assert_eq!(status, 400, "a state works once");
        assert!(body.contains("already used"));
    });
}
