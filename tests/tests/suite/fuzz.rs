//! Property-based fuzzing of the schema (issue 24: nothing a caller sends can crash the process). Random `where`
//! trees, random query texts and random variables each get an answer: no panic, no stack overflow (the test process
//! living on is the proof: each property runs on a tokio worker's 2 MiB stack, in a debug build, which needs more
//! stack than the release one), and no error a client cannot act on (`INTERNAL`).
//!
//! The cases come from a fixed seed, so CI runs the same few hundred each time in a bounded time;
//! `PROPTEST_RNG_SEED=<n>` and `PROPTEST_CASES=<n>` explore others. A failure prints the smallest input found.

mod filters;
mod found;
mod input;
mod texts;
mod variables;

use proptest::{
    prelude::*,
    test_runner::{Config, RngSeed, TestCaseError, TestRunner},
};
use serde_json::{Value, json};
use tests::{Backend, Mirror};

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
