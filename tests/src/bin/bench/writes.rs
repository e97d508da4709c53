//! Writes and fallback reads against the simulator (no added latency, no rate limit in the way): each through the
//! gateway, and the same HubSpot call made straight to the simulator, so the difference is the gateway's overhead
//! (checks, the upstream client, writing HubSpot's answer to the mirror, reading it back).

use std::{
    fmt::Write as _,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use tests::load::{self, LoadReport};

use super::{Args, PORTAL, body, prepare_database, wait_healthy};

/// Contacts of the simulated portal the gateway mirrors.
const CONTACTS: usize = 2_000;
/// Contacts created in the simulator alone per second of the fallback row (its warm-up second included), each read
/// once through the gateway's fallback: several times what one client reads (about 1,000 a second on 2026-12-06's
/// machine), so a faster machine does not run out (8,000 in all did, and read an empty id).
const UNMIRRORED_PER_SECOND: usize = 5_000;

struct Row {
    scenario: &'static str,
    gateway: LoadReport,
    /// The same HubSpot call straight to the simulator, when the scenario makes one.
    alone: Option<LoadReport>,
}

pub struct Run {
    backend: &'static str,
    rows: Vec<Row>,
}

/// A GraphQL request that must answer without errors and, with `source`, from that source.
async fn ask(http: reqwest::Client, url: String, body: String, source: Option<&'static str>) -> bool {
    let Ok(response) = http.post(url).header("content-type", "application/json").body(body).send().await else {
        return false;
    };
    let Ok(answer) = response.json::<Value>().await else { return false };
    let meta = answer["data"].as_object().and_then(|d| d.values().next()).map(|o| &o["_meta"]["source"]);
    let ok = answer.get("errors").is_none() && source.is_none_or(|s| meta.is_some_and(|m| m == s));
    if !ok {
        eprintln!("unexpected answer: {answer}");
    }
    ok
}

/// A HubSpot call straight to the simulator, answered 2xx.
async fn call(request: reqwest::RequestBuilder) -> bool {
    request.send().await.is_ok_and(|r| r.status().is_success())
}

/// One client for `secs` after a one-second warm-up, its `n`th request made by `make(n)`.
async fn one_client<F, Fut>(secs: u64, make: F) -> LoadReport
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let make = Arc::new(make);
    let counter = Arc::new(AtomicUsize::new(0));
    let session = |_| {
        let (make, counter) = (make.clone(), counter.clone());
        move || make(counter.fetch_add(1, Ordering::Relaxed))
    };
    load::drive(1, Duration::from_secs(1), session).await;
    load::drive(1, Duration::from_secs(secs), session).await
}

