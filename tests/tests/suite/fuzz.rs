//! Property-based fuzzing of the schema (issue 24: nothing a caller sends can crash the process) and of webhook
//! deliveries. Random `where` trees, property filters, query texts and variables each get an answer, and random
//! signed deliveries are stored or refused with a 4xx: no panic, no stack overflow (the test process
//! living on is the proof: each property runs on a tokio worker's 2 MiB stack, in a debug build, which needs more
//! stack than the release one), and no error a client cannot act on (`INTERNAL`).
//!
//! The cases come from a fixed seed, so CI runs the same few hundred each time in a bounded time;
//! `PROPTEST_RNG_SEED=<n>` and `PROPTEST_CASES=<n>` explore others. A failure prints the smallest input found.

mod filters;
mod found;
mod input;
mod properties;
mod texts;
mod variables;
mod webhooks;

use proptest::{
    prelude::*,
    test_runner::{Config, RngSeed, TestCaseError, TestRunner},
};
use serde_json::{Value, json};
use tests::{Backend, Mirror, TestDb};

use filters::Kind;

/// The seed CI runs with.
const SEED: u64 = 24;

/// A runner of `cases` cases (or `PROPTEST_CASES`), shrinking briefly, writing no persistence file into the repo.
fn runner(cases: u32) -> TestRunner {
    let defaults = Config::default();
    let config = Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases),
        max_shrink_iters: 64,
        failure_persistence: None,
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            fixed => fixed,
        },
        ..defaults
    };
    TestRunner::new(config)
}

/// The stack of a tokio worker, which the gateway's requests run on.
const WORKER_STACK: usize = 2 << 20;

/// Runs `test`, with a runtime to block on, on a thread with a worker's stack whatever `RUST_MIN_STACK` says: a case
/// that overflows it would overflow the gateway (the debug build that `make run` serves needs the most).
fn on_a_worker_stack(test: impl FnOnce(&tokio::runtime::Runtime) + Send + 'static) {
    let thread = std::thread::Builder::new().stack_size(WORKER_STACK).spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        test(&runtime);
    });
    if let Err(panic) = thread.expect("spawn the test thread").join() {
        std::panic::resume_unwind(panic);
    }
}

/// Every error is one a client can act on: a code other than `INTERNAL`, or async-graphql's own parse and
/// validation errors, which have no code but say what is wrong.
fn client_errors_only(response: &Value) -> Result<(), TestCaseError> {
    for error in response["errors"].as_array().into_iter().flatten() {
        let message = error["message"].as_str().unwrap_or_default();
        prop_assert!(!message.is_empty(), "an error without a message: {error}");
        match error["extensions"]["code"].as_str() {
            Some("INTERNAL") => return Err(TestCaseError::fail(format!("an INTERNAL error: {error}"))),
            Some(_) => {}
            None => prop_assert!(error["extensions"].is_null(), "extensions without a code: {error}"),
        }
    }
    Ok(())
}

/// `data.<list>.totalCount` when the answer has the list, which must then hold a count. Without it there must be an
/// error (async-graphql leaves out a non-null field whose arguments do not coerce, where the spec nulls `data`).
fn total_count(response: &Value, list: &str) -> Result<Option<u64>, TestCaseError> {
    let connection = &response["data"][list];
    if connection.is_null() {
        prop_assert!(response["errors"][0].is_object(), "neither `{list}` nor an error: {response}");
        return Ok(None);
    }
    let count = connection["totalCount"].as_u64();
    prop_assert!(count.is_some(), "`{list}` without a totalCount: {response}");
    Ok(count)
}

/// A `where` filter of one of the lists, with a `search` now and then.
#[derive(Clone, Debug)]
struct FilterCase {
    kind: Kind,
    filter: input::Input,
    search: Option<String>,
}

