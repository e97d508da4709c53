//! Serving HTTP on worker threads, as actix-web does: each worker is a single-threaded runtime with its own database
//! pool, and an accepted connection stays on the worker with the fewest open connections. A request's rows, values
//! and futures then stay in one core's cache from its first byte to its last. On tokio's work-stealing runtime a
//! request moved to whichever thread polled the database's answer, and memory written on one core was reused on
//! the other: a fifth of the nested query's CPU (BENCHMARKS.md). Background work (appliers, scoring, sync) stays on
//! the main runtime.

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
    sync::{mpsc, watch},
    task::JoinSet,
};
use tower::ServiceExt;

use super::AppState;

/// Each HTTP worker's stack.
const WORKER_STACK: usize = 8 * 1024 * 1024;

struct Worker {
    connections: mpsc::UnboundedSender<StdStream>,
    open: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

/// Serves `listener` on `workers` threads until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    workers: usize,
    database_url: &str,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (closing, closed) = watch::channel(false);
    let mut pool = Vec::with_capacity(workers);
    for n in 0..workers {
        pool.push(spawn(n, workers, state.clone(), database_url.to_owned(), closed.clone())?);
    }
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
    let _ = closing.send(true);
    for worker in pool {
        drop(worker.connections);
        let thread = worker.thread;
        tokio::task::spawn_blocking(move || thread.join()).await?.ok();
    }
    Ok(())
}

fn spawn(
    n: usize,
    workers: usize,
    state: AppState,
    database_url: String,
    closed: watch::Receiver<bool>,
) -> anyhow::Result<Worker> {
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
                let app = match own_pool(state, &database_url, workers).await {
                    Ok(state) => super::app(state),
                    Err(err) => {
                        tracing::error!(error = %err, "a worker could not open its database pool; it serves none");
                        return;
                    }
                };
                let mut open = JoinSet::new();
                while let Some(stream) = incoming.recv().await {
                    let (app, closed, counted) = (app.clone(), closed.clone(), Arc::clone(&counted));
                    open.spawn(async move {
                        if let Ok(stream) = TcpStream::from_std(stream) {
                            connection(stream, app, header_timeout, closed).await;
                        }
                        counted.fetch_sub(1, Ordering::Relaxed);
                    });
                    // Reap the connections that ended, so the set holds only open ones.
                    while open.try_join_next().is_some() {}
                }
                while open.join_next().await.is_some() {}
            });
        })
        .context("starting an HTTP worker thread")?;
    Ok(Worker { connections, open, thread })
}

/// `state` with a database pool of the worker's own (its connections then wake this thread, not the main
/// runtime's), the workers sharing one pool's worth of connections; an in-memory SQLite database exists once, so
/// that one is shared.
async fn own_pool(state: AppState, database_url: &str, workers: usize) -> Result<AppState, sea_orm::DbErr> {
    if crate::db::is_in_memory(database_url) {
        return Ok(state);
    }
    let size = (crate::db::pool_size(database_url) / workers as u32).max(4);
    let mut db = crate::db::connect_sized(database_url, size).await?;
    crate::db::count_statements(&mut db, Arc::clone(&state.metrics.sql_statements));
    Ok(AppState { db, ..state })
}

/// One connection, HTTP/1 or HTTP/2, WebSocket upgrades included; told to finish its requests and close when the
/// gateway shuts down.
async fn connection(stream: TcpStream, app: Router, header_timeout: Duration, mut closed: watch::Receiver<bool>) {
    let service =
        TowerToHyperService::new(app.map_request(|request: Request<hyper::body::Incoming>| request.map(Body::new)));
    let mut builder = Builder::new(TokioExecutor::new());
    // A client that trickles its headers (slow loris) is cut off, so it cannot hold a connection for free.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let serving = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(serving);
    tokio::select! {
        _ = serving.as_mut() => {}
        () = async { closed.wait_for(|closed| *closed).await.map(drop).unwrap_or_default() } => {
            serving.as_mut().graceful_shutdown();
            let _ = serving.await;
        }
    }
}
