//! The `semrec` binary as an operator runs it: bad set-ups fail with one clear
//! line, a stop + restart keeps the catalog, profiles and clicks (and finishes a
//! demo catalog load a stopped start left unfinished), and CLI commands beside
//! the server leave its PostgreSQL running.
//!
//! These run the real binary against a real local PostgreSQL cluster (in a
//! temporary data directory) and the real model; HTTP goes through `curl`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pg_local::{ClusterOptions, LocalCluster};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

const BIN: &str = env!("CARGO_BIN_EXE_semrec");

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_dir() -> PathBuf {
    std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/all-MiniLM-L6-v2"))
}

/// A scratch directory the `postgres` user can enter (tests may run as root).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "semrec-lifecycle-{tag}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `semrec` command with a private data dir, a free PostgreSQL port and no
/// inherited configuration.
fn semrec(scratch: &Scratch) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("SEMREC_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("SEMREC_DATA_DIR", scratch.0.join("pgdata"))
        .env("SEMREC_PG_PORT", "0")
        .env("SEMREC_MODEL_DIR", model_dir())
        .env("SEMREC_ADDR", "127.0.0.1:0")
        .env("SEMREC_ADMIN_PASSWORD", "test-admin-password")
        .env("SEMREC_DEMO_CATALOG", scratch.0.join("no-demo.jsonl"))
        .env("LEPTOS_SITE_ROOT", scratch.0.join("site"))
        .env("SEMREC_LOG", "info");
    cmd
}

