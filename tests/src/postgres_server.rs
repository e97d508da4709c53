//! A Postgres cluster of a test's own, which it may stop and start again (the machine's is shared by every test):
//! `initdb` into a temporary folder, `pg_ctl` on a free port, trust auth for `postgres`; stopped and removed when
//! dropped. Run as root, the cluster runs as the `postgres` user (Postgres refuses root).

use std::{
    ffi::CString,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Where Debian puts Postgres 15's server programs; `PG_BIN` overrides it.
fn bin(program: &str) -> PathBuf {
    let dir = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".to_owned());
    Path::new(&dir).join(program)
}

pub struct PrivatePostgres {
    pub port: u16,
    folder: tempfile::TempDir,
    running: bool,
}

impl PrivatePostgres {
    /// A fresh cluster, started; its `postgres` database is empty.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let folder = tempfile::tempdir().expect("a temporary folder");
        if let Some((uid, gid)) = postgres_user() {
            std::os::unix::fs::chown(folder.path(), Some(uid), Some(gid)).expect("the folder given to postgres");
        }
        let mut cluster = Self { port, folder, running: false };
        let data = cluster.data();
        cluster.run(bin("initdb"), &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"]);
        cluster.resume();
        cluster
    }

    fn data(&self) -> String {
        self.folder.path().join("data").display().to_string()
    }

    /// `postgres://postgres@127.0.0.1:port/database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server at once (`-m fast`: connections are cut, as a restart cuts them).
    pub fn stop(&mut self) {
        if self.running {
            self.pg_ctl(&["stop", "-m", "fast", "-w"]);
            self.running = false;
        }
    }

    /// Starts the server again on the same port and waits until it takes connections.
    pub fn resume(&mut self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.folder.path().display());
        let log = self.folder.path().join("log").display().to_string();
        self.pg_ctl(&["start", "-w", "-l", &log, "-o", &options]);
        self.running = true;
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data();
        let mut all = vec!["-D", &data];
        all.extend_from_slice(args);
        self.run(bin("pg_ctl"), &all);
    }

    /// Runs `program`, which must succeed.
    fn run(&self, program: PathBuf, args: &[&str]) {
        let output = command(&program).args(args).output().expect("the Postgres programs are installed");
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `program`, run as the `postgres` user when we are root.
fn command(program: &Path) -> Command {
    let mut command = match postgres_user() {
        Some(_) => {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        }
        None => Command::new(program),
    };
    command.stdin(Stdio::null());
    command
}

/// The `postgres` user's ids when we run as root (Postgres will not), else `None`.
fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid reads no memory of ours.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = CString::new("postgres").expect("no NUL");
    // SAFETY: getpwnam takes a NUL-terminated name; the entry it returns is read at once, before any other call.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(!entry.is_null(), "running as root, Postgres needs a `postgres` user to run as");
    // SAFETY: not null, checked above.
    let entry = unsafe { &*entry };
    Some((entry.pw_uid, entry.pw_gid))
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let stop = ["-D", &data, "stop", "-m", "immediate", "-w"];
            let _ = command(&bin("pg_ctl")).args(stop).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}
