//! The race: PostGraphile v5 (tests/peer, which scripts/peer-postgraphile installs with the Node 22 it needs) against
//! the gateway, in the same run, on the same Postgres mirror, with the same nested query. PostGraphile's answer must
//! carry the gateway's data before either is timed; then the two take turns (gateway, PostGraphile, gateway,
//! PostGraphile) at 1 and 16 clients, PostGraphile with one Node worker and with two (node:cluster).

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail, ensure};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tests::load::{self, LoadReport};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{Args, Gateway, NESTED, PORTAL, answer, body, peak_rss_mib};

pub const RACE: &str = "race";
const CLIENTS: [usize; 2] = [1, 16];
/// PostGraphile's Node workers in its two configurations.
const WORKERS: [usize; 2] = [1, 2];
/// Turns each server takes at each load, alternating, so drift of the machine weighs on both alike.
const TURNS: usize = 2;
const WARM_UP: Duration = Duration::from_secs(2);
/// The computed columns PostGraphile reads a company's contacts and deals through, in their own schema.
const PEER_SQL: &str = include_str!("../../../peer/peer.sql");

/// The nested query in PostGraphile's names, aliased to the gateway's so both answers have one shape: the portal's
/// live companies by name (then by key), each one's first 20 live contacts and deals (peer.sql), a deal's stage and
/// owner (smart-tag foreign keys, postgraphile.tags.json5).
fn peer_query() -> String {
    format!(
        "query Nested {{ companies: allCompanies(first: 50, orderBy: [NAME_ASC], \
         condition: {{portalId: \"{PORTAL}\", archivedAt: null}}) {{ edges {{ node {{ name \
         contacts(first: 20) {{ nodes {{ email firstName: firstname lastName: lastname }} }} \
         deals(first: 20) {{ nodes {{ name: dealname amount stage {{ label probability }} owner {{ email }} }} }} }} }} }} }}"
    )
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer")
}

/// One load, both servers: their turns merged.
pub struct Row {
    workers: usize,
    clients: usize,
    gateway: LoadReport,
    peer: LoadReport,
}

pub struct Run {
    rows: Vec<Row>,
    /// PostGraphile's and Node's versions, as installed.
    versions: String,
    /// What the answer check compared: companies, contacts, deals, stages, owners.
    checked: Counts,
    gateway_rss_mib: f64,
    /// Per configuration (workers), PostGraphile's peak resident memory, its processes summed.
    peer_rss_mib: Vec<(usize, f64)>,
}

/// PostGraphile serving the mirror, started and listening.
struct Peer {
    child: tokio::process::Child,
    url: String,
}

impl Peer {
    async fn start(database_url: &str, workers: usize) -> anyhow::Result<Self> {
        let dir = peer_dir();
        let node = dir.join("node_modules/.bin/node");
        ensure!(
            node.exists(),
            "{} is missing: scripts/peer-postgraphile installs PostGraphile and Node 22",
            node.display()
        );
        let port = tests::free_port();
        let entry = if workers == 1 { "server.mjs" } else { "cluster.mjs" };
        let mut child = tokio::process::Command::new(node)
            .arg(dir.join(entry))
            .current_dir(&dir)
            .env("DATABASE_URL", database_url)
            .env("PORT", port.to_string())
            .env("WORKERS", workers.to_string())
            .env("NODE_ENV", "production")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting PostGraphile")?;
        // It says "ready" once it (every worker) listens, its schema built.
        let mut lines = BufReader::new(child.stdout.take().context("PostGraphile's output")?).lines();
        let ready = async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("ready") {
                    return Ok(true);
                }
            }
            Ok::<_, std::io::Error>(false)
        };
        match tokio::time::timeout(Duration::from_secs(120), ready).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => bail!("PostGraphile exited before it listened"),
            Ok(Err(e)) => return Err(e).context("reading PostGraphile's output"),
            Err(_) => bail!("PostGraphile did not listen within 2 minutes"),
        }
        // What it writes later is read and dropped, so a full pipe never stalls it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, url: format!("http://127.0.0.1:{port}/graphql") })
    }

    /// Peak resident memory (VmHWM) of the process and of its workers, summed, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let Some(pid) = self.child.id() else { return 0.0 };
        [pid].into_iter().chain(children(pid)).map(peak_rss_mib).sum()
    }

    /// SIGTERM (cluster.mjs stops its workers on it), then SIGKILL if it has not gone within 10 s.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: kill(2) with the pid of a child this bench started and has not reaped reads no memory of ours.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// The processes whose parent is `pid` (node:cluster's workers), from /proc.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            // `pid (comm) state ppid …`; comm may hold spaces, so read after its closing parenthesis.
            std::fs::read_to_string(format!("/proc/{child}/stat")).ok().is_some_and(|stat| {
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

fn workers_text(workers: usize) -> String {
    if workers == 1 { "1 worker".to_owned() } else { format!("{workers} workers") }
}

/// What an answer of the nested query holds.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    companies: usize,
    contacts: usize,
    deals: usize,
    stages: usize,
    owners: usize,
}

fn counts(data: &Value) -> Counts {
    let list = |v: &Value, key: &str| v[key]["nodes"].as_array().cloned().unwrap_or_default();
    let mut counts = Counts::default();
    for edge in data["companies"]["edges"].as_array().into_iter().flatten() {
        counts.companies += 1;
        counts.contacts += list(&edge["node"], "contacts").len();
        for deal in list(&edge["node"], "deals") {
            counts.deals += 1;
            counts.stages += usize::from(deal["stage"].is_object());
            counts.owners += usize::from(deal["owner"].is_object());
        }
    }
    counts
}

/// The answer with every number as a float: the gateway writes a float amount of 5000 as `5000.0`, Node as `5000`.
fn normalise(value: &Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), normalise(v))).collect()),
        other => other.clone(),
    }
}

