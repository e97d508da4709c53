//! Who did what: every mutation, replay, install, disconnect and key change leaves one row in the audit log (its
//! caller, portal, operation, field, the HubSpot ids it touched, how it ended, and HubSpot's category and correlation
//! id when HubSpot refused), and `auditLog` lists a portal's rows to its admins, newest first. A mutation the
//! caller's role may not call leaves no row: it did nothing, and a reader cannot grow the log. No key, token or
//! property value is ever written.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entities::{audit_log, webhook_event};
use schema::{Role, Scope};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::{Value, json};
use tests::{Backend, TestDb, data_of, execute, first_error, gateway::Gateway, on_both, sim::limits::Chaos};

const PORTAL: i64 = 100_001;
const WRITER: &str = "key:writer0001";
const ADMIN: &str = "key:admin00001";

/// Runs `query` against the gateway's portal as `caller` with `role`.
async fn run_as(world: &Gateway, role: Role, caller: &str, query: &str, variables: Value) -> Value {
    let scope = Scope::new(world.db.db.clone(), world.portal, role)
        .with_caller(caller)
        .with_upstream(Some(Arc::new(world.upstream.clone())));
    execute(&world.schema, scope, query, variables).await
}

/// Every row, oldest first.
async fn rows(db: &DatabaseConnection) -> Vec<audit_log::Model> {
    audit_log::Entity::find().order_by_asc(audit_log::Column::Id).all(db).await.unwrap()
}

async fn last_row(db: &DatabaseConnection) -> audit_log::Model {
    rows(db).await.pop().expect("an audit row")
}

fn ids(row: &audit_log::Model) -> Vec<&str> {
    row.hubspot_ids.as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect()
}

on_both!(creates_updates_batches_and_links_each_leave_a_row_of_who_what_and_how, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let (company, company_id) = world.first("companies").await;

    // A named operation is recorded by its name, and the field beside it.
    let create = "mutation NewLead($input: ContactInput!) { createContact(input: $input) { id hubspotId } }";
    let input = json!({ "input": { "email": "ada@audit.example", "firstName": "Ada" } });
    let created = data_of(run_as(&world, Role::Writer, WRITER, create, input).await)["createContact"].clone();
    let (contact, contact_id) = (created["id"].clone(), created["hubspotId"].as_str().unwrap().to_owned());
    let row = last_row(&world.db.db).await;
    assert_eq!(
        (row.caller.as_str(), row.portal_id, row.operation.as_str(), row.field.as_str(), row.outcome.as_str()),
        (WRITER, Some(PORTAL), "NewLead", "createContact", "OK")
    );
    assert_eq!(ids(&row), [format!("contact:{contact_id}")]);
    assert_eq!((row.category, row.correlation_id, row.error), (None, None, None));

    // An anonymous operation is recorded by its field.
    let update = "mutation($id: ID!) { updateContact(id: $id, input: { jobTitle: \"Countess\" }) { id } }";
    data_of(run_as(&world, Role::Writer, WRITER, update, json!({ "id": contact })).await);
    let row = last_row(&world.db.db).await;
    assert_eq!(
        (row.operation.as_str(), row.field.as_str(), row.outcome.as_str()),
        ("updateContact", "updateContact", "OK")
    );
    assert_eq!(ids(&row), [format!("contact:{contact_id}")]);

    // A batch: one row for the call, naming every record it made.
    let batch = "mutation Bulk { createCompanies(inputs: [{ input: { name: \"Audit A\" } }, { input: { name: \"Audit B\" } }]) {
        record { hubspotId } error { code } } }";
    let items = data_of(run_as(&world, Role::Writer, WRITER, batch, json!({})).await)["createCompanies"].clone();
    let made: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("company:{}", i["record"]["hubspotId"].as_str().unwrap()))
        .collect();
    let row = last_row(&world.db.db).await;
    assert_eq!((row.operation.as_str(), row.field.as_str(), row.outcome.as_str()), ("Bulk", "createCompanies", "OK"));
    assert_eq!(ids(&row), made);

    // A batch of which HubSpot refused one input: written in part, and the row says which and why.
    let batch = "mutation($inputs: [ContactCreate!]!) { createContacts(inputs: $inputs) { record { hubspotId } } }";
    let inputs =
        json!([{ "input": { "email": "ada@audit.example" } }, { "input": { "email": "grace@audit.example" } }]);
    let items =
        data_of(run_as(&world, Role::Writer, WRITER, batch, json!({ "inputs": inputs })).await)["createContacts"]
            .clone();
    let row = last_row(&world.db.db).await;
    assert_eq!(
        (row.field.as_str(), row.outcome.as_str(), row.category.as_deref()),
        ("createContacts", "PARTIAL", Some("CONFLICT"))
    );
    assert_eq!(ids(&row), [format!("contact:{}", items[1]["record"]["hubspotId"].as_str().unwrap())]);
    let error = row.error.unwrap();
    assert!(error.starts_with("1 of 2 inputs not written: [0] UPSTREAM_REJECTED"), "{error}");

    // A link names both ends.
    let associate = "mutation($from: ID!, $to: ID!) { associate(from: $from, to: $to) { __typename } }";
    data_of(run_as(&world, Role::Writer, WRITER, associate, json!({ "from": contact, "to": company })).await);
    let row = last_row(&world.db.db).await;
    assert_eq!((row.field.as_str(), row.outcome.as_str()), ("associate", "OK"));
    assert_eq!(ids(&row), [format!("contact:{contact_id}"), format!("company:{company_id}")]);

    assert_eq!(rows(&world.db.db).await.len(), 5, "one row a mutation");
    for row in rows(&world.db.db).await {
        let text = format!("{row:?}");
        assert!(!text.contains("audit.example") && !text.contains("Countess"), "no property value is kept: {text}");
    }
});

