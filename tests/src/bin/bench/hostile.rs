//! What hostile requests cost the gateway: each of the requests that once crashed it or took gigabytes, sent by 16
//! clients at once for a few rounds, must be refused with its named limit; the gateway's peak memory is read before
//! and after, and an ordinary query must still answer.

use std::fmt::Write as _;

use anyhow::bail;
use serde_json::{Value, json};

use super::{Args, Gateway, body, prepare_database, seed};

pub const HOSTILE: &str = "hostile";
const CLIENTS: usize = 16;
const ROUNDS: usize = 5;

pub struct Run {
    backend: &'static str,
    peak_before_mib: f64,
    peak_after_mib: f64,
    /// Per request: its name, its size in bytes, the limit that refused it, how many were refused, and the gateway's
    /// peak resident memory once they were (MiB): where the peak rose.
    rows: Vec<(&'static str, usize, String, usize, f64)>,
}

/// The requests, each with the limit it must meet.
fn requests() -> Vec<(&'static str, String, &'static str)> {
    let aliases: Vec<String> =
        (0..4_000).map(|i| format!("a{i}: crmSummary {{ contacts companies openPipelineValue }}")).collect();
    let nested = |levels: usize| {
        format!(
            "{{ contacts(where: {}{{email: {{eq: \"x\"}}}}{}) {{ totalCount }} }}",
            "{and: [".repeat(levels),
            "]}".repeat(levels)
        )
    };
    let rows = "{ companies(first: 100) { nodes { contacts(first: 100) { nodes { deals(first: 100) { nodes { name } } } } } } }";
    let fresh: Vec<String> = (0..50).map(|i| format!("c{i}: contact(id: \"{i}\", fresh: true) {{ email }}")).collect();
    // Over 1,000 ids in a list; a million would not fit in a body (413: `http_bounds` tests that on the router).
    let ids: Vec<String> = (0..5_000).map(|i| i.to_string()).collect();
    let in_list = "query($ids: [ID!]) { contacts(where: {hubspotId: {in: $ids}}) { totalCount } }";
    vec![
        ("4,000 aliases of crmSummary", body(&format!("{{ {} }}", aliases.join(" ")), json!({})), "aliases"),
        ("where nested 60 levels", body(&nested(60), json!({})), "nesting"),
        ("where nested 20,000 levels", body(&nested(20_000), json!({})), "nesting"),
        ("three nested first: 100 lists", body(rows, json!({})), "complexity"),
        ("50 fresh: true reads", body(&format!("{{ {} }}", fresh.join(" ")), json!({})), "hubspotCalls"),
        ("5,000 ids in an in list", body(in_list, json!({ "ids": ids })), "listSize"),
    ]
}

/// The limit an answer names, if it refuses.
fn limit(answer: &Value) -> Option<String> {
    answer["errors"][0]["extensions"]["limit"].as_str().map(str::to_owned)
}

pub async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Run> {
    let url = prepare_database(backend, "gw_hostile", false).await?;
    seed(&url, [args.contacts / 50, args.companies / 50, args.deals / 50]).await?;
    let gateway = Gateway::start(args, &url).await?;
    let ordinary = body("{ crmSummary { contacts } }", json!({}));
    gateway.query(&ordinary).await?;
    let peak_before_mib = gateway.peak_rss_mib();
    let http = reqwest::Client::new();
    let graphql = format!("{}/graphql", gateway.base);
    let mut rows = Vec::new();
    for (name, request, expected) in requests() {
        let mut refused = 0;
        for _ in 0..ROUNDS {
            let sends = (0..CLIENTS)
                .map(|_| http.post(&graphql).header("content-type", "application/json").body(request.clone()).send());
            for answer in futures::future::join_all(sends).await {
                let answer: Value = answer?.json().await?;
                match limit(&answer) {
                    Some(limit) if limit == expected => refused += 1,
                    _ => bail!("{name} was not refused by {expected}: {answer}"),
                }
            }
        }
        eprintln!("[{backend}] hostile {name}: {refused} refused by {expected}");
        rows.push((name, request.len(), expected.to_owned(), refused, gateway.peak_rss_mib()));
    }
    gateway.query(&ordinary).await?;
    Ok(Run { backend, peak_before_mib, peak_after_mib: gateway.peak_rss_mib(), rows })
}

pub fn render(out: &mut String, runs: &[Run]) {
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n\n## Hostile requests\n\nEach request {CLIENTS} clients at once, {ROUNDS} rounds, against a gateway on a mirror \
         a fiftieth of the size above; each must be refused with its named limit, and an ordinary query answer \
         after. The issue measured 10,000 aliases of `crmSummary` at 15 s and 1.5 GB, and a `where` nested 48 levels \
         aborting the process, before the limits. The peak is the gateway's peak resident memory once each request's \
         rounds were refused, in the order of the rows.\n\n| backend | request | bytes | refused by | refused | peak \
         MiB |\n|---|---|---:|---|---:|---:|"
    );
    for run in runs {
        for (name, bytes, limit, refused, peak) in &run.rows {
            let _ = writeln!(out, "| {} | {name} | {bytes} | `{limit}` | {refused} | {peak:.0} |", run.backend);
        }
    }
    let _ = writeln!(out);
    for run in runs {
        let _ = writeln!(
            out,
            "{}: the gateway's peak resident memory was {:.0} MiB before and {:.0} MiB after.",
            run.backend, run.peak_before_mib, run.peak_after_mib
        );
    }
}