/// Where the gateway's answer `a` and PostGraphile's `b` first differ, as a path, or `None` when they are the same.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(x), Some(y)) => first_difference(x, y, &format!("{path}.{k}")),
                (x, _) => Some(format!(
                    "{path}.{k}: only {} has it",
                    if x.is_some() { "the gateway" } else { "PostGraphile" }
                )),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() != y.len() => {
            Some(format!("{path}: {} items from the gateway, {} from PostGraphile", x.len(), y.len()))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.iter().zip(y).enumerate().find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {a} from the gateway, {b} from PostGraphile")),
    }
}

/// PostGraphile's answer must carry the gateway's data (same companies in the same order, the same contacts and deals
/// of each, the same stage labels and owner emails), and that data must not be empty at any level.
fn check_same(gateway: &Value, peer: &Value) -> anyhow::Result<Counts> {
    let (ours, theirs) = (normalise(&gateway["data"]), normalise(&peer["data"]));
    if let Some(difference) = first_difference(&ours, &theirs, "data") {
        bail!("PostGraphile's answer is not the gateway's: {difference}");
    }
    let counts = counts(&ours);
    ensure!(
        counts.companies > 0 && counts.contacts > 0 && counts.deals > 0 && counts.stages > 0 && counts.owners > 0,
        "the nested query's answer is too thin to compare: {counts:?}"
    );
    Ok(counts)
}

/// Creates the `peer` schema's functions in the mirror at `url` (idempotent; the gateway never reads that schema).
async fn prepare(url: &str) -> anyhow::Result<()> {
    let db = Database::connect(url).await.context("connecting to the bench database")?;
    db.execute_unprepared(PEER_SQL).await.context("creating the peer's functions")?;
    db.close().await?;
    Ok(())
}