pub async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Run> {
    let spec = generator::PortalSpec::sized(PORTAL, 11, CONTACTS, CONTACTS / 5, CONTACTS / 2, chrono::Utc::now());
    let sim = super::unlimited_simulator(spec).await?;
    let url = prepare_database(backend, "gw_writes", false).await?;
    let upstream = |command: &mut tokio::process::Command| {
        command
            .env("DATABASE_URL", &url)
            .env("HUBSPOT_API_BASE", sim.base_url())
            .env("HUBSPOT_ACCESS_TOKEN", sim.token())
            .env("HUBSPOT_RATE_LIMIT", "100000000")
            .env("SYNC_RECONCILE_SECS", "86400")
            .env("AUTH", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
    };
    let mut sync = tokio::process::Command::new(&args.server);
    upstream(sync.args(["sync", "--portal", &PORTAL.to_string()]));
    if !sync.status().await.context("server sync")?.success() {
        bail!("syncing the writes benchmark's portal failed");
    }
    let port = args.port + 2;
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = tokio::process::Command::new(&args.server);
    upstream(serve.arg("serve").env("PORT", port.to_string()).kill_on_drop(true));
    let mut child = serve.spawn().context("starting the gateway")?;
    wait_healthy(&base).await?;

    let graphql = format!("{base}/graphql");
    let http = reqwest::Client::new();
    let hubspot = sim.base_url();
    let token = sim.token().to_owned();
    let first = reqwest::Client::new()
        .post(&graphql)
        .header("content-type", "application/json")
        .body(body("{ contacts(first: 1) { nodes { id hubspotId } } }", json!({})))
        .send()
        .await?
        .json::<Value>()
        .await?;
    let node = &first["data"]["contacts"]["nodes"][0];
    let (contact, contact_id) =
        (node["id"].clone(), node["hubspotId"].as_str().context("a mirrored contact")?.to_owned());
    let mut rows = Vec::new();

    // Reads: the mirror alone, then the read cache (fresh: true asks HubSpot once per TTL).
    let read = |fresh: bool| {
        let query = "query($id: ID!, $fresh: Boolean) { contact(id: $id, fresh: $fresh) { email _meta { source } } }";
        body(query, json!({ "id": contact, "fresh": fresh }))
    };
    for (scenario, fresh, source) in [
        ("contact by id from the mirror (no HubSpot call; the baseline)", false, "MIRROR"),
        ("contact by id, fresh: true, answered from the read cache", true, "CACHE"),
    ] {
        let (http, graphql, body) = (http.clone(), graphql.clone(), read(fresh));
        if fresh {
            // The cache's first answer comes from HubSpot; the measured ones come from the cache.
            ensure!(
                ask(http.clone(), graphql.clone(), body.clone(), Some("HUBSPOT")).await,
                "a fresh read of a contact"
            );
        }
        let gateway =
            one_client(args.secs, move |_| ask(http.clone(), graphql.clone(), body.clone(), Some(source))).await;
        rows.push(Row { scenario, gateway, alone: None });
    }

    // Fallback reads: contacts made in the simulator alone, each read once through the gateway.
    let created = create_unmirrored(&http, &hubspot, &token, UNMIRRORED_PER_SECOND * (args.secs as usize + 1)).await?;
    let properties = generator::generated_properties(hubspot::ObjectType::Contact).join(",");
    let gateway = {
        let (http, graphql, created) = (http.clone(), graphql.clone(), created.clone());
        one_client(args.secs, move |n| {
            let query = "query($id: ID!) { contact(id: $id) { email _meta { source } } }";
            let body = body(query, json!({ "id": created.get(n).cloned().unwrap_or_default() }));
            ask(http.clone(), graphql.clone(), body, Some("HUBSPOT"))
        })
        .await
    };
    let alone = {
        let (http, hubspot, token, created) = (http.clone(), hubspot.clone(), token.clone(), created.clone());
        one_client(args.secs, move |n| {
            let id = &created[n % created.len()];
            let url = format!("{hubspot}/crm/v3/objects/contacts/{id}?properties={properties}");
            call(http.get(url).bearer_auth(&token))
        })
        .await
    };
    rows.push(Row { scenario: "contact the mirror lacks, read from HubSpot (fallback)", gateway, alone: Some(alone) });

    // Writes.
    let gateway = {
        let (http, graphql) = (http.clone(), graphql.clone());
        one_client(args.secs, move |n| {
            let query =
                "mutation($email: String!) { createContact(input: { email: $email, firstName: \"Bench\" }) { id } }";
            ask(http.clone(), graphql.clone(), body(query, json!({ "email": format!("gw{n}@bench.example") })), None)
        })
        .await
    };
    let alone = {
        let (http, hubspot, token) = (http.clone(), hubspot.clone(), token.clone());
        one_client(args.secs, move |n| {
            let body = json!({ "properties": { "email": format!("sim{n}@bench.example"), "firstname": "Bench" } });
            call(http.post(format!("{hubspot}/crm/v3/objects/contacts")).bearer_auth(&token).json(&body))
        })
        .await
    };
    rows.push(Row { scenario: "createContact", gateway, alone: Some(alone) });
    let gateway = {
        let (http, graphql, contact) = (http.clone(), graphql.clone(), contact.clone());
        one_client(args.secs, move |n| {
            let query = "mutation($id: ID!, $title: String!) { updateContact(id: $id, input: { jobTitle: $title }) { jobTitle } }";
            let body = body(query, json!({ "id": contact, "title": format!("Title {n}") }));
            ask(http.clone(), graphql.clone(), body, None)
        })
        .await
    };
    let alone = {
        let (http, hubspot, token) = (http.clone(), hubspot.clone(), token.clone());
        one_client(args.secs, move |n| {
            let body = json!({ "properties": { "jobtitle": format!("Title {n}") } });
            let url = format!("{hubspot}/crm/v3/objects/contacts/{contact_id}");
            call(http.patch(url).bearer_auth(&token).json(&body))
        })
        .await
    };
    rows.push(Row { scenario: "updateContact", gateway, alone: Some(alone) });
    let _ = child.kill().await;

    for row in &rows {
        if row.gateway.failures > 0 || row.alone.as_ref().is_some_and(|a| a.failures > 0) {
            bail!("requests failed in \"{}\"", row.scenario);
        }
        eprintln!(
            "[{backend}] {}: gateway p50 {:.2} ms p99 {:.2} ms; simulator alone p50 {}",
            row.scenario,
            row.gateway.percentile_ms(0.5),
            row.gateway.percentile_ms(0.99),
            row.alone.as_ref().map_or("-".into(), |a| format!("{:.2} ms", a.percentile_ms(0.5)))
        );
    }
    Ok(Run { backend, rows })
}

/// Contacts created in the simulator alone (the gateway hears of them from no webhook and no sweep): their ids.
async fn create_unmirrored(
    http: &reqwest::Client,
    hubspot: &str,
    token: &str,
    count: usize,
) -> anyhow::Result<Arc<Vec<String>>> {
    let mut ids = Vec::with_capacity(count);
    for batch in 0..count.div_ceil(100) {
        let inputs: Vec<Value> = (0..100)
            .map(|n| json!({ "properties": { "email": format!("fallback{}@bench.example", batch * 100 + n) } }))
            .collect();
        let answer: Value = http
            .post(format!("{hubspot}/crm/v3/objects/contacts/batch/create"))
            .bearer_auth(token)
            .json(&json!({ "inputs": inputs }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.extend(
            answer["results"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str().map(str::to_owned)),
        );
    }
    Ok(Arc::new(ids))
}

pub fn render(out: &mut String, args: &Args, runs: &[Run]) {
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n\n## Writes and fallback reads\n\nOne client for {} s per row, against the simulator in the benchmark's \
         process (no added latency, its rate limit lifted) and a gateway mirroring its portal of {CONTACTS} contacts. \
         \"Simulator alone\" makes the same HubSpot call straight to the simulator; the overhead is the gateway's p50 \
         less the simulator's: checking the input, the upstream client, writing HubSpot's answer to the mirror and \
         reading it back. The fallback row reads a different contact each request, one the mirror lacks (made in the \
         simulator alone), so each is a real HubSpot call and an upsert.\n",
        args.secs
    );
    let _ = writeln!(
        out,
        "| backend | scenario | req/s | p50 ms | p99 ms | simulator alone p50 ms | p99 ms | overhead p50 ms |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        for row in &run.rows {
            let (gw50, gw99) = (row.gateway.percentile_ms(0.5), row.gateway.percentile_ms(0.99));
            let alone = row.alone.as_ref().map_or(("-".into(), "-".into(), "-".into()), |a| {
                let p50 = a.percentile_ms(0.5);
                (format!("{p50:.2}"), format!("{:.2}", a.percentile_ms(0.99)), format!("{:.2}", gw50 - p50))
            });
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {gw50:.2} | {gw99:.2} | {} | {} | {} |",
                run.backend,
                row.scenario,
                row.gateway.per_second(),
                alone.0,
                alone.1,
                alone.2
            );
        }
    }
}
