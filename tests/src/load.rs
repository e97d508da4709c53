//! A small closed-loop HTTP load generator: N clients, each sending the next request when the last one answered.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// What one run measured.
#[derive(Clone, Debug)]
pub struct LoadReport {
    pub clients: usize,
    pub requests: usize,
    pub failures: usize,
    pub elapsed: Duration,
    /// Latencies in microseconds, sorted.
    latencies: Vec<u64>,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Turns of the same load taken apart (interleaved with another server's) as one run: their requests, failures,
    /// time and latencies together.
    pub fn merged(turns: &[LoadReport]) -> LoadReport {
        let mut latencies: Vec<u64> = turns.iter().flat_map(|t| t.latencies.iter().copied()).collect();
        latencies.sort_unstable();
        LoadReport {
            clients: turns.first().map_or(0, |t| t.clients),
            requests: turns.iter().map(|t| t.requests).sum(),
            failures: turns.iter().map(|t| t.failures).sum(),
            elapsed: turns.iter().map(|t| t.elapsed).sum(),
            latencies,
        }
    }

    /// The latency below which `q` (0–1) of the requests finished, in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies[rank] as f64 / 1000.0
    }
}

/// POSTs `body` to `url` from `clients` concurrent clients for `duration`; a response that is not a 200 without
/// GraphQL errors counts as a failure.
pub async fn run(url: &str, body: String, clients: usize, duration: Duration) -> LoadReport {
    run_as(url, body, None, clients, duration).await
}

/// [`run`] with an `Authorization` header on every request.
pub async fn run_as(
    url: &str,
    body: String,
    authorization: Option<String>,
    clients: usize,
    duration: Duration,
) -> LoadReport {
    let body = Arc::new(body);
    drive(clients, duration, |_| {
        let (url, body, authorization) = (url.to_owned(), Arc::clone(&body), authorization.clone());
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("http client");
        move || {
            let mut request = client.post(&url).header("content-type", "application/json").body(body.as_ref().clone());
            if let Some(authorization) = &authorization {
                request = request.header("authorization", authorization);
            }
            async move {
                match request.send().await {
                    Ok(response) if response.status().is_success() => {
                        response.bytes().await.is_ok_and(|b| !contains(&b, b"\"errors\""))
                    }
                    _ => false,
                }
            }
        }
    })
    .await
}

/// Runs `clients` closed loops for `duration`: client `i` calls the request function `client(i)` made, again as soon
/// as the last call answered; a call that returns `false` counts as a failure.
pub async fn drive<C, R, F>(clients: usize, duration: Duration, client: C) -> LoadReport
where
    C: Fn(usize) -> R,
    R: FnMut() -> F + Send + 'static,
    F: Future<Output = bool> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let mut request = client(i);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let ok = request().await;
                    latencies.push(sent.elapsed().as_micros() as u64);
                    if !ok {
                        failures += 1;
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (l, f) = worker.await.expect("load worker");
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    LoadReport { clients, requests: latencies.len(), failures, elapsed, latencies }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
