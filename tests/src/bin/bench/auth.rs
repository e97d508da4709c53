//! What authenticating costs: the nested query at 16 clients without a credential (`AUTH=off`), with an API key
//! and with a JWT (HS256), on gateways over one database, measured in turns within one run.

use std::{fmt::Write as _, process::Stdio, time::Duration};

use anyhow::{Context, bail};
use serde_json::json;
use tests::load::{self, LoadReport};

use super::{Args, NESTED, PORTAL, body, prepare_database, seed};

pub const AUTH: &str = "auth";
const CLIENTS: usize = 16;
/// Turns of the three, so a drift of the machine falls on each alike.
const TURNS: usize = 3;
const JWT_SECRET: &str = "a shared secret of at least thirty-two bytes";
const CREDENTIALS: [&str; 3] = ["none (AUTH=off)", "API key", "JWT (HS256)"];

pub struct Run {
    backend: &'static str,
    /// Per credential, every turn's report.
    reports: [Vec<LoadReport>; 3],
}

impl Run {
    fn per_second(&self, credential: usize) -> f64 {
        let reports = &self.reports[credential];
        let requests: usize = reports.iter().map(|r| r.requests).sum();
        let secs: f64 = reports.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        requests as f64 / secs
    }
}

async fn start(
    args: &Args,
    url: &str,
    port: u16,
    auth: bool,
    dir: &std::path::Path,
) -> anyhow::Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(&args.server);
    command
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("PORT", port.to_string())
        .env("AUTH", if auth { "on" } else { "off" })
        .env("JWT_SECRET", JWT_SECRET)
        // Counted, as in production, but never reached: the bench measures what checking costs, not refusals.
        .env("RATE_LIMIT_PER_MINUTE", "4000000000")
        .env("LOCAL_KEY_FILE", dir.join("local-admin-key"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    let child = command.spawn().context("starting the gateway")?;
    super::wait_up(&format!("http://127.0.0.1:{port}")).await?;
    Ok(child)
}

/// A reader key for the bench portal, made by `server keys create`.
async fn api_key(args: &Args, url: &str) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(&args.server)
        .args(["keys", "create", "--portal", &PORTAL.to_string(), "--role", "reader", "--name", "bench"])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .context("server keys create")?;
    if !output.status.success() {
        bail!("server keys create failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

fn jwt() -> anyhow::Result<String> {
    let claims = json!({ "sub": "bench", "portals": [PORTAL], "role": "reader",
                         "exp": chrono::Utc::now().timestamp() + 3600 });
    let key = jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes())?;
    Ok(jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)?)
}

pub async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Run> {
    let url = prepare_database(backend, "gw_auth", false).await?;
    seed(&url, [args.contacts / 10, args.companies / 10, args.deals / 10]).await?;
    let dir = tempfile::tempdir()?;
    let key = api_key(args, &url).await?;
    let token = jwt()?;
    let (open_port, guarded_port) = (args.port + 20, args.port + 21);
    let _open = start(args, &url, open_port, false, dir.path()).await?;
    let _guarded = start(args, &url, guarded_port, true, dir.path()).await?;
    // Over one Postgres database the full pass is singleton work: one gateway holds its lease and runs it, the other
    // never does. The first started takes the lease.
    super::wait_scored(&format!("http://127.0.0.1:{open_port}")).await?;
    let nested = body(NESTED, json!({}));
    let targets = [
        (open_port, None),
        (guarded_port, Some(format!("Bearer {key}"))),
        (guarded_port, Some(format!("Bearer {token}"))),
    ];
    let mut reports: [Vec<LoadReport>; 3] = Default::default();
    for turn in 0..=TURNS {
        for (credential, (port, authorization)) in targets.iter().enumerate() {
            let graphql = format!("http://127.0.0.1:{port}/graphql");
            // The first turn warms each gateway up and is not counted.
            let secs = if turn == 0 { 1 } else { args.secs };
            let report =
                load::run_as(&graphql, nested.clone(), authorization.clone(), CLIENTS, Duration::from_secs(secs)).await;
            if report.failures > 0 {
                bail!("{} of {} requests failed with {}", report.failures, report.requests, CREDENTIALS[credential]);
            }
            if turn > 0 {
                eprintln!("[{backend}] auth {}: {:.0} req/s", CREDENTIALS[credential], report.per_second());
                reports[credential].push(report);
            }
        }
    }
    Ok(Run { backend, reports })
}

pub fn render(out: &mut String, args: &Args, runs: &[Run]) {
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n\n## Authentication cost\n\nThe nested query at {CLIENTS} clients on a mirror a tenth of the size above, \
         without a credential (`AUTH=off`), with an API key and with a JWT (HS256, verified at every request), on two \
         gateways over one database; {TURNS} turns of {} s each, taken in turns so the machine's drift falls on each \
         alike. Goal: within 3% of no credential.\n\n| backend | credential | req/s | share of no credential |\n|---|---|---:|---:|",
        args.secs
    );
    for run in runs {
        let none = run.per_second(0);
        for (credential, name) in CREDENTIALS.iter().enumerate() {
            let rate = run.per_second(credential);
            let _ = writeln!(out, "| {} | {name} | {rate:.0} | {:.3} |", run.backend, rate / none);
        }
    }
}
