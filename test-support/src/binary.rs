//! The `semrec` binary as an operator runs it: a child process with a private
//! data directory, started, waited for, called over HTTP with `curl`, stopped.
//!
//! The binary's path comes from the caller: `env!("CARGO_BIN_EXE_semrec")`
//! exists only in the server crate's integration tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::scratch::Scratch;

/// How long a start may take (a first start runs initdb and imports a catalog).
const START_WITHIN: Duration = Duration::from_secs(240);
/// How long a SIGTERM may take to end the server.
const STOP_WITHIN: Duration = Duration::from_secs(60);

/// `semrec` with a private data dir in `scratch`, a free PostgreSQL port, a free
/// listen port, no demo catalog and no inherited configuration.
pub fn command(bin: &str, scratch: &Scratch) -> Command {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("SEMREC_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("SEMREC_DATA_DIR", scratch.pgdata())
        .env("SEMREC_PG_PORT", "0")
        .env("SEMREC_MODEL_DIR", crate::paths::model_dir())
        .env("SEMREC_ADDR", "127.0.0.1:0")
        // Its own free port: tests run side by side, and the default is fixed.
        .env("SEMREC_METRICS_ADDR", "127.0.0.1:0")
        .env("SEMREC_ADMIN_PASSWORD", "test-admin-password")
        .env("SEMREC_DEMO_CATALOG", scratch.join("no-demo.jsonl"))
        .env("LEPTOS_SITE_ROOT", scratch.join("site"))
        .env("SEMREC_LOG", "info");
    cmd
}

/// Runs `cmd serve`, which must fail at start-up; returns its one error line.
pub fn expect_setup_error(mut cmd: Command) -> String {
    let mut child = cmd
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run semrec");
    // A server that starts instead of refusing must fail the test, not hang it.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait for semrec").is_none() {
        if Instant::now() > deadline {
            // SIGTERM first, so that it stops the PostgreSQL it may have started.
            crate::process::signal(child.id(), libc::SIGTERM);
            std::thread::sleep(Duration::from_secs(10));
            let _ = child.kill();
            let _ = child.wait();
            panic!("semrec did not refuse to start within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("semrec's output");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "semrec should have failed:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic trace:\n{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("semrec: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "want exactly one error line:\n{stderr}");
    errors[0].to_string()
}

/// A running `semrec serve`: its address, and its log lines for assertions
/// (also echoed to the test's stderr). Dropped while running, it gets SIGTERM
/// (so it stops its PostgreSQL), then SIGKILL if it has not exited in time.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `http://127.0.0.1:PORT/metrics`, when metrics are on.
    pub metrics: Option<String>,
    log: mpsc::Receiver<String>,
}

impl Server {
    /// Runs `cmd serve` and returns once it listens (not yet ready).
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start semrec");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[semrec] {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_WITHIN;
        let mut metrics = None;
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(line) => {
                    if let Some(url) = line.split("metrics listening on ").nth(1) {
                        metrics = Some(url.trim().to_string());
                    }
                    if let Some(addr) = line.split("semrec listening on ").nth(1) {
                        break addr.trim().to_string();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    panic!("semrec exited at start")
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("semrec did not start listening within {START_WITHIN:?}");
            }
        };
        Self {
            child,
            base,
            metrics,
            log: rx,
        }
    }

    /// Runs `cmd serve` and returns once `/api/v1/health/ready` answers 200 (a
    /// first start loads its demo catalog while it already serves).
    pub fn start(cmd: Command) -> Self {
        let server = Self::spawn(cmd);
        server.wait_ready(START_WITHIN);
        server
    }

    /// `127.0.0.1:PORT`, for raw sockets.
    pub fn addr(&self) -> &str {
        self.base.strip_prefix("http://").unwrap_or(&self.base)
    }

    /// Polls /health/ready until 200; how long it took.
    pub fn wait_ready(&self, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if http_status(&format!("{}/api/v1/health/ready", self.base), 10) == "200" {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "semrec was not ready within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether a log line since the last call contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.log.try_iter().any(|l| l.contains(needle))
    }

    /// Whether a log line containing `needle` arrives within `within` (lines read
    /// before it are consumed). The server may answer before it logs what it did,
    /// and its log reaches the test through a reader thread.
    pub fn wait_logged(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.logged(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first log line containing `needle` that arrives within `within`
    /// (lines read before it are consumed).
    pub fn wait_log_line(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.log.try_iter().find(|l| l.contains(needle)) {
                return Some(line);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET `path`, which must answer 2xx with JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "--max-time", "60"])
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("curl");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "GET {path} failed: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Calls a Leptos server function the way the browser's form does; it must succeed.
    pub fn call(&self, jar: &Path, endpoint: &str, args: &[(&str, &str)]) -> Value {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--fail-with-body", "--max-time", "120", "-X", "POST"])
            .arg("-b")
            .arg(jar)
            .arg("-c")
            .arg(jar)
            .arg("-H")
            .arg(format!("Origin: {}", self.base))
            .args(["-H", "Accept: application/json"])
            .args(["-H", "Content-Type: application/x-www-form-urlencoded"])
            .arg("--data")
            .arg(
                args.iter()
                    .map(|(k, v)| format!("{k}={}", form_encode(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            )
            .arg(format!("{}/api/{endpoint}", self.base));
        let out = cmd.output().expect("curl");
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{endpoint} failed: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// Signs in as `handle` (cookies in `jar`) and saves a profile of these interests.
    pub fn sign_in_with_interests(&self, jar: &Path, handle: &str, interests: &str, about: &str) {
        self.call(jar, "sign_in", &[("handle", handle)]);
        self.call(
            jar,
            "save_profile",
            // Typed into the chip box (split at commas as typed), not saved chips,
            // which come one per line.
            &[
                ("interests", ""),
                ("interests_entry", interests),
                ("history", ""),
                ("classes", ""),
                ("about", about),
            ],
        );
    }

    /// The signed-in user's first page of recommendations (records an impression).
    pub fn recommend(&self, jar: &Path) -> Value {
        self.call(
            jar,
            "get_recommendations",
            &[("offset", "0"), ("language", ""), ("source", "")],
        )
    }

    /// Opens (clicks) the first item of `list`, a [`Self::recommend`] answer.
    pub fn open_first(&self, jar: &Path, list: &Value) {
        let impression = list["impression_id"].as_str().unwrap();
        let first = list["items"][0]["item"]["id"].as_str().unwrap();
        self.call(
            jar,
            "open_item",
            &[("id", first), ("impression", impression)],
        );
    }

    /// The HTTP status a server function answers (no assertion on it).
    pub fn status_of(&self, jar: &Path, endpoint: &str) -> String {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "60",
            ])
            .args(["-X", "POST", "-b"])
            .arg(jar)
            .arg("-H")
            .arg(format!("Origin: {}", self.base))
            .args(["-H", "Accept: application/json"])
            .arg(format!("{}/api/{endpoint}", self.base))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Sends SIGTERM, as Ctrl-C or a service manager would.
    pub fn terminate(&self) {
        assert!(
            crate::process::signal(self.child.id(), libc::SIGTERM),
            "SIGTERM to semrec"
        );
    }

    /// Waits for the process to exit; None if it has not within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM; it must exit cleanly within a minute.
    pub fn stop(mut self) {
        self.terminate();
        match self.wait_exit(STOP_WITHIN) {
            Some(status) => assert!(status.success(), "semrec exited with {status}"),
            None => panic!("semrec did not stop within {STOP_WITHIN:?} of SIGTERM"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            crate::process::signal(self.child.id(), libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(20)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// The HTTP status `url` answers (`000` when nothing does), within `max_time_s`.
pub fn http_status(url: &str, max_time_s: u32) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            &max_time_s.to_string(),
        ])
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
