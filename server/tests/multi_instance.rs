//! Several `semrec` processes on one PostgreSQL (`DATABASE_URL`): the start is
//! refused when `max_connections` cannot hold every expected instance's pools,
//! a list served by one instance is clicked through the other, two instances
//! share the admin sign-in failure budget, and each background job runs on one
//! of them, moving to the other when its holder stops.
//!
//! Real binaries, a real cluster whose `max_connections` is lowered with ALTER
//! SYSTEM, the real model; HTTP through `curl`.

use std::process::Command;
use std::time::{Duration, Instant};

use pg_local::{ClusterOptions, LocalCluster};
use sqlx::{Connection, PgConnection};
use test_support::binary::{expect_setup_error, Server};
use test_support::paths::fixture_catalog_path;
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");
/// The shared cluster's max_connections: two instances of [`POOLS`] fit, three do not.
const MAX_CONNECTIONS: u32 = 60;
/// Per instance at SEMREC_MAX_IN_FLIGHT=4: 4 × 2 + 4 request connections, 3 + 3 for jobs.
const POOLS: u32 = 18;
/// Lease lifetime of the servers' jobs: a stopped holder that did not release its
/// lease would leave its jobs alone for at least two thirds of it.
const LEASE_SECS: u64 = 30;

/// A cluster in `scratch` restarted with a lower max_connections.
async fn cluster_with_max_connections(scratch: &Scratch, max: u32) -> LocalCluster {
    let opts = ClusterOptions::new(scratch.join("shared-pg"));
    let cluster = LocalCluster::start(opts.clone()).await.unwrap();
    let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
    sqlx::query(&format!("ALTER SYSTEM SET max_connections = {max}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    cluster.stop().await.unwrap();
    let cluster = LocalCluster::start(opts).await.unwrap();
    let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
    let shown: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(shown, max.to_string());
    conn.close().await.unwrap();
    cluster
}

/// `semrec` on the shared database as one of `instances`.
fn instance(scratch: &Scratch, url: &str, instances: u32) -> Command {
    let mut cmd = test_support::binary::command(BIN, scratch);
    cmd.env("DATABASE_URL", url)
        .env("SEMREC_MAX_IN_FLIGHT", "4")
        .env("SEMREC_EXPECTED_INSTANCES", instances.to_string())
        .env("SEMREC_JOB_LEASE_SECS", LEASE_SECS.to_string());
    cmd
}

/// The status of an admin sign-in with a wrong password.
fn wrong_admin_sign_in(server: &Server) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "30",
        ])
        .args(["-X", "POST", "-H"])
        .arg(format!("Origin: {}", server.base))
        .args(["-H", "Accept: application/json"])
        .args(["--data", "user=admin&password=not-the-password"])
        .arg(format!("{}/api/admin_sign_in", server.base))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Job name → holder of every live lease.
async fn leases(url: &str) -> Vec<(String, String)> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let rows =
        sqlx::query_as("SELECT job, holder FROM job_leases WHERE expires_at > now() ORDER BY job")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    rows
}

/// Which of `servers` a lease holder id names (it carries the process id).
fn holder_index(holder: &str, servers: &[&Server]) -> usize {
    let of: Vec<usize> = (0..servers.len())
        .filter(|&i| holder.contains(&format!("/{}/", servers[i].child.id())))
        .collect();
    assert_eq!(of.len(), 1, "holder {holder} is one of the servers");
    of[0]
}

#[test]
fn instances_share_the_database_limits_and_hand_over_their_jobs() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let scratch = Scratch::new("multi");
    let cluster = rt.block_on(cluster_with_max_connections(&scratch, MAX_CONNECTIONS));
    let url = cluster.database_url().to_string();

    // Three instances' pools do not fit: refused with what to change.
    let line = expect_setup_error(instance(&scratch, &url, 3));
    let needed = 3 * POOLS + 10 + 3;
    assert!(
        line.contains(&format!("max_connections is {MAX_CONNECTIONS}")),
        "{line}"
    );
    assert!(
        line.contains(&format!("SEMREC_EXPECTED_INSTANCES (3) × {POOLS}")),
        "{line}"
    );
    assert!(
        line.contains(&format!("raise max_connections to at least {needed}")),
        "{line}"
    );

    // Two fit. The first loads the catalog; the second finds it there.
    let (a_dir, b_dir) = (Scratch::new("multi-a"), Scratch::new("multi-b"));
    let mut first = instance(&a_dir, &url, 2);
    first.env("SEMREC_DEMO_CATALOG", fixture_catalog_path());
    let a = Server::start(first);
    let b = Server::start(instance(&b_dir, &url, 2));

    // A list served by one instance, clicked through the other: the session and
    // the impression are in the database, so the click counts.
    let jar = a_dir.join("cookies.txt");
    a.sign_in_with_interests(&jar, "multi-tester", "aircraft, jazz", "I like planes");
    // At once: the serving instance may not have written the impression yet
    // (SEMREC_IMPRESSION_FLUSH_MS), so the other looks again until it is there.
    let list = a.recommend(&jar);
    b.open_first(&jar, &list);
    let admin = b_dir.join("admin-cookies.txt");
    b.call(
        &admin,
        "admin_sign_in",
        &[("user", "admin"), ("password", "test-admin-password")],
    );
    let dashboard = a.call(&admin, "get_dashboard", &[]);
    assert_eq!(dashboard["clicks"], 1, "{dashboard}");

    // Wrong passwords alternately on both: the address's 5 free attempts are
    // counted once for both instances (per-instance counts would allow 10), then
    // both refuse. The first lock lasts 1 s: on a slow machine an attempt after it
    // lapsed is let through and locks for 2 s, hence up to 7.
    let servers = [&a, &b];
    let mut failed = 0;
    let last = loop {
        let on = failed % 2;
        match wrong_admin_sign_in(servers[on]).as_str() {
            "401" => failed += 1,
            "429" => break on,
            other => panic!("admin sign-in answered {other}"),
        }
        assert!(failed <= 10, "no lock after {failed} failures");
    };
    assert!(
        (5..=7).contains(&failed),
        "{failed} failures before the lock"
    );
    assert_eq!(wrong_admin_sign_in(servers[1 - last]), "429", "both refuse");

    // Each job has one holder, one of the two.
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let held = rt.block_on(leases(&url));
        if held.len() == 2 {
            break held;
        }
        assert!(Instant::now() < deadline, "jobs not leased: {held:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let jobs: Vec<&str> = held.iter().map(|(j, _)| j.as_str()).collect();
    assert_eq!(jobs, ["collaborative_refresh", "session_sweep"]);
    let refresher = holder_index(&held[0].1, &servers);

    // Its holder stops: it releases its leases, so the other instance takes the
    // refresh over at its next try (a third of the lifetime), not after the expiry.
    let (holder, other) = if refresher == 0 { (a, b) } else { (b, a) };
    let other_pid = other.child.id();
    let stopped = Instant::now();
    holder.stop();
    let moved = loop {
        let held = rt.block_on(leases(&url));
        if let Some((_, h)) = held.iter().find(|(j, _)| j == "collaborative_refresh") {
            if h.contains(&format!("/{other_pid}/")) {
                break stopped.elapsed();
            }
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(LEASE_SECS * 2),
            "the refresh was not taken over: {held:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        moved < Duration::from_secs(LEASE_SECS * 2 / 3),
        "taken over after {moved:?}: the stopped holder did not release its lease"
    );
    other.stop();
    rt.block_on(cluster.stop()).unwrap();
}