on_both!(a_refused_write_leaves_a_failure_row_with_hubspots_category_and_correlation_id, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let create = "mutation($input: ContactInput!) { createContact(input: $input) { id } }";

    let unknown = json!({ "input": { "email": "eve@audit.example", "properties": { "no_such_property": "s3cr3t" } } });
    let error = first_error(run_as(&world, Role::Writer, WRITER, create, unknown).await);
    assert_eq!(error["extensions"]["category"], "VALIDATION_ERROR", "{error}");
    let row = last_row(&world.db.db).await;
    assert_eq!(
        (row.caller.as_str(), row.field.as_str(), row.outcome.as_str()),
        (WRITER, "createContact", "UPSTREAM_REJECTED")
    );
    assert_eq!(row.category.as_deref(), Some("VALIDATION_ERROR"));
    assert_eq!(
        row.correlation_id.as_deref(),
        error["extensions"]["correlationId"].as_str(),
        "HubSpot's correlation id"
    );
    assert!(row.correlation_id.as_deref().is_some_and(|c| !c.is_empty()));
    assert_eq!(row.error.as_deref(), Some("HubSpot answered 400: VALIDATION_ERROR"), "not HubSpot's message");
    assert!(ids(&row).is_empty(), "nothing was made");

    // Refused before HubSpot: the argument is named, its value is not kept.
    let error =
        first_error(run_as(&world, Role::Writer, WRITER, create, json!({ "input": { "email": "s3cr3t" } })).await);
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    let row = last_row(&world.db.db).await;
    assert_eq!(
        (row.outcome.as_str(), row.error.as_deref()),
        ("BAD_USER_INPUT", Some("invalid argument `input.email`"))
    );
    assert_eq!((row.category, row.correlation_id), (None, None));

    for row in rows(&world.db.db).await {
        let text = format!("{row:?}");
        assert!(!text.contains("s3cr3t") && !text.contains("audit.example"), "no value sent is kept: {text}");
    }
});