fn filter_case() -> impl Strategy<Value = FilterCase> {
    let kinds = [Kind::Contact, Kind::Company, Kind::Deal];
    let by_kind: Vec<_> = kinds
        .into_iter()
        .map(|kind| {
            (filters::where_input(kind), proptest::option::weighted(0.2, input::weird_string()))
                .prop_map(move |(filter, search)| FilterCase { kind, filter, search })
        })
        .collect();
    proptest::strategy::Union::new(by_kind)
}

#[test]
fn random_where_filters_get_the_same_client_facing_answer_as_literals_and_as_variables() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Sqlite));
        let result = runner(200).run(&filter_case(), |case| {
            let list = case.kind.list();
            let search =
                case.search.as_ref().map_or(String::new(), |s| format!(", search: {}", Value::from(s.as_str())));
            let literal = format!(
                "{{ {list}(where: {}, first: 3{search}) {{ totalCount nodes {{ id }} }} }}",
                case.filter.text()
            );
            let variable = format!(
                "query($w: {}) {{ {list}(where: $w, first: 3{search}) {{ totalCount nodes {{ id }} }} }}",
                case.kind.where_type()
            );
            let by_literal = runtime.block_on(mirror.run(&literal, json!({})));
            let by_variable = runtime.block_on(mirror.run(&variable, json!({ "w": case.filter.json() })));
            client_errors_only(&by_literal)?;
            client_errors_only(&by_variable)?;
            // One filter means one thing, however it is sent: the same count, or refused both ways.
            let counts = (total_count(&by_literal, list)?, total_count(&by_variable, list)?);
            prop_assert_eq!(counts.0, counts.1, "literal: {}\nvariable: {}", by_literal, by_variable);
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    });
}

#[test]
fn random_query_texts_get_an_answer_and_never_an_internal_error() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Sqlite));
        let result = runner(400).run(&texts::request(), |(query, variables)| {
            let response = runtime.block_on(mirror.run(&query, variables));
            client_errors_only(&response)
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    });
}

