//! Serving HTTP on worker threads, as actix-web does: each worker is a single-threaded runtime with its own database
//! pool, and an accepted connection stays on the worker with the fewest open connections. A request's rows, values
//! and futures then stay in one core's cache from its first byte to its last. On tokio's work-stealing runtime a
//! request moved to whichever thread polled the database's answer, and memory written on one core was reused on
//! the other: a fifth of the nested query's CPU (BENCHMARKS.md). Background work (appliers, scoring, sync) stays on
//! the main runtime.
//!
//! At a stop the listener closes at once (new connections are refused, so a load balancer sends them elsewhere),
//! open connections finish the requests they are serving and close, and sockets say they are going away; a worker's
//! thread ends when its last connection and socket have.

use std::{
    net::TcpStream as StdStream,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::Context;
use axum::{Router, body::Body, extract::Request};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinSet,
};
use tower::ServiceExt;

use super::AppState;
use crate::stopping::Stopping;

/// Each HTTP worker's stack.
const WORKER_STACK: usize = 8 * 1024 * 1024;

/// How many workers serve, and the database pool each opens.
#[derive(Clone, Debug)]
pub struct Workers {
    pub count: usize,
    pub database_url: String,
    /// Connections of each worker's pool (a share of `DATABASE_MAX_CONNECTIONS`).
    pub pool: u32,
}

impl Workers {
    /// `count` workers with their share of the default budget for `database_url`.
    pub fn new(count: usize, database_url: &str) -> Self {
        let total = crate::db::default_max_connections(database_url).max(crate::db::Budget::least(count));
        let pool = crate::db::Budget::split(total, count).map_or(2, |budget| budget.per_worker);
        Self { count, database_url: database_url.to_owned(), pool }
    }

    /// Each worker's pool of `pool` connections.
    pub fn with_pool(self, pool: u32) -> Self {
        Self { pool, ..self }
    }
}

struct Worker {
    connections: mpsc::UnboundedSender<StdStream>,
    open: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

/// Serves `listener` on the workers until `shutdown` completes or `state.stopping` begins; then stops accepting,
/// begins `state.stopping` (connections finish their requests, sockets close) and returns once every worker ended.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    workers: Workers,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let stopping = state.stopping.clone();
    let mut pool = Vec::with_capacity(workers.count);
    for n in 0..workers.count {
        pool.push(spawn(n, &workers, state.clone())?);
    }
    let shutdown = async {
        tokio::select! {
            () = shutdown => {}
            () = stopping.stopped() => {}
        }
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A connection that failed before it was accepted (reset, out of descriptors) is the client's loss.
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let worker = pool.iter().min_by_key(|w| w.open.load(Ordering::Relaxed)).expect("at least one worker");
        worker.open.fetch_add(1, Ordering::Relaxed);
        let _ = worker.connections.send(stream.into_std()?);
    }
    // Refused from now on, rather than left in the backlog until the process exits.
    drop(listener);
    stopping.stop();
    for worker in pool {
        drop(worker.connections);
        let thread = worker.thread;
        tokio::task::spawn_blocking(move || thread.join()).await?.ok();
    }
    Ok(())
}

fn spawn(n: usize, workers: &Workers, state: AppState) -> anyhow::Result<Worker> {
    let (database_url, size) = (workers.database_url.clone(), workers.pool);
    let (connections, mut incoming) = mpsc::unbounded_channel::<StdStream>();
    let open = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let counted = Arc::clone(&open);
    let thread = std::thread::Builder::new()
        .name(format!("http-worker-{n}"))
        // Room beyond the limits: an input nested to its cap takes about 1.7 MiB of stack in a debug build (the
        // fuzz test holds the schema to a 2 MiB thread; this keeps the real server far from that edge).
        .stack_size(WORKER_STACK)
        .spawn(move || {
            runtime.block_on(async move {
                let header_timeout = state.bounds.header_timeout;
                let stopping = state.stopping.clone();
                let app = match own_pool(state, &database_url, size).await {
                    Ok(state) => super::app(state),
                    Err(err) => {
                        tracing::error!(error = %err, "a worker could not open its database pool; it serves none");
                        return;
                    }
                };
                let mut open = JoinSet::new();
                while let Some(stream) = incoming.recv().await {
                    let (app, stopping, counted) = (app.clone(), stopping.clone(), Arc::clone(&counted));
                    open.spawn(async move {
                        if let Ok(stream) = TcpStream::from_std(stream) {
                            connection(stream, app, header_timeout, &stopping).await;
                        }
                        counted.fetch_sub(1, Ordering::Relaxed);
                    });
                    // Reap the connections that ended, so the set holds only open ones.
                    while open.try_join_next().is_some() {}
                }
                while open.join_next().await.is_some() {}
                // The sockets this runtime serves send their close frames before it ends.
                stopping.finished().await;
            });
        })
        .context("starting an HTTP worker thread")?;
    Ok(Worker { connections, open, thread })
}

/// `state` with a database pool of the worker's own of `size` connections (its connections then wake this thread,
/// not the main runtime's); an in-memory SQLite database exists once, so that one is shared.
async fn own_pool(state: AppState, database_url: &str, size: u32) -> Result<AppState, sea_orm::DbErr> {
    if crate::db::is_in_memory(database_url) {
        return Ok(state);
    }
    let mut db = crate::db::connect_sized(database_url, size, crate::db::Serves::Requests).await?;
    crate::db::count_statements(&mut db, Arc::clone(&state.metrics.sql_statements));
    Ok(AppState { db, ..state })
}

/// One connection, HTTP/1 or HTTP/2, WebSocket upgrades included; told to finish its requests and close when the
/// gateway stops.
async fn connection(stream: TcpStream, app: Router, header_timeout: Duration, stopping: &Stopping) {
    let service =
        TowerToHyperService::new(app.map_request(|request: Request<hyper::body::Incoming>| request.map(Body::new)));
    let mut builder = Builder::new(TokioExecutor::new());
    // A client that trickles its headers (slow loris) is cut off, so it cannot hold a connection for free.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let serving = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(serving);
    tokio::select! {
        _ = serving.as_mut() => {}
        () = stopping.stopped() => {
            serving.as_mut().graceful_shutdown();
            let _ = serving.await;
        }
    }
}