on_both!(a_role_refused_mutation_leaves_no_row, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let create = "mutation { createCompany(input: { name: \"Not allowed\" }) { id } }";
    let error = first_error(run_as(&world, Role::Reader, "key:reader0001", create, json!({})).await);
    assert_eq!(error["extensions"]["code"], "FORBIDDEN");
    let error = first_error(run_as(&world, Role::Writer, WRITER, "mutation { replayWebhookEvents }", json!({})).await);
    assert_eq!(error["extensions"]["code"], "FORBIDDEN");
    assert!(rows(&world.db.db).await.is_empty(), "nothing was done, so nothing is recorded");
});

on_both!(a_write_stands_when_its_row_cannot_be_written, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    world.db.db.execute_unprepared("DROP TABLE audit_log").await.unwrap();
    let create = "mutation { createCompany(input: { name: \"Unlogged\" }) { hubspotId name } }";
    let made = data_of(run_as(&world, Role::Writer, WRITER, create, json!({})).await)["createCompany"].clone();
    assert_eq!(made["name"], "Unlogged", "the write is answered as done");
    assert!(world.at_hubspot("companies", made["hubspotId"].as_str().unwrap(), "name").await.is_some());
});

on_both!(a_mutation_cut_off_mid_write_leaves_a_cancelled_row, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let (company, company_id) = world.first("companies").await;
    world.sim.sim.set_chaos(Chaos { latency_ms: 2_000, ..Chaos::default() });
    let update = "mutation($id: ID!) { updateCompany(id: $id, input: { city: \"Nowhere\" }) { id } }";
    let cut = tokio::time::timeout(
        Duration::from_millis(300),
        run_as(&world, Role::Writer, WRITER, update, json!({ "id": company })),
    )
    .await;
    assert!(cut.is_err(), "the request was cut off while HubSpot was answering");
    world.sim.sim.set_chaos(Chaos::default());
    let mut row = None;
    for _ in 0..50 {
        row = rows(&world.db.db).await.pop();
        if row.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = row.expect("a row for the cut-off write");
    assert_eq!((row.field.as_str(), row.outcome.as_str()), ("updateCompany", "CANCELLED"));
    assert_eq!(ids(&row), [format!("company:{company_id}")], "the record HubSpot may have changed");
});

/// A dead webhook event of the portal, with HubSpot's `eventId`.
async fn dead_event(db: &DatabaseConnection, event_id: i64) {
    let now = Utc::now();
    let row = webhook_event::ActiveModel {
        batch_id: Set("b-1".into()),
        portal_id: Set(PORTAL),
        event_id: Set(event_id),
        subscription_type: Set("contact.creation".into()),
        object_id: Set(42),
        occurred_at: Set(now.timestamp_millis()),
        dedupe_key: Set(format!("dedupe-{event_id}")),
        payload: Set(json!({ "eventId": event_id })),
        state: Set("dead".into()),
        attempts: Set(5),
        last_error: Set(Some("HubSpot answered 503".into())),
        received_at: Set(now),
        next_attempt_at: Set(now),
        applied_at: Set(None),
        ..Default::default()
    };
    webhook_event::Entity::insert(row).exec_without_returning(db).await.unwrap();
}

on_both!(a_replay_leaves_a_row_naming_the_events, |backend| async move {
    let db = TestDb::migrated(backend).await;
    let schema = schema::build();
    let scope = || Scope::new(db.db.clone(), PORTAL, Role::Admin).with_caller(ADMIN);
    dead_event(&db.db, 9_001).await;
    dead_event(&db.db, 9_002).await;
    let replayed = data_of(execute(&schema, scope(), "mutation { replayWebhookEvents }", json!({})).await);
    assert_eq!(replayed["replayWebhookEvents"], 2);
    let row = last_row(&db.db).await;
    assert_eq!(
        (row.caller.as_str(), row.portal_id, row.field.as_str(), row.outcome.as_str()),
        (ADMIN, Some(PORTAL), "replayWebhookEvents", "OK")
    );
    let mut events = ids(&row);
    events.sort();
    assert_eq!(events, ["event:9001", "event:9002"]);
    assert_eq!(row.target.as_deref(), Some("2 dead webhook events"));

    let missing =
        first_error(execute(&schema, scope(), "mutation { replayWebhookEvents(id: \"777\") }", json!({})).await);
    assert_eq!(missing["extensions"]["code"], "BAD_USER_INPUT");
    let row = last_row(&db.db).await;
    assert_eq!((row.outcome.as_str(), row.target.as_deref()), ("BAD_USER_INPUT", Some("webhook event 777")));
});

