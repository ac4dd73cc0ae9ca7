//! The real `semrec` binary against slow clients: a socket that trickles its
//! request head is closed after SEMREC_HEADER_TIMEOUT, and SIGTERM ends the
//! process and its PostgreSQL within 15 s even while such a socket is open.
//! A public listen address without SEMREC_ALLOWED_HOSTS is refused at start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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
        let dir =
            std::env::temp_dir().join(format!("semrec-shutdown-{tag}-{}", std::process::id()));
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
    cmd.env("SEMREC_DATA_DIR", scratch.0.join("pgdata"))
        .env("SEMREC_PG_PORT", "0")
        .env("SEMREC_MODEL_DIR", model)
        .env("SEMREC_ADDR", "127.0.0.1:0")
        .env("SEMREC_ADMIN_PASSWORD", "test-admin-password")
        .env("SEMREC_DEMO_CATALOG", scratch.0.join("no-demo.jsonl"))
        .env("LEPTOS_SITE_ROOT", scratch.0.join("site"))
        .env("SEMREC_LOG", "info");
    cmd
}

/// Starts `semrec serve`; returns the child and its address once it listens.
fn start(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
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
            if let Some(addr) = line.split("semrec listening on http://").nth(1) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(240)) {
        Ok(addr) => (child, addr),
        Err(_) => {
            let _ = child.kill();
            panic!("semrec did not start listening within 240 s");
        }
    }
}

/// A socket that sends the start of a request head and never finishes it.
fn slowloris(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    s
}

/// Trickles a byte every 300 ms until the server closes the socket; returns
/// how long that took, or None if it stayed open for `limit`.
fn closed_within(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 512];
    while started.elapsed() < limit {
        if s.write_all(b"a").is_err() {
            return Some(started.elapsed());
        }
        match s.read(&mut buf) {
            // EOF, or whatever error response precedes it.
            Ok(_) => return Some(started.elapsed()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn a_socket_that_trickles_its_headers_is_closed_after_the_header_timeout() {
    let scratch = Scratch::new("slowloris");
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_HEADER_TIMEOUT", "2");
    let (mut child, addr) = start(cmd);
    let sockets: Vec<TcpStream> = (0..20).map(|_| slowloris(&addr)).collect();
    let waits: Vec<Option<Duration>> = sockets
        .into_iter()
        .map(|s| std::thread::spawn(move || closed_within(s, Duration::from_secs(8))))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(
        waits
            .iter()
            .all(|w| w.is_some_and(|d| d < Duration::from_secs(6))),
        "not all partial-header sockets were closed: {waits:?}"
    );
    // The server still answers.
    let ok = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .arg(format!("http://{addr}/api/v1/health/live"))
        .output()
        .unwrap();
    assert_eq!(ok.stdout, b"200");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn sigterm_with_a_slow_socket_open_ends_the_server_and_postgres_within_15_s() {
    let scratch = Scratch::new("sigterm");
    let mut cmd = semrec(&scratch);
    // Longer than the test: only the shutdown's own bound can close the socket.
    cmd.env("SEMREC_HEADER_TIMEOUT", "120");
    let (mut child, addr) = start(cmd);
    let postmaster = postmaster_pid(&scratch.0.join("pgdata")).expect("postmaster.pid");
    assert!(alive(postmaster));
    let slow = slowloris(&addr);
    let watcher = std::thread::spawn(move || closed_within(slow, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(300));

    let stopped_at = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stopped_at.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("semrec did not exit within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = stopped_at.elapsed();
    assert!(exit.success(), "semrec exited with {exit}");
    assert!(took < Duration::from_secs(15), "exit took {took:?}");
    assert!(
        !alive(postmaster),
        "the postmaster {postmaster} outlived the server"
    );
    assert!(!scratch.0.join("pgdata/postmaster.pid").exists());
    let closed = watcher.join().unwrap();
    assert!(closed.is_some(), "the slow socket stayed open after exit");
    // Nothing listens any more.
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn a_public_listen_address_without_allowed_hosts_is_one_clear_line() {
    let scratch = Scratch::new("publicaddr");
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_ADDR", "0.0.0.0:0");
    let out = cmd.arg("serve").stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("semrec: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("SEMREC_ALLOWED_HOSTS"), "{}", errors[0]);
    // Refused before anything slow: no cluster was created.
    assert!(!scratch.0.join("pgdata").exists());
    // With the setting it starts (and answers only for that name).
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_ADDR", "0.0.0.0:0")
        .env("SEMREC_ALLOWED_HOSTS", "rec.example.test");
    let (mut child, addr) = start(cmd);
    let port = addr.rsplit(':').next().unwrap();
    let code = |host: &str| {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "20",
            ])
            .args(["-H", &format!("Host: {host}")])
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(code("rec.example.test"), "200");
    assert_eq!(code(&format!("127.0.0.1:{port}")), "421");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