fn versions() -> String {
    let dir = peer_dir();
    let postgraphile = std::fs::read_to_string(dir.join("node_modules/postgraphile/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|p| p["version"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let node = std::process::Command::new(dir.join("node_modules/.bin/node"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("PostGraphile {postgraphile} on Node {node}")
}

pub async fn run(args: &Args, url: &str, gateway: &Gateway) -> anyhow::Result<Run> {
    prepare(url).await?;
    let gateway_url = format!("{}/graphql", gateway.base);
    let (our_body, their_body) = (body(NESTED, json!({})), body(&peer_query(), json!({})));
    let expected = gateway.query(&our_body).await?;
    let (mut rows, mut peer_rss_mib, mut checked) = (Vec::new(), Vec::new(), Counts::default());
    for workers in WORKERS {
        let peer = Peer::start(url, workers).await?;
        checked = check_same(&expected, &answer(&peer.url, &their_body).await?)?;
        eprintln!("[postgres] race: PostGraphile ({}) answers the gateway's data: {checked:?}", workers_text(workers));
        for clients in CLIENTS {
            load::run(&gateway_url, our_body.clone(), clients, WARM_UP).await;
            load::run(&peer.url, their_body.clone(), clients, WARM_UP).await;
            let (mut our_turns, mut their_turns) = (Vec::new(), Vec::new());
            for _ in 0..TURNS {
                let secs = Duration::from_secs(args.secs);
                our_turns.push(load::run(&gateway_url, our_body.clone(), clients, secs).await);
                their_turns.push(load::run(&peer.url, their_body.clone(), clients, secs).await);
            }
            let (ours, theirs) = (LoadReport::merged(&our_turns), LoadReport::merged(&their_turns));
            for (who, report) in [("the gateway", &ours), ("PostGraphile", &theirs)] {
                if report.failures > 0 {
                    bail!("{} of {} requests to {who} failed in the race", report.failures, report.requests);
                }
            }
            eprintln!(
                "[postgres] race ×{clients}, PostGraphile with {}: gateway {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms), \
                 PostGraphile {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms)",
                workers_text(workers),
                ours.per_second(),
                ours.percentile_ms(0.5),
                ours.percentile_ms(0.99),
                theirs.per_second(),
                theirs.percentile_ms(0.5),
                theirs.percentile_ms(0.99),
            );
            rows.push(Row { workers, clients, gateway: ours, peer: theirs });
        }
        peer_rss_mib.push((workers, peer.peak_rss_mib()));
        peer.stop().await;
    }
    Ok(Run { rows, versions: versions(), checked, gateway_rss_mib: gateway.peak_rss_mib(), peer_rss_mib })
}

/// The issue's goal for a row, and whether it was met: at 16 clients the gateway's req/s at least 3× PostGraphile's
/// with one worker and 2× with two; at 1 client its p50 at most 0.4× PostGraphile's.
fn goal(row: &Row) -> (String, bool) {
    let rate = row.gateway.per_second() / row.peer.per_second();
    let p50 = row.gateway.percentile_ms(0.5) / row.peer.percentile_ms(0.5);
    match (row.clients, row.workers) {
        (1, _) => ("p50 ≤ 0.4×".to_owned(), p50 <= 0.4),
        (_, 1) => ("req/s ≥ 3×".to_owned(), rate >= 3.0),
        _ => ("req/s ≥ 2×".to_owned(), rate >= 2.0),
    }
}

pub fn render(out: &mut String, args: &Args, run: Option<&Run>) {
    let Some(run) = run else { return };
    let Counts { companies, contacts, deals, stages, owners } = run.checked;
    let _ = writeln!(
        out,
        "## The race\n\n{} (Amber preset, `tests/peer`) and the gateway serve the nested query from the same Postgres \
         mirror in the same run, in turns: gateway, PostGraphile, gateway, PostGraphile, {} s each, after a {} s \
         warm-up of each; a row holds both turns of each. PostGraphile reads a company's contacts and deals through \
         computed columns over `associations` (`tests/peer/peer.sql`: distinct, live rows, by HubSpot id, as the \
         gateway shows them) and a deal's stage and owner through smart-tag foreign keys \
         (`tests/peer/postgraphile.tags.json5`). Before timing, its answer was checked against the gateway's: the \
         same {companies} companies in the same order, {contacts} contacts, {deals} deals, {stages} stages and \
         {owners} owners. Ratios are gateway ÷ PostGraphile (for latencies, lower favours the gateway).\n",
        run.versions,
        args.secs,
        WARM_UP.as_secs()
    );
    let _ = writeln!(
        out,
        "| PostGraphile workers | clients | gateway req/s | PostGraphile req/s | req/s ratio | gateway p50 ms | \
         PostGraphile p50 ms | p50 ratio | gateway p99 ms | PostGraphile p99 ms | p99 ratio | goal | met |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for row in &run.rows {
        let (g, p) = (&row.gateway, &row.peer);
        let (goal, met) = goal(row);
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {goal} | {} |",
            row.workers,
            row.clients,
            g.per_second(),
            p.per_second(),
            g.per_second() / p.per_second(),
            g.percentile_ms(0.5),
            p.percentile_ms(0.5),
            g.percentile_ms(0.5) / p.percentile_ms(0.5),
            g.percentile_ms(0.99),
            p.percentile_ms(0.99),
            g.percentile_ms(0.99) / p.percentile_ms(0.99),
            if met { "yes" } else { "no" }
        );
    }
    let peers: Vec<String> =
        run.peer_rss_mib.iter().map(|(workers, mib)| format!("{mib:.0} MiB with {}", workers_text(*workers))).collect();
    let _ = writeln!(
        out,
        "\nPeak resident memory (VmHWM): the gateway {:.0} MiB (since it started, the scenarios above included); \
         PostGraphile {} (its processes summed).\n\nThe nested query, as the gateway takes it:\n\n```graphql\n{NESTED}\n```\n\n\
         and as PostGraphile takes it (aliases give both answers one shape):\n\n```graphql\n{}\n```",
        run.gateway_rss_mib,
        peers.join(", "),
        peer_query()
    );
}

#[cfg(test)]
mod checking {
    use serde_json::json;

    use super::{Counts, check_same, first_difference, normalise};

    fn answer(companies: serde_json::Value) -> serde_json::Value {
        json!({ "data": { "companies": { "edges": companies } } })
    }

    fn company(name: &str, contacts: &[&str], amount: serde_json::Value, stage: &str) -> serde_json::Value {
        let contacts: Vec<_> =
            contacts.iter().map(|e| json!({ "email": e, "firstName": "A", "lastName": null })).collect();
        json!({ "node": { "name": name, "contacts": { "nodes": contacts }, "deals": { "nodes": [
            { "name": "D", "amount": amount, "stage": { "label": stage, "probability": 1.0 }, "owner": { "email": "o@x" } }
        ] } } })
    }

    #[test]
    fn the_same_data_passes_whatever_its_number_format() {
        let ours = answer(json!([
            company("Alpha", &["a@x", "b@x"], json!(5000.0), "Won"),
            company("Beta", &["c@x"], json!(1.5), "Lost")
        ]));
        let theirs = answer(json!([
            company("Alpha", &["a@x", "b@x"], json!(5000), "Won"),
            company("Beta", &["c@x"], json!(1.5), "Lost")
        ]));
        assert_ne!(ours, theirs);
        assert_eq!(normalise(&ours), normalise(&theirs));
        let counts = check_same(&ours, &theirs).expect("the same data");
        assert_eq!(counts, Counts { companies: 2, contacts: 3, deals: 2, stages: 2, owners: 2 });
    }

    #[test]
    fn a_wrong_mapping_fails_naming_where() {
        let ours = answer(json!([
            company("Alpha", &["a@x", "b@x"], json!(5000.0), "Won"),
            company("Beta", &["c@x"], json!(1), "Lost")
        ]));
        let cases = [
            // Companies in another order.
            (
                answer(json!([
                    company("Beta", &["c@x"], json!(1), "Lost"),
                    company("Alpha", &["a@x", "b@x"], json!(5000), "Won")
                ])),
                "data.companies.edges[0].node",
            ),
            // Contacts in another order (not by HubSpot id), or an archived one shown.
            (
                answer(json!([
                    company("Alpha", &["b@x", "a@x"], json!(5000), "Won"),
                    company("Beta", &["c@x"], json!(1), "Lost")
                ])),
                "contacts.nodes[0].email",
            ),
            (
                answer(json!([
                    company("Alpha", &["a@x", "b@x", "z@x"], json!(5000), "Won"),
                    company("Beta", &["c@x"], json!(1), "Lost")
                ])),
                "2 items from the gateway, 3 from PostGraphile",
            ),
            // Another stage, another amount.
            (
                answer(json!([
                    company("Alpha", &["a@x", "b@x"], json!(5000), "Won"),
                    company("Beta", &["c@x"], json!(1), "Won")
                ])),
                "stage.label",
            ),
            (
                answer(json!([
                    company("Alpha", &["a@x", "b@x"], json!(5001), "Won"),
                    company("Beta", &["c@x"], json!(1), "Lost")
                ])),
                "amount",
            ),
        ];
        for (theirs, at) in cases {
            let err = check_same(&ours, &theirs).expect_err("a different answer").to_string();
            assert!(err.contains(at), "{err} should name {at}");
        }
        // A field only one side has.
        let missing = first_difference(&json!({ "a": 1, "b": 2 }), &json!({ "a": 1 }), "data");
        assert_eq!(missing.as_deref(), Some("data.b: only the gateway has it"));
    }

    #[test]
    fn an_empty_answer_is_not_a_match() {
        let empty = answer(json!([]));
        assert!(check_same(&empty, &empty).is_err());
        let no_owner = answer(json!([{ "node": { "name": "A", "contacts": { "nodes": [{ "email": "a" }] },
            "deals": { "nodes": [{ "name": "D", "amount": 1, "stage": { "label": "Won" }, "owner": null }] } } }]));
        assert!(check_same(&no_owner, &no_owner).is_err());
    }
}
