//! Callers: an API key names a role and the portals it may read. No credential, a wrong one or a revoked one is a
//! 401 with a challenge; a portal the key does not grant is a 403 without a database read, over HTTP and over both
//! WebSocket protocols; a reader cannot write, a writer cannot replay, and every mutation and admin field in the
//! schema refuses the roles below it.

use std::{collections::BTreeSet, sync::Arc};

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use schema::Role;
use serde_json::{Value, json};
use server::{
    auth::{Authenticator, Grant, KeyStore, keys},
    http::{AppState, app},
    metrics::Metrics,
};
use tests::{Backend, Mirror, TestDb, small_spec, subscriber::Subscriber};
use tower::ServiceExt;

/// A gateway over `db` that checks API keys (reading the table again at every unknown one).
async fn guarded(db: &TestDb) -> (axum::Router, Arc<Authenticator>) {
    let keys = KeyStore::load(&db.db).await.unwrap().reloading_on_miss_after(std::time::Duration::ZERO);
    let auth = Arc::new(Authenticator::On { keys, jwt: None });
    let state = AppState::new(db.db.clone(), Metrics::default()).await.unwrap().with_auth(auth.clone(), None);
    (app(state), auth)
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

async fn post(app: &axum::Router, query: &str, key: Option<&str>, portal: Option<i64>) -> Answer {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    if let Some(portal) = portal {
        request = request.header("X-HubSpot-Portal-Id", portal.to_string());
    }
    let body = Body::from(json!({ "query": query }).to_string());
    let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let challenge = response.headers().get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_owned());
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer { status, challenge, body: serde_json::from_slice(&bytes).unwrap() }
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code: {body}"))
}

