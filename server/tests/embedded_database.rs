//! The real `semrec` binary under faults and load (issue #14): a kill -9 of the
//! embedded postmaster is noticed and repaired while the server runs (row 7), CLI
//! commands started together while no postmaster runs share one instead of
//! stopping each other's (row 8), and concurrent 32 MiB imports keep the server's
//! peak memory bounded (row 11).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_semrec");

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch directory the `postgres` user can enter (tests may run as root).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = PathBuf::from("/tmp").join(format!(
            "semrec-embedded-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self(dir)
    }

    fn pgdata(&self) -> PathBuf {
        self.0.join("pgdata")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A postmaster a failed test left behind would hold the directory.
        if let Some(pid) = postmaster_pid(&self.pgdata()) {
            // SAFETY: plain kill(2) of the test's own postmaster.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `semrec` with a private data dir, a free PostgreSQL port, no inherited settings.
fn semrec(scratch: &Scratch) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("SEMREC_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    let model = std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/all-MiniLM-L6-v2"));
    cmd.env("SEMREC_DATA_DIR", scratch.pgdata())
        .env("SEMREC_PG_PORT", "0")
        .env("SEMREC_MODEL_DIR", model)
        .env("SEMREC_ADDR", "127.0.0.1:0")
        .env("SEMREC_ADMIN_PASSWORD", "test-admin-password")
        .env(
            "SEMREC_DEMO_CATALOG",
            workspace().join("engine/tests/fixtures/catalog.jsonl"),
        )
        .env("LEPTOS_SITE_ROOT", scratch.0.join("site"))
        .env("SEMREC_LOG", "info");
    cmd
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// A running process (not a zombie: the postmaster's parent may be a pid 1 that
/// does not reap).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn http_status(url: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A running `semrec serve`; its log lines are kept for assertions.
struct Server {
    child: Child,
    base: String,
    log: mpsc::Receiver<String>,
}

impl Server {
    fn start(scratch: &Scratch) -> Self {
        let mut child = semrec(scratch)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start semrec");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[semrec] {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(240);
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(line) => {
                    if let Some(addr) = line.split("semrec listening on ").nth(1) {
                        break addr.trim().to_string();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("semrec exited at start"),
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("semrec did not start listening within 240 s");
            }
        };
        let server = Self {
            child,
            base,
            log: rx,
        };
        server.wait_ready(Duration::from_secs(240));
        server
    }

    /// Polls /health/ready until 200; how long it took.
    fn wait_ready(&self, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if http_status(&format!("{}/api/v1/health/ready", self.base)) == "200" {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "semrec was not ready within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.try_iter().any(|l| l.contains(needle))
    }

    fn stop(mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "semrec exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "semrec did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn a_killed_postmaster_is_restarted_and_the_server_is_ready_within_30_s() {
    let scratch = Scratch::new("kill9");
    let server = Server::start(&scratch);
    let old = postmaster_pid(&scratch.pgdata()).expect("postmaster.pid");

    // SAFETY: plain kill(2) of the server's postmaster.
    assert_eq!(unsafe { libc::kill(old, libc::SIGKILL) }, 0);
    let killed = Instant::now();
    while alive(old) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Noticed: requests get 503 while it is down, then 200 again.
    let back = server.wait_ready(Duration::from_secs(30));
    eprintln!(
        "ready again {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    assert!(killed.elapsed() < Duration::from_secs(30), "{back:?}");
    let new = postmaster_pid(&scratch.pgdata()).expect("a new postmaster.pid");
    assert_ne!(new, old);
    assert!(alive(new));
    assert!(
        server.logged("PostgreSQL is back"),
        "the restart was not logged"
    );
    // A second crash is handled the same way.
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(new, libc::SIGKILL) }, 0);
    server.wait_ready(Duration::from_secs(30));
    let newest = postmaster_pid(&scratch.pgdata()).unwrap();
    assert_ne!(newest, new);

    // The server stops the postmaster it restarted.
    server.stop();
    assert!(!alive(newest), "the restarted postmaster was left running");
}

#[test]
fn cli_commands_started_together_share_one_postmaster() {
    let scratch = Scratch::new("cli");
    // Create the cluster once (initdb), so each round starts with none running.
    let out = semrec(&scratch).args(["api-key", "list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for round in 1..=3 {
        assert!(
            postmaster_pid(&scratch.pgdata()).is_none(),
            "round {round}: a postmaster is already running"
        );
        let children: Vec<Child> = (0..2)
            .map(|_| {
                semrec(&scratch)
                    .args(["api-key", "list"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: a command failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The last one out stopped it.
        let pid = postmaster_pid(&scratch.pgdata());
        assert!(
            pid.is_none_or(|p| !alive(p)),
            "round {round}: the postmaster was left running"
        );
    }
}

/// The server's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib / 1024
}

#[test]
fn three_concurrent_32_mib_imports_keep_the_peak_under_400_mib() {
    let scratch = Scratch::new("imports");
    let server = Server::start(&scratch);
    let out = semrec(&scratch)
        .args([
            "api-key", "create", "--name", "importer", "--scope", "write",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // 32 MiB of lines whose metadata is over the cap: each is rejected, nothing
    // is embedded.
    let file = scratch.0.join("big.jsonl");
    let blob = "x".repeat(20 * 1024);
    let mut text = String::new();
    let mut lines = 0;
    while text.len() < 32 * 1024 * 1024 - 21 * 1024 {
        text.push_str(&format!(
            "{{\"id\":\"big-{lines}\",\"title\":\"Big {lines}\",\"metadata\":{{\"blob\":\"{blob}\"}}}}\n"
        ));
        lines += 1;
    }
    std::fs::write(&file, &text).unwrap();
    drop(text);
    let before = peak_rss_mib(server.child.id());

    let imports: Vec<Child> = (0..3)
        .map(|i| {
            Command::new("curl")
                .args(["-sS", "--max-time", "300", "-o"])
                .arg(scratch.0.join(format!("import-{i}.json")))
                .args(["-w", "%{http_code}", "-H"])
                .arg(format!("Authorization: Bearer {key}"))
                .args(["-H", "Content-Type: application/x-ndjson", "--data-binary"])
                .arg(format!("@{}", file.display()))
                .arg(format!("{}/api/v1/items", server.base))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let statuses: Vec<String> = imports
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).to_string())
        .collect();
    let peak = peak_rss_mib(server.child.id());
    eprintln!(
        "VmHWM {before} MiB before, {peak} MiB after three concurrent 32 MiB imports ({lines} lines each): {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| s == "200" || s == "429"),
        "{statuses:?}"
    );
    let done = statuses
        .iter()
        .position(|s| s == "200")
        .expect("one import ran");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.0.join(format!("import-{done}.json"))).unwrap(),
    )
    .unwrap();
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), lines, "every line is over the metadata cap");
    assert_eq!(rejected[0]["line"], 1);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("'metadata'"),
        "{}",
        rejected[0]
    );
    assert!(peak <= 400, "peak RSS {peak} MiB is over 400 MiB");
    server.stop();
}
