//! Fidelity: HubSpot's official Python client (`hubspot-api-client`, installed by `make python-client`) lists,
//! reads, creates, updates, searches and associates records (with a portal's own association labels, defined,
//! renamed and deleted through the labels API), lists, creates, changes and archives property definitions, and lists,
//! reads and creates custom object schemas and creates, reads, searches and associates their records, against the
//! simulator without a deserialisation error.

use std::{path::PathBuf, process::Command};

use tests::{
    sim::{Running, SimConfig},
    small_spec,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_reads_every_answer() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/python-client/bin/python");
    assert!(python.exists(), "{} is missing: run `make python-client` (make test does)", python.display());
    let sim = Running::start(SimConfig { portals: vec![small_spec(100_001)], ..SimConfig::default() })
        .await
        .expect("simulator starts");
    let script = root.join("tests/python/fidelity.py");
    let (url, token) = (sim.base_url(), sim.token().to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).env("SIM_URL", url).env("SIM_TOKEN", token).output()
    })
    .await
    .expect("joins")
    .expect("python runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the Python client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok: 40 checks"), "{stdout}");
}
