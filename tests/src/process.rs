//! The gateway's own binary, run by a test against a database and the simulator, and killed as a crash would kill it.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use crate::{TestDb, sim::Running};

pub struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// `target/debug/server serve` on `port` over `db`, syncing from `sim` with its private-app token, with no caller
    /// checks (no GraphQL caller: no local key file is written into the test's folder); `env` adds or overrides
    /// variables.
    pub fn start(db: &TestDb, sim: &Running, port: u16, env: &[(&str, String)]) -> Self {
        let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/server");
        assert!(binary.exists(), "{} is missing: cargo build --workspace builds it", binary.display());
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("PORT", port.to_string())
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("HUBSPOT_API_BASE", sim.base_url())
            .env("HUBSPOT_ACCESS_TOKEN", sim.token())
            .env("HUBSPOT_RATE_LIMIT", "100000")
            .env("AUTH", "off")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        Self { child: command.spawn().expect("the gateway starts") }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        self.child.kill().expect("killed");
        self.child.wait().expect("reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