/// Runs a command that must fail at start-up; returns its stderr.
fn expect_setup_error(mut cmd: Command) -> String {
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
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
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

#[test]
fn missing_model_is_one_clear_line() {
    let scratch = Scratch::new("nomodel");
    let empty = scratch.0.join("empty-model");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_MODEL_DIR", &empty);
    let line = expect_setup_error(cmd);
    assert!(line.contains("scripts/fetch-model.sh"), "{line}");
    assert!(line.contains(&empty.display().to_string()), "{line}");
    // The local cluster it started for the attempt was stopped again.
    assert!(!scratch.0.join("pgdata/postmaster.pid").exists());
}

#[test]
fn model_file_with_wrong_hash_is_one_clear_line() {
    let scratch = Scratch::new("badhash");
    let model = scratch.0.join("model");
    // Link the real weights, but carry a tampered config.json.
    link_tree(&model_dir(), &model);
    let config = model.join("config.json");
    let mut text = std::fs::read_to_string(&config).unwrap();
    std::fs::remove_file(&config).unwrap();
    text.push('\n');
    std::fs::write(&config, text).unwrap();
    assert!(
        model.join("SHA256SUMS").exists(),
        "the model folder has no SHA256SUMS: run scripts/fetch-model.sh"
    );
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_MODEL_DIR", &model);
    let line = expect_setup_error(cmd);
    assert!(line.contains("wrong sha256"), "{line}");
    assert!(line.contains("config.json"), "{line}");
    assert!(line.contains("scripts/fetch-model.sh"), "{line}");
}

#[test]
fn port_in_use_is_one_clear_line() {
    let scratch = Scratch::new("port");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_ADDR", format!("127.0.0.1:{port}"));
    let line = expect_setup_error(cmd);
    assert!(
        line.contains(&format!("port {port} is already in use")),
        "{line}"
    );
    assert!(line.contains("SEMREC_ADDR"), "{line}");
    // Refused before anything slow: no cluster was created.
    assert!(!scratch.0.join("pgdata").exists());
}

#[test]
fn unreachable_database_url_is_one_clear_line() {
    let scratch = Scratch::new("nodb");
    // A port nobody listens on: bind, note it, release it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = semrec(&scratch);
    cmd.env(
        "DATABASE_URL",
        format!("postgres://semrec:secret@127.0.0.1:{port}/semrec"),
    );
    let line = expect_setup_error(cmd);
    assert!(line.contains("cannot reach PostgreSQL"), "{line}");
    assert!(line.contains("DATABASE_URL"), "{line}");
    assert!(!line.contains("secret"), "the password leaked: {line}");
}

#[test]
fn postgres_without_pgvector_is_one_clear_line() {
    let scratch = Scratch::new("novector");
    let Some(bin) = postgres_without_pgvector(&scratch.0.join("pg")) else {
        eprintln!("skipped: no pg_config");
        return;
    };
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_PG_BIN", bin);
    let line = expect_setup_error(cmd);
    assert!(line.contains("pgvector"), "{line}");
    assert!(line.contains("scripts/setup.sh"), "{line}");
}

#[test]
fn empty_or_short_admin_password_is_one_clear_line() {
    // Empty (common in env and compose files), whitespace only, and short.
    for (password, says) in [
        ("", "is set but empty"),
        ("   ", "is set but empty"),
        ("a", "too short (1 characters)"),
        ("elevenchars", "too short (11 characters)"),
    ] {
        let scratch = Scratch::new("adminpw");
        let mut cmd = semrec(&scratch);
        cmd.env("SEMREC_ADMIN_PASSWORD", password);
        let line = expect_setup_error(cmd);
        assert!(line.contains("SEMREC_ADMIN_PASSWORD"), "{line}");
        assert!(line.contains(says), "{password:?}: {line}");
        assert!(line.contains("at least 12"), "{line}");
        // Refused before anything started: no database cluster was created.
        assert!(!scratch.0.join("pgdata").exists(), "{password:?}");
    }
}

#[test]
fn restart_keeps_catalog_profiles_and_clicks() {
    let scratch = Scratch::new("restart");
    let catalog = workspace().join("engine/tests/fixtures/catalog.jsonl");

    let server = Server::start(&scratch, &catalog);
    let ready = server.get_json("/api/v1/health/ready");
    let catalog_size = ready["catalog_size"].as_i64().unwrap();
    assert!(catalog_size >= 10, "demo catalog not imported: {ready}");

    let jar = scratch.0.join("cookies.txt");
    server.call(&jar, "sign_in", &[("handle", "restart-tester")]);
    server.call(
        &jar,
        "save_profile",
        &[
            ("interests", "aircraft, jazz"),
            ("history", ""),
            ("classes", ""),
            ("about", "I like planes"),
        ],
    );
    let recs = server.call(
        &jar,
        "get_recommendations",
        &[("offset", "0"), ("language", ""), ("source", "")],
    );
    let impression = recs["impression_id"].as_str().unwrap().to_string();
    let first = recs["items"][0]["item"]["id"].as_str().unwrap().to_string();
    server.call(
        &jar,
        "open_item",
        &[("id", first.as_str()), ("impression", impression.as_str())],
    );
    let admin_jar = scratch.0.join("admin-cookies.txt");
    server.call(
        &admin_jar,
        "admin_sign_in",
        &[("user", "admin"), ("password", "test-admin-password")],
    );
    let before = server.call(&admin_jar, "get_dashboard", &[]);
    assert_eq!(before["clicks"], 1, "{before}");

    // A CLI command beside the running server uses its PostgreSQL and leaves it running.
    let out = semrec(&scratch).args(["api-key", "list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ready = server.get_json("/api/v1/health/ready");
    assert_eq!(
        ready["catalog_size"].as_i64(),
        Some(catalog_size),
        "the server lost its database: {ready}"
    );

    let pgdata = scratch.0.join("pgdata");
    server.stop();
    assert!(
        !pgdata.join("postmaster.pid").exists(),
        "the local PostgreSQL was left running"
    );

    // As if the first start had been stopped mid-import: part of the catalog
    // (items never shown, so the events stay), the demo load not completed.
    let removed = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let cluster = LocalCluster::start(ClusterOptions {
            data_dir: pgdata.clone(),
            port: 0,
            bin_dir: std::env::var_os("SEMREC_PG_BIN")
                .map_or_else(|| "/usr/lib/postgresql/15/bin".into(), PathBuf::from),
            database: "semrec".into(),
        })
        .await
        .unwrap();
        let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
        let reset = sqlx::query(
            "UPDATE catalog_seeds SET completed_at = NULL WHERE name = 'demo' AND completed_at IS NOT NULL",
        )
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
        assert_eq!(reset, 1, "the first start recorded its completed demo load");
        let removed = sqlx::query(
            "DELETE FROM items WHERE id NOT IN (SELECT item_id FROM impression_items)",
        )
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
        conn.close().await.unwrap();
        cluster.stop().await.unwrap();
        removed
    });
    assert!(removed > 0, "no item was left out of every list");

    let server = Server::start(&scratch, &catalog);
    let ready = server.get_json("/api/v1/health/ready");
    assert_eq!(
        ready["catalog_size"].as_i64(),
        Some(catalog_size),
        "the unfinished demo load was resumed: {ready}"
    );
    // Same cookie jar: the user session, the profile and the click survived.
    let profile = server.call(&jar, "get_profile", &[]);
    assert_eq!(profile["handle"], "restart-tester", "{profile}");
    assert_eq!(profile["interests"][0], "aircraft", "{profile}");
    assert_eq!(profile["about"], "I like planes", "{profile}");
    let after = server.call(&admin_jar, "get_dashboard", &[]);
    assert_eq!(after["clicks"], 1, "{after}");
    assert_eq!(after["impressions"], before["impressions"], "{after}");
    server.stop();
}

#[test]
fn admin_sessions_end_when_the_server_restarts_with_another_password() {
    let scratch = Scratch::new("adminsession");
    let catalog = workspace().join("engine/tests/fixtures/catalog.jsonl");
    let jar = scratch.0.join("admin-cookies.txt");
    let server = Server::start_with(
        &scratch,
        &catalog,
        &[("SEMREC_ADMIN_PASSWORD", Some("the-first-password"))],
    );
    server.call(
        &jar,
        "admin_sign_in",
        &[("user", "admin"), ("password", "the-first-password")],
    );
    assert_eq!(server.status_of(&jar, "get_dashboard"), "200");
    server.stop();

    // Restarted with a new password: the old cookie no longer opens the dashboard.
    let server = Server::start_with(
        &scratch,
        &catalog,
        &[("SEMREC_ADMIN_PASSWORD", Some("the-second-password"))],
    );
    assert_eq!(server.status_of(&jar, "get_dashboard"), "401");
    server.call(
        &jar,
        "admin_sign_in",
        &[("user", "admin"), ("password", "the-second-password")],
    );
    assert_eq!(server.status_of(&jar, "get_dashboard"), "200");
    server.stop();

    // Restarted without a password: the one generated ends them too.
    let server = Server::start_with(&scratch, &catalog, &[("SEMREC_ADMIN_PASSWORD", None)]);
    assert_eq!(server.status_of(&jar, "get_dashboard"), "401");
    server.stop();
}

/// A running `semrec serve` and the address it listens on.
struct Server {
    child: Child,
    base: String,
    _log: std::thread::JoinHandle<()>,
}

impl Server {
    fn start(scratch: &Scratch, catalog: &Path) -> Self {
        Self::start_with(scratch, catalog, &[])
    }

    /// Starts with these environment variables set (`None`: removed) on top of [`semrec`]'s.
    fn start_with(scratch: &Scratch, catalog: &Path, env: &[(&str, Option<&str>)]) -> Self {
        let mut cmd = semrec(scratch);
        for (key, value) in env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        let mut child = cmd
            .env("SEMREC_DEMO_CATALOG", catalog)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start semrec");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keep draining stderr so the server never blocks on a full pipe.
        let log = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[semrec] {line}");
                if let Some(addr) = line.split("semrec listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(240)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("semrec did not start listening within 240 s");
            }
        };
        let server = Self {
            child,
            base,
            _log: log,
        };
        server.wait_ready();
        server
    }

    /// Polls /health/ready until it answers 200: a first start loads its demo
    /// catalog while it already serves.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let out = Command::new("curl")
                .args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "10",
                ])
                .arg(format!("{}/api/v1/health/ready", self.base))
                .output()
                .expect("curl");
            if out.stdout == b"200" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "semrec was not ready within 240 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn get_json(&self, path: &str) -> Value {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "--max-time", "60"])
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("curl");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "GET {path} failed: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Calls a Leptos server function the way the browser's form does.
    fn call(&self, jar: &Path, endpoint: &str, args: &[(&str, &str)]) -> Value {
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

    /// The HTTP status a server function answers (no assertion on it).
    fn status_of(&self, jar: &Path, endpoint: &str) -> String {
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

    /// SIGTERM, as Ctrl-C or a service manager would; must exit cleanly.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "semrec exited with {status}");
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("semrec did not stop within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

fn form_encode(s: &str) -> String {
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

/// Mirrors real links of every file of `src` into `dst`.
fn link_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let path = entry.path();
        let target = dst.join(entry.file_name());
        if path.is_dir() {
            link_tree(&path, &target);
        } else {
            std::os::unix::fs::symlink(&path, &target).unwrap();
        }
    }
}

/// A copy of the PostgreSQL installation without pgvector's files. PostgreSQL
/// finds share/ and lib/ relative to its own binary, so the layout is mirrored.
fn postgres_without_pgvector(root: &Path) -> Option<PathBuf> {
    let bin = PathBuf::from(
        std::env::var_os("SEMREC_PG_BIN").unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into()),
    );
    let pg_config = |flag: &str| -> Option<PathBuf> {
        let out = Command::new(bin.join("pg_config"))
            .arg(flag)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    };
    let (share, lib) = (pg_config("--sharedir")?, pg_config("--pkglibdir")?);
    let copy = |src: &Path| -> PathBuf {
        let dst = root.join(src.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&dst).unwrap();
        let ok = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", src.display()))
            .arg(&dst)
            .status()
            .unwrap()
            .success();
        assert!(ok, "copying {}", src.display());
        remove_vector_files(&dst);
        dst
    };
    let new_bin = copy(&bin);
    copy(&share);
    copy(&lib);
    let mut dir = root.to_path_buf();
    use std::os::unix::fs::PermissionsExt;
    while dir.starts_with(root) {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        if !dir.pop() {
            break;
        }
    }
    Some(new_bin)
}

fn remove_vector_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_vector_files(&path);
        } else if entry.file_name().to_string_lossy().starts_with("vector") {
            std::fs::remove_file(&path).unwrap();
        }
    }
}
