//! The HTTP workers: every connection of many at once is answered as the schema answers in process, from the
//! workers' own database pools; a WebSocket upgrades on them; shutdown stops them.

use std::{sync::atomic::Ordering, time::Duration};

use serde_json::{Value, json};
use server::{
    http::{AppState, workers},
    metrics::Metrics,
};
use tests::{Backend, Mirror, on_both, subscriber::Subscriber};

const QUERY: &str = "{ companies(first: 10, orderBy: [{field: NAME}]) { nodes { name \
    contacts(first: 5) { nodes { email } } deals(first: 5) { nodes { name stage { label } } } } } }";

on_both!(workers_answer_every_connection_from_their_own_pools_and_stop_on_shutdown, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    let expected = mirror.data(QUERY, json!({})).await;
    let metrics = Metrics::default();
    let state = AppState::new(mirror.db.db.clone(), metrics.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let url = mirror.db.url.clone();
    let serving = tokio::spawn(async move {
        workers::serve(
            listener,
            state,
            workers::Workers::new(3, &url),
            async move { stopped.await.unwrap_or_default() },
        )
        .await
    });

    let main_pool_before = mirror.db.statement_count();
    let clients = (0..12).map(|_| {
        // A client of its own each: twelve connections, spread over the three workers.
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
        let url = format!("http://{addr}/graphql");
        async move {
            let mut answers = Vec::new();
            for _ in 0..3 {
                let response = client.post(&url).json(&json!({ "query": QUERY })).send().await.unwrap();
                answers.push(response.json::<Value>().await.unwrap());
            }
            answers
        }
    });
    for answers in futures::future::join_all(clients).await {
        for answer in answers {
            assert_eq!(answer["data"], expected, "{answer}");
        }
    }
    assert!(metrics.sql_statements.load(Ordering::Relaxed) >= 36, "the workers' statements are counted");
    assert_eq!(mirror.db.statement_count(), main_pool_before, "the workers read through pools of their own");

    let init = json!({ "X-HubSpot-Portal-Id": mirror.portal.portal_id.to_string() });
    Subscriber::connect(&format!("ws://{addr}/graphql"), "graphql-transport-ws", init).await.unwrap();

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving).await.expect("stops").unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer listening");
});
