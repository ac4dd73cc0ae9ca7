//! The real `semrec` binary under faults and load (issue #14): a kill -9 of the
//! embedded postmaster is noticed and repaired while the server runs (row 7), CLI
//! commands started together while no postmaster runs share one instead of
//! stopping each other's (row 8), and concurrent 32 MiB imports keep the server's
//! peak memory bounded (row 11).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use test_support::binary::Server;
use test_support::paths::fixture_catalog_path;
use test_support::process::{alive, postmaster_pid, signal, SIGKILL};
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");

/// `semrec` with a private data dir and the fixture catalog as its demo catalog.
fn semrec(scratch: &Scratch) -> Command {
    let mut cmd = test_support::binary::command(BIN, scratch);
    cmd.env("SEMREC_DEMO_CATALOG", fixture_catalog_path());
    cmd
}

#[test]
fn a_killed_postmaster_is_restarted_and_the_server_is_ready_within_30_s() {
    let scratch = Scratch::new("kill9");
    let server = Server::start(semrec(&scratch));
    let old = postmaster_pid(&scratch.pgdata()).expect("postmaster.pid");

    assert!(signal(old, SIGKILL));
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
        server.wait_logged("PostgreSQL is back", Duration::from_secs(10)),
        "the restart was not logged"
    );
    // A second crash is handled the same way.
    assert!(signal(new, SIGKILL));
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
    let server = Server::start(semrec(&scratch));
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
    let file = scratch.join("big.jsonl");
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
                .arg(scratch.join(format!("import-{i}.json")))
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
        &std::fs::read_to_string(scratch.join(format!("import-{done}.json"))).unwrap(),
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