const AUDIT_LOG: &str = "query($first: Int, $after: String, $operation: String) {
    auditLog(first: $first, after: $after, operation: $operation) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes { id caller operation field hubspotIds target outcome category correlationId error at } } }";

async fn audit_log(db: &TestDb, role: Role, portal: i64, variables: Value) -> Value {
    execute(&schema::build(), Scope::new(db.db.clone(), portal, role), AUDIT_LOG, variables).await
}

fn operations(page: &Value) -> Vec<&str> {
    page["auditLog"]["nodes"].as_array().unwrap().iter().map(|n| n["operation"].as_str().unwrap()).collect()
}

on_both!(the_audit_log_lists_its_portals_rows_newest_first_in_pages, |backend| async move {
    use schema::audit::{Entry, write};
    let db = TestDb::migrated(backend).await;
    for (portal, operation, field) in [
        (PORTAL, "NewLead", "createContact"),
        (PORTAL, "updateDeal", "updateDeal"),
        (7, "createContact", "createContact"),
        (PORTAL, "createContact", "createContact"),
        (PORTAL, "disconnectPortal", "POST /oauth/hubspot/disconnect"),
        (PORTAL, "Bulk", "createCompanies"),
    ] {
        write(&db.db, Entry::new(WRITER, Some(portal), field).operation(operation)).await;
    }
    write(&db.db, Entry::new("cli", None, "keys create").operation("createApiKey").target("key abc")).await;

    let first = data_of(audit_log(&db, Role::Admin, PORTAL, json!({ "first": 2 })).await);
    assert_eq!(operations(&first), ["Bulk", "disconnectPortal"], "newest first");
    assert_eq!(first["auditLog"]["totalCount"], 5, "only this portal's rows");
    assert_eq!(first["auditLog"]["pageInfo"]["hasNextPage"], true);
    let node = &first["auditLog"]["nodes"][0];
    assert_eq!(
        (&node["caller"], &node["field"], &node["outcome"]),
        (&json!(WRITER), &json!("createCompanies"), &json!("OK"))
    );
    assert_eq!(node["hubspotIds"], json!([]));
    let after = first["auditLog"]["pageInfo"]["endCursor"].clone();
    let rest = data_of(audit_log(&db, Role::Admin, PORTAL, json!({ "first": 10, "after": after })).await);
    assert_eq!(operations(&rest), ["createContact", "updateDeal", "NewLead"]);
    assert_eq!(rest["auditLog"]["pageInfo"]["hasNextPage"], false);

    // An operation is found by its name or its field.
    let creates = data_of(audit_log(&db, Role::Admin, PORTAL, json!({ "operation": "createContact" })).await);
    assert_eq!(operations(&creates), ["createContact", "NewLead"]);
    let other = data_of(audit_log(&db, Role::Admin, 7, json!({})).await);
    assert_eq!(operations(&other), ["createContact"]);

    for role in [Role::Writer, Role::Reader] {
        let refused = first_error(audit_log(&db, role, PORTAL, json!({})).await);
        assert_eq!(refused["extensions"]["code"], "FORBIDDEN", "{role}: {refused}");
    }
});