#[test]
fn random_variables_get_an_answer_and_never_an_internal_error() {
    on_a_worker_stack(|runtime| {
        let mirror = runtime.block_on(Mirror::small(Backend::Sqlite));
        let query = "query($w: ContactWhere, $ids: [ID!]) { \
                 contacts(where: $w, first: 3) { totalCount nodes { id } } \
                 byId: contacts(where: {hubspotId: {in: $ids}}) { totalCount } }";
        let result = runner(300).run(&variables::variables(), |variables| {
            let response = runtime.block_on(mirror.run(query, variables));
            client_errors_only(&response)?;
            total_count(&response, "contacts")?;
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    });
}

/// Every error names what is wrong: a `BAD_USER_INPUT` the argument it refuses, under `where.properties`; a
/// coercion error (no code) the argument or variable whose value has the wrong type.
fn names_the_property_field(response: &Value) -> Result<(), TestCaseError> {
    for error in response["errors"].as_array().into_iter().flatten() {
        let extensions = &error["extensions"];
        match extensions["code"].as_str() {
            Some("BAD_USER_INPUT") => {
                let argument = extensions["argument"].as_str().unwrap_or_default();
                prop_assert!(argument.starts_with("where.properties"), "names no property field: {error}");
            }
            Some("LIMIT_EXCEEDED") => prop_assert!(extensions["limit"].is_string(), "names no limit: {error}"),
            Some(_) => {}
            None => {
                let message = error["message"].as_str().unwrap_or_default();
                // async-graphql's own: a literal names the argument (`where.properties`), a variable the input
                // type it failed to read (`PropertyFilter`, `ContactWhere`).
                let named =
                    ["where", "properties", "PropertyFilter", "ContactWhere"].iter().any(|n| message.contains(n));
                prop_assert!(named, "names no argument: {error}");
            }
        }
    }
    Ok(())
}

/// Random `where.properties` filters, as a literal and as a variable: a count, or errors naming the field.
fn random_property_filters(backend: Backend) {
    on_a_worker_stack(move |runtime| {
        let mirror = runtime.block_on(Mirror::small(backend));
        let tier = runtime.block_on(mirror.run(
            r#"{ contacts(where: { properties: [{ name: "tier", in: ["gold", "silver"] }] }) { totalCount } }"#,
            json!({}),
        ));
        assert!(tier["data"]["contacts"]["totalCount"].as_u64().is_some(), "the portal defines `tier`: {tier}");
        let by_variable = "query($w: ContactWhere) { contacts(where: $w, first: 3) { totalCount nodes { id } } }";
        let result = runner(150).run(&properties::properties(), |properties| {
            let literal = format!(
                "{{ contacts(where: {{ properties: {} }}, first: 3) {{ totalCount nodes {{ id }} }} }}",
                properties.text()
            );
            let answers = [
                runtime.block_on(mirror.run(&literal, json!({}))),
                runtime.block_on(mirror.run(by_variable, json!({ "w": { "properties": properties.json() } }))),
            ];
            for response in &answers {
                client_errors_only(response)?;
                names_the_property_field(response)?;
                total_count(response, "contacts")?;
            }
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    });
}

#[test]
fn random_property_filters_get_a_count_or_an_error_naming_the_field_on_sqlite() {
    random_property_filters(Backend::Sqlite);
}

#[test]
fn random_property_filters_get_a_count_or_an_error_naming_the_field_on_postgres() {
    random_property_filters(Backend::Postgres);
}

/// Random deliveries, each correctly signed v3, into the receiver: stored, or refused with a 4xx saying why.
fn random_deliveries(backend: Backend) {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use sea_orm::{ActiveValue::Set, EntityTrait};
    use server::webhooks::{
        DeliveryLimits, NotAccepted, Receiver, WebhookStats,
        signature::{self, Request, Signed, Versions},
    };

    const SECRET: &str = "fuzz-secret";
    const PUBLIC_URL: &str = "https://gateway.example.com";
    const PATH: &str = "/webhooks/hubspot";
    on_a_worker_stack(move |runtime| {
        let db = runtime.block_on(TestDb::migrated(backend));
        let served = entities::portal::ActiveModel {
            portal_id: Set(webhooks::PORTAL),
            name: Set("fuzzed".to_owned()),
            created_at: Set(chrono::Utc::now()),
            disconnected_at: Set(None),
        };
        runtime.block_on(entities::portal::Entity::insert(served).exec_without_returning(&db.db)).expect("portal");
        let receiver = Receiver {
            secrets: vec![SECRET.to_owned()],
            public_url: PUBLIC_URL.to_owned(),
            signatures: Versions::V3,
            limits: DeliveryLimits::default(),
        };
        let stats = WebhookStats::default();
        let uri = format!("{PUBLIC_URL}{PATH}");
        let result = runner(150).run(&webhooks::body(chrono::Utc::now().timestamp_millis()), |body| {
            let stamp = chrono::Utc::now().timestamp_millis().to_string();
            let request = Request { method: "POST", uri: &uri, body: &body };
            let v3 = STANDARD.encode(signature::v3(SECRET, &request, &stamp));
            let headers = Signed { v3: Some(&v3), timestamp: Some(&stamp), ..Signed::default() };
            match runtime.block_on(receiver.accept(&db.db, &stats, "POST", PATH, headers, &body)) {
                Ok(_) => Ok(()),
                Err(NotAccepted::Refused { reason, message }) => {
                    prop_assert!(matches!(reason.status(), 400 | 413), "{reason:?}: {message}");
                    prop_assert!(!message.is_empty(), "{reason:?} without a message");
                    Ok(())
                }
                Err(err) => Err(TestCaseError::fail(format!("{err} for {}", String::from_utf8_lossy(&body)))),
            }
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    });
}

#[test]
fn random_signed_deliveries_are_stored_or_refused_with_a_4xx_saying_why_on_sqlite() {
    random_deliveries(Backend::Sqlite);
}

#[test]
fn random_signed_deliveries_are_stored_or_refused_with_a_4xx_saying_why_on_postgres() {
    random_deliveries(Backend::Postgres);
}