const COUNT: &str = "{ contacts { totalCount } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_needs_a_live_key_and_reads_only_the_portals_it_grants() {
    let mirror = Mirror::small(Backend::Postgres).await;
    let portal = mirror.portal.portal_id;
    let other = tests::generator::generate(&small_spec(portal + 1));
    server::mirror::write_portal(&mirror.db.db, &other).await.unwrap();
    let db = &mirror.db.db;
    let (reader, _) = keys::create(db, "web app", Role::Reader, &Grant::Only(vec![portal])).await.unwrap();
    let (revoked, revoked_info) = keys::create(db, "old", Role::Reader, &Grant::Only(vec![portal])).await.unwrap();
    let (app, auth) = guarded(&mirror.db).await;

    let missing = post(&app, COUNT, None, None).await;
    assert_eq!((missing.status, code(&missing.body)), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
    assert!(missing.challenge.unwrap().starts_with("Bearer"), "a 401 carries a WWW-Authenticate challenge");

    // The key with its last character changed: the right id, the wrong secret.
    let last = if reader.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &reader[..reader.len() - 1]);
    let answer = post(&app, COUNT, Some(&wrong), None).await;
    assert_eq!((answer.status, code(&answer.body)), (StatusCode::UNAUTHORIZED, "KEY_UNKNOWN"));
    assert!(!answer.body.to_string().contains(&wrong[10..]), "the answer does not echo the credential");
    let answer = post(&app, COUNT, Some("not-a-key"), None).await;
    assert_eq!((answer.status, code(&answer.body)), (StatusCode::UNAUTHORIZED, "CREDENTIAL_MALFORMED"));

    // The key's one portal is read without naming it; the other portal in the mirror is refused by the grant alone.
    let answer = post(&app, COUNT, Some(&reader), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()));
    let before = mirror.db.statement_count();
    let answer = post(&app, COUNT, Some(&reader), Some(portal + 1)).await;
    assert_eq!((answer.status, code(&answer.body)), (StatusCode::FORBIDDEN, "FORBIDDEN_PORTAL"));
    assert_eq!(mirror.db.statement_count(), before, "a portal the key does not grant costs no database read");

    assert_eq!(post(&app, COUNT, Some(&revoked), None).await.status, StatusCode::OK);
    assert!(keys::revoke(db, &revoked_info.id).await.unwrap());
    let Authenticator::On { keys: store, .. } = auth.as_ref() else { unreachable!() };
    store.reload(db).await.unwrap();
    let answer = post(&app, COUNT, Some(&revoked), None).await;
    assert_eq!((answer.status, code(&answer.body)), (StatusCode::UNAUTHORIZED, "KEY_REVOKED"));

    // A key made after the gateway loaded its keys works at once (an unknown id reads the table again).
    let (late, _) = keys::create(db, "late", Role::Reader, &Grant::All).await.unwrap();
    let answer = post(&app, COUNT, Some(&late), Some(portal + 1)).await;
    assert_eq!(answer.body["data"]["contacts"]["totalCount"], json!(other.contacts.len()), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cannot_write_and_a_writer_cannot_replay() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let portal = mirror.portal.portal_id;
    let db = &mirror.db.db;
    let grant = Grant::Only(vec![portal]);
    let (reader, _) = keys::create(db, "r", Role::Reader, &grant).await.unwrap();
    let (writer, _) = keys::create(db, "w", Role::Writer, &grant).await.unwrap();
    let (admin, _) = keys::create(db, "a", Role::Admin, &grant).await.unwrap();
    let (app, _) = guarded(&mirror.db).await;

    let create = r#"mutation { createContact(input: {email: "new@example.com"}) { hubspotId } }"#;
    let answer = post(&app, create, Some(&reader), None).await;
    assert_eq!(code(&answer.body), "FORBIDDEN", "{}", answer.body);
    assert_eq!(answer.body["errors"][0]["extensions"]["role"], "writer");
    // A writer passes the guard and meets the next check: this gateway has no HubSpot to write to.
    let answer = post(&app, create, Some(&writer), None).await;
    assert_eq!(code(&answer.body), "UPSTREAM_UNAVAILABLE", "{}", answer.body);

    let replay = "mutation { replayWebhookEvents }";
    assert_eq!(code(&post(&app, replay, Some(&writer), None).await.body), "FORBIDDEN");
    let events = "{ webhookEvents(state: DEAD) { id payload } }";
    assert_eq!(code(&post(&app, events, Some(&writer), None).await.body), "FORBIDDEN");
    let answer = post(&app, events, Some(&admin), None).await;
    assert_eq!(answer.body["data"]["webhookEvents"], json!([]), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_is_refused_without_a_key_and_for_a_portal_its_key_does_not_grant() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let portal = mirror.portal.portal_id;
    let other = tests::generator::generate(&small_spec(portal + 1));
    server::mirror::write_portal(&mirror.db.db, &other).await.unwrap();
    let (reader, _) = keys::create(&mirror.db.db, "r", Role::Reader, &Grant::Only(vec![portal])).await.unwrap();
    let (router, _) = guarded(&mirror.db).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let bearer = format!("Bearer {reader}");
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let none = Subscriber::connect(&url, protocol, json!({})).await;
        assert!(none.is_err(), "{protocol}: no key");
        let forbidden = json!({ "Authorization": bearer, "X-HubSpot-Portal-Id": (portal + 1).to_string() });
        assert!(Subscriber::connect(&url, protocol, forbidden).await.is_err(), "{protocol}: another portal");
        let granted = json!({ "Authorization": bearer });
        assert!(Subscriber::connect(&url, protocol, granted).await.is_ok(), "{protocol}: its own portal");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The schema walk: every field, called with arguments made from its introspected types.

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// A literal for a value of `ty` (an introspected type reference); required input fields only.
fn literal(ty: &Value, types: &Value) -> String {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" => literal(&ty["ofType"], types),
        "LIST" => format!("[{}]", literal(&ty["ofType"], types)),
        "ENUM" => {
            let found = types.as_array().unwrap().iter().find(|t| t["name"] == ty["name"]).unwrap();
            found["enumValues"][0]["name"].as_str().unwrap().to_owned()
        }
        "INPUT_OBJECT" => {
            let found = types.as_array().unwrap().iter().find(|t| t["name"] == ty["name"]).unwrap();
            let fields: Vec<String> = found["inputFields"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["type"]["kind"] == "NON_NULL")
                .map(|f| format!("{}: {}", f["name"].as_str().unwrap(), literal(&f["type"], types)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => match ty["name"].as_str().unwrap() {
            "Int" => "1".to_owned(),
            "Float" => "1.5".to_owned(),
            "Boolean" => "true".to_owned(),
            "DateTime" => "\"2026-01-01T00:00:00Z\"".to_owned(),
            "JSON" => "{}".to_owned(),
            _ => "\"1\"".to_owned(),
        },
    }
}

/// Whether a type reference ends in an object (its field then needs a selection).
fn is_composite(ty: &Value) -> bool {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" | "LIST" => is_composite(&ty["ofType"]),
        kind => matches!(kind, "OBJECT" | "INTERFACE" | "UNION"),
    }
}

/// `operation { field(required args) { __typename } }` for every field of the root type `root`.
async fn root_calls(mirror: &Mirror, root: &str, operation: &str) -> Vec<(String, String)> {
    let introspection = format!(
        "{{ __schema {{ types {{ name enumValues {{ name }} inputFields {{ name type {{ {TYPE_REF} }} }} }} }}
           root: __type(name: \"{root}\") {{ fields {{ name type {{ {TYPE_REF} }} args {{ name type {{ {TYPE_REF} }} }} }} }} }}"
    );
    let data = mirror.data(&introspection, json!({})).await;
    let types = &data["__schema"]["types"];
    let mut calls = Vec::new();
    for field in data["root"]["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap().to_owned();
        let args: Vec<String> = field["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"]["kind"] == "NON_NULL")
            .map(|a| format!("{}: {}", a["name"].as_str().unwrap(), literal(&a["type"], types)))
            .collect();
        let args = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
        let selection = if is_composite(&field["type"]) { " { __typename }" } else { "" };
        calls.push((name.clone(), format!("{operation} {{ {name}{args}{selection} }}")));
    }
    calls
}

/// Whether `role` is refused `call`, by the guard (and not by anything after it).
async fn refused(mirror: &Mirror, role: Role, call: &str) -> bool {
    let answer = mirror.run_as(role, mirror.portal.portal_id, call, json!({})).await;
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    // Errors with a path were raised while running fields; one without is the walk's call failing validation.
    assert!(
        errors.iter().all(|e| e["path"].is_array()),
        "the walk made a call the schema cannot run: {call}: {answer}"
    );
    errors.iter().any(|e| e["extensions"]["code"] == "FORBIDDEN")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_refuses_a_reader_and_every_admin_field_a_writer() {
    let mirror = Mirror::small(Backend::Sqlite).await;
    let admin_fields: BTreeSet<&str> = ["webhookEvents", "replayWebhookEvents", "auditLog"].into();

    let mutations = root_calls(&mirror, "Mutation", "mutation").await;
    assert!(mutations.len() > 20, "the walk found the mutations: {}", mutations.len());
    for (name, call) in &mutations {
        assert!(refused(&mirror, Role::Reader, call).await, "a reader may not call {name}");
        let admin_only = admin_fields.contains(name.as_str());
        assert_eq!(refused(&mirror, Role::Writer, call).await, admin_only, "a writer and {name}");
        assert!(!refused(&mirror, Role::Admin, call).await, "an admin may call {name}");
    }

    let queries = root_calls(&mirror, "Query", "query").await;
    assert!(queries.len() > 20, "the walk found the queries: {}", queries.len());
    for (name, call) in &queries {
        let admin_only = admin_fields.contains(name.as_str());
        assert_eq!(refused(&mirror, Role::Reader, call).await, admin_only, "a reader and {name}");
        assert_eq!(refused(&mirror, Role::Writer, call).await, admin_only, "a writer and {name}");
        assert!(!refused(&mirror, Role::Admin, call).await, "an admin may call {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_from_the_identity_provider_names_its_role_and_portals() {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use server::auth::{JwtConfig, JwtVerifier};
    const SECRET: &str = "a shared secret of at least 32 bytes";
    let mirror = Mirror::small(Backend::Sqlite).await;
    let portal = mirror.portal.portal_id;
    let config = JwtConfig {
        secret: Some(SECRET.into()),
        issuer: Some("https://id.example.com".into()),
        audience: Some("hubspot-gateway".into()),
        ..JwtConfig::default()
    };
    let jwt = JwtVerifier::new(config, reqwest::Client::new());
    let keys = KeyStore::load(&mirror.db.db).await.unwrap();
    let auth = Arc::new(Authenticator::On { keys, jwt: Some(jwt) });
    let app = app(AppState::new(mirror.db.db.clone(), Metrics::default()).await.unwrap().with_auth(auth, None));
    let now = chrono::Utc::now().timestamp();
    let token = |changes: Value, secret: &str| {
        let mut claims = json!({ "sub": "ada@example.com", "iss": "https://id.example.com", "aud": "hubspot-gateway",
            "exp": now + 600, "portals": [portal], "role": "reader" });
        claims.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap()).unwrap()
    };

    let good = token(json!({}), SECRET);
    let answer = post(&app, COUNT, Some(&good), None).await;
    assert_eq!(answer.body["data"]["contacts"]["totalCount"], json!(mirror.portal.contacts.len()), "{}", answer.body);
    let create = r#"mutation { createContact(input: {email: "new@example.com"}) { hubspotId } }"#;
    assert_eq!(code(&post(&app, create, Some(&good), None).await.body), "FORBIDDEN", "the token's role is reader");
    let answer = post(&app, COUNT, Some(&good), Some(portal + 1)).await;
    assert_eq!((answer.status, code(&answer.body)), (StatusCode::FORBIDDEN, "FORBIDDEN_PORTAL"));

    for (changes, secret, expected) in [
        (json!({ "exp": now - 3600 }), SECRET, "TOKEN_EXPIRED"),
        (json!({ "aud": "another-app" }), SECRET, "TOKEN_WRONG_AUDIENCE"),
        (json!({ "iss": "https://elsewhere.example.com" }), SECRET, "TOKEN_WRONG_ISSUER"),
        (json!({}), "another secret of at least 32 bytes!", "TOKEN_BAD_SIGNATURE"),
        (json!({ "role": "owner" }), SECRET, "TOKEN_MALFORMED"),
        (json!({ "portals": [] }), SECRET, "TOKEN_MALFORMED"),
    ] {
        let answer = post(&app, COUNT, Some(&token(changes.clone(), secret)), None).await;
        assert_eq!((answer.status, code(&answer.body)), (StatusCode::UNAUTHORIZED, expected), "{changes}");
        assert!(answer.challenge.unwrap().contains("invalid_token"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_past_its_rate_is_told_when_to_retry_on_every_replica() {
    use server::http::rate::CallerRates;
    let mirror = Mirror::small(Backend::Sqlite).await;
    let grant = Grant::Only(vec![mirror.portal.portal_id]);
    let (busy, _) = keys::create(&mirror.db.db, "busy", Role::Reader, &grant).await.unwrap();
    let (other, _) = keys::create(&mirror.db.db, "other", Role::Reader, &grant).await.unwrap();
    let redis = tests::redis_server::isolated(&tests::redis_server::redis_url());
    // Two replicas sharing one Redis: three requests a minute for each credential, wherever they land.
    let per_minute = std::num::NonZeroU32::new(3).unwrap();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let keys = KeyStore::load(&mirror.db.db).await.unwrap();
        let state = AppState::new(mirror.db.db.clone(), Metrics::default())
            .await
            .unwrap()
            .with_auth(Arc::new(Authenticator::On { keys, jwt: None }), None)
            .with_rates(CallerRates::new(per_minute, Some(redis.clone())));
        replicas.push(app(state));
    }
    for replica in [&replicas[0], &replicas[1], &replicas[0]] {
        assert_eq!(post(replica, COUNT, Some(&busy), None).await.status, StatusCode::OK);
    }
    let refused = post(&replicas[1], COUNT, Some(&busy), None).await;
    assert_eq!((refused.status, code(&refused.body)), (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
    assert_eq!(post(&replicas[0], COUNT, Some(&other), None).await.status, StatusCode::OK, "each key has its own");

    // Without Redis each process counts alone, with the same rate.
    let keys = KeyStore::load(&mirror.db.db).await.unwrap();
    let alone = app(AppState::new(mirror.db.db.clone(), Metrics::default())
        .await
        .unwrap()
        .with_auth(Arc::new(Authenticator::On { keys, jwt: None }), None)
        .with_rates(CallerRates::new(per_minute, None)));
    for _ in 0..3 {
        assert_eq!(post(&alone, COUNT, Some(&busy), None).await.status, StatusCode::OK);
    }
    let response = alone
        .clone()
        .oneshot(
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {busy}"))
                .body(Body::from(json!({ "query": COUNT }).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "one request every 20 s once the burst is spent: {retry}");
}