on_both!(key_changes_through_the_cli_leave_rows_and_no_secret, |backend| async move {
    use server::{
        auth::keys,
        cli::{KeysAction, manage_keys},
    };
    let db = TestDb::migrated(backend).await;
    let create = |portal: &[&str], name: &str| KeysAction::Create {
        portal: portal.iter().map(|p| p.to_string()).collect(),
        role: Role::Writer,
        name: name.to_owned(),
    };
    manage_keys(&db.db, create(&["7", "8"], "web app")).await.unwrap();
    manage_keys(&db.db, create(&["*"], "ops")).await.unwrap();
    let made = keys::list(&db.db).await.unwrap();
    let (web, ops) =
        (&made.iter().find(|k| k.name == "web app").unwrap().id, &made.iter().find(|k| k.name == "ops").unwrap().id);
    let created = rows(&db.db).await;
    let summary: Vec<_> = created
        .iter()
        .map(|r| (r.caller.as_str(), r.portal_id, r.operation.as_str(), r.field.as_str(), r.target.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("cli", Some(7), "createApiKey", "keys create", Some(format!("key {web}"))),
            ("cli", Some(8), "createApiKey", "keys create", Some(format!("key {web}"))),
            ("cli", None, "createApiKey", "keys create", Some(format!("key {ops}"))),
        ],
        "a row for each portal the key grants; one of no portal for a key of every portal"
    );

    manage_keys(&db.db, KeysAction::Revoke { id: web.clone() }).await.unwrap();
    let revoked: Vec<_> =
        rows(&db.db).await.into_iter().skip(3).map(|r| (r.portal_id, r.operation, r.outcome)).collect();
    let ok = |portal| (Some(portal), String::from("revokeApiKey"), String::from("OK"));
    assert_eq!(revoked, [ok(7), ok(8)]);

    // A whole key pasted where its id belongs is refused, and not kept.
    let pasted = format!("gw_{web}_{}", "x".repeat(40));
    assert!(manage_keys(&db.db, KeysAction::Revoke { id: pasted.clone() }).await.is_err());
    let row = last_row(&db.db).await;
    assert_eq!((row.operation.as_str(), row.outcome.as_str(), row.target), ("revokeApiKey", "BAD_USER_INPUT", None));
    for row in rows(&db.db).await {
        assert!(!format!("{row:?}").contains("gw_"), "no key is kept: {row:?}");
    }

    // The portal's admins see the changes to keys that grant it.
    let listed = data_of(audit_log(&db, Role::Admin, 7, json!({})).await);
    assert_eq!(operations(&listed), ["revokeApiKey", "createApiKey"]);
});

mod oauth {
    //! The install ticket, the install it leads to and the disconnect, over HTTP with an admin's key.

    use std::collections::HashMap;

    use axum::{
        body::Body,
        http::{Request, header},
    };
    use base64::{Engine, engine::general_purpose::STANDARD};
    use reqwest::{Client, redirect::Policy};
    use server::{
        auth::{Authenticator, Grant, KeyStore, keys},
        http::AppState,
        hubspot::{ClientSettings, HubSpot},
        metrics::Metrics,
        oauth::{Install, OAuthApp, OAuthTokens, crypto::Keys},
        sync::{Schedule, Supervisor},
    };
    use tests::{
        sim::{Running, SimConfig},
        small_spec,
    };
    use tower::ServiceExt;

    use super::*;

    const PUBLIC_URL: &str = "http://127.0.0.1:1";
    const REDIRECT: &str = "http://127.0.0.1:1/oauth/hubspot/callback";

    /// The gateway checking API keys, with the install flow against the simulator.
    async fn gateway(sim: &Running, db: &TestDb) -> axum::Router {
        let settings = ClientSettings { base_url: sim.base_url(), ..ClientSettings::default() };
        let keys = Keys::new(&format!("k1:{}", STANDARD.encode([7u8; 32])), &[]).unwrap();
        let app = OAuthApp {
            client_id: sim.sim.config.client_id.clone(),
            client_secret: sim.sim.config.client_secret.clone(),
            redirect_uri: REDIRECT.to_owned(),
            scopes: vec!["oauth".into()],
        };
        let tokens =
            Arc::new(OAuthTokens::new(db.db.clone(), Arc::new(keys), app, HubSpot::anonymous(settings.clone())));
        let hubspot = HubSpot::new(settings, tokens.clone());
        let install = Install {
            supervisor: Supervisor::new(db.db.clone(), hubspot, None, Schedule::default()),
            tokens,
            authorize_url: format!("{}/oauth/authorize", sim.base_url()),
            public_url: PUBLIC_URL.to_owned(),
        };
        let keys = KeyStore::load(&db.db).await.unwrap().reloading_on_miss_after(Duration::ZERO);
        let state = AppState::new(db.db.clone(), Metrics::default())
            .await
            .unwrap()
            .with_auth(Arc::new(Authenticator::On { keys, jwt: None }), None)
            .with_install(Some(Arc::new(install)));
        server::http::app(state)
    }

