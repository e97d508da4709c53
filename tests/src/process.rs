//! The gateway's own binary, run by a test against a database and the simulator, and killed as a crash would kill it.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
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
        Self::start_on(&db.url, sim, port, env)
    }

    /// The same over the database at `database_url` (which the gateway migrates at start).
    pub fn start_on(database_url: &str, sim: &Running, port: u16, env: &[(&str, String)]) -> Self {
        let mut command = Self::command(database_url, sim, port, env);
        command.stdout(Stdio::null());
        Self { child: command.spawn().expect("the gateway starts") }
    }

    /// Like [`ServerProcess::start`], with the lines it writes to its standard output (its log) collected.
    pub fn start_logged(db: &TestDb, sim: &Running, port: u16, env: &[(&str, String)]) -> (Self, Logs) {
        let mut command = Self::command(&db.url, sim, port, env);
        command.stdout(Stdio::piped());
        let mut child = command.spawn().expect("the gateway starts");
        let stdout = child.stdout.take().expect("its piped standard output");
        let logs = Logs::default();
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                kept.0.lock().expect("the log lines").push(line);
            }
        });
        (Self { child }, logs)
    }

    fn command(database_url: &str, sim: &Running, port: u16, env: &[(&str, String)]) -> Command {
        let binary = server_binary();
        assert!(binary.exists(), "{} is missing: cargo build --workspace builds it", binary.display());
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORT", port.to_string())
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("HUBSPOT_API_BASE", sim.base_url())
            .env("HUBSPOT_ACCESS_TOKEN", sim.token())
            .env("HUBSPOT_RATE_LIMIT", "100000")
            .env("AUTH", "off")
            .env("RUST_LOG", "error");
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// The process id (a replica's holder id in the `leases` table contains it).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        self.child.kill().expect("killed");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, as an orchestrator stops a replica: the gateway stops cleanly.
    pub fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a pid this test started and has not reaped reads no memory of ours.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM sent");
    }

    /// Its exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("its status")
    }

    /// Its exit status, waiting at most `secs` seconds (checked ten times a second).
    pub async fn exit_within(&mut self, secs: u64) -> ExitStatus {
        let mut status = None;
        crate::wait_for("the gateway's exit", secs, async || {
            status = self.exited();
            status.is_some()
        })
        .await;
        status.expect("exited")
    }
}

/// The lines a gateway started with [`ServerProcess::start_logged`] has written so far.
#[derive(Clone, Debug, Default)]
pub struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("the log lines").clone()
    }
}

/// The `server` binary beside this test's own (`target/debug/deps/suite-…`), so a `CARGO_TARGET_DIR` elsewhere works.
fn server_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test binary's path");
    let debug = test.parent().and_then(|deps| deps.parent()).expect("target/debug");
    debug.join("server")
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