    /// The status, `Location` and `Set-Cookie` headers and body of `request`.
    async fn call(app: &axum::Router, request: Request<Body>) -> (u16, HashMap<String, String>, String) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers =
            response.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    on_both!(an_install_ticket_the_install_and_a_disconnect_each_leave_a_row, |backend: Backend| async move {
        let sim =
            Running::start(SimConfig { portals: vec![small_spec(PORTAL)], ..SimConfig::default() }).await.unwrap();
        let db = TestDb::migrated(backend).await;
        let (key, info) = keys::create(&db.db, "ops", Role::Admin, &Grant::All).await.unwrap();
        let caller = format!("key:{}", info.id);
        let app = gateway(&sim, &db).await;
        let bearer = format!("Bearer {key}");

        let asked = Request::post("/oauth/hubspot/install").header(header::AUTHORIZATION, &bearer);
        let (status, _, body) = call(&app, asked.body(Body::empty()).unwrap()).await;
        assert_eq!(status, 201, "{body}");
        let row = last_row(&db.db).await;
        assert_eq!(
            (row.caller.as_str(), row.portal_id, row.operation.as_str(), row.outcome.as_str()),
            (caller.as_str(), None, "issueInstallTicket", "OK")
        );
        let link: Value = serde_json::from_str(&body).unwrap();
        let path = link["installUrl"].as_str().unwrap().strip_prefix(PUBLIC_URL).unwrap().to_owned();
        let ticket = path.rsplit('/').next().unwrap().to_owned();

        // The admin's browser opens the link, approves at HubSpot and comes back.
        let (status, opened, _) = call(&app, Request::get(&path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, 303);
        let nonce = opened["set-cookie"].split(';').next().unwrap().to_owned();
        let approved =
            Client::builder().redirect(Policy::none()).build().unwrap().get(&opened["location"]).send().await.unwrap();
        let back = approved.headers()["location"].to_str().unwrap().strip_prefix(PUBLIC_URL).unwrap().to_owned();
        let callback = Request::get(&back).header(header::COOKIE, &nonce);
        let (status, _, body) = call(&app, callback.body(Body::empty()).unwrap()).await;
        assert_eq!(status, 200, "{body}");
        let row = last_row(&db.db).await;
        assert_eq!(
            (row.caller.as_str(), row.portal_id, row.operation.as_str(), row.field.as_str(), row.outcome.as_str()),
            (caller.as_str(), Some(PORTAL), "installPortal", "GET /oauth/hubspot/callback", "OK"),
            "the install is the ticket's admin's"
        );

        let disconnect =
            Request::post(format!("/oauth/hubspot/disconnect/{PORTAL}")).header(header::AUTHORIZATION, &bearer);
        let (status, _, body) = call(&app, disconnect.body(Body::empty()).unwrap()).await;
        assert_eq!(status, 204, "{body}");
        let row = last_row(&db.db).await;
        assert_eq!(
            (row.caller.as_str(), row.portal_id, row.operation.as_str(), row.outcome.as_str()),
            (caller.as_str(), Some(PORTAL), "disconnectPortal", "OK")
        );

        assert_eq!(audit_log::Entity::find().count(&db.db).await.unwrap(), 3);
        for row in rows(&db.db).await {
            let text = format!("{row:?}");
            assert!(!text.contains(&key) && !text.contains(&ticket) && !text.contains(&nonce), "no secret: {text}");
        }
        let listed = data_of(audit_log(&db, Role::Admin, PORTAL, json!({})).await);
        assert_eq!(operations(&listed), ["disconnectPortal", "installPortal"]);
    });
}
