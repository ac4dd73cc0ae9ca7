//! The real `semrec` binary against slow clients: a socket that trickles its
//! request head is closed after SEMREC_HEADER_TIMEOUT, and SIGTERM ends the
//! process and its PostgreSQL within 15 s even while such a socket is open.
//! A public listen address without SEMREC_ALLOWED_HOSTS is refused at start.
//! SIGTERM writes the queued impressions before PostgreSQL stops.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::binary::{http_status, Server};
use test_support::process::{alive, postmaster_pid};
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");

fn semrec(scratch: &Scratch) -> Command {
    test_support::binary::command(BIN, scratch)
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

#[test]
fn a_socket_that_trickles_its_headers_is_closed_after_the_header_timeout() {
    let scratch = Scratch::new("slowloris");
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_HEADER_TIMEOUT", "2");
    let server = Server::spawn(cmd);
    let addr = server.addr().to_string();
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
    assert_eq!(
        http_status(&format!("{}/api/v1/health/live", server.base), 10),
        "200"
    );
    server.stop();
}

#[test]
fn sigterm_with_a_slow_socket_open_ends_the_server_and_postgres_within_15_s() {
    let scratch = Scratch::new("sigterm");
    let mut cmd = semrec(&scratch);
    // Longer than the test: only the shutdown's own bound can close the socket.
    cmd.env("SEMREC_HEADER_TIMEOUT", "120");
    let mut server = Server::spawn(cmd);
    let addr = server.addr().to_string();
    let postmaster = postmaster_pid(&scratch.pgdata()).expect("postmaster.pid");
    assert!(alive(postmaster));
    let slow = slowloris(&addr);
    let watcher = std::thread::spawn(move || closed_within(slow, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(300));

    let stopped_at = Instant::now();
    server.terminate();
    let exit = server
        .wait_exit(Duration::from_secs(30))
        .expect("semrec did not exit within 30 s of SIGTERM");
    let took = stopped_at.elapsed();
    assert!(exit.success(), "semrec exited with {exit}");
    assert!(took < Duration::from_secs(15), "exit took {took:?}");
    assert!(
        !alive(postmaster),
        "the postmaster {postmaster} outlived the server"
    );
    assert!(!scratch.pgdata().join("postmaster.pid").exists());
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
    assert!(!scratch.pgdata().exists());
    // With the setting it starts (and answers only for that name).
    let mut cmd = semrec(&scratch);
    cmd.env("SEMREC_ADDR", "0.0.0.0:0")
        .env("SEMREC_ALLOWED_HOSTS", "rec.example.test");
    let server = Server::spawn(cmd);
    let port = server.addr().rsplit(':').next().unwrap().to_string();
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
    server.stop();
}

#[test]
fn sigterm_writes_the_queued_impressions_before_postgres_stops() {
    let scratch = Scratch::new("drain");
    let mut cmd = semrec(&scratch);
    cmd.env(
        "SEMREC_DEMO_CATALOG",
        test_support::paths::fixture_catalog_path(),
    )
    // Longer than the test: only a click or the shutdown writes the queue.
    .env("SEMREC_IMPRESSION_FLUSH_MS", "60000");
    let server = Server::start(cmd);
    let jar = scratch.join("cookies.txt");
    server.sign_in_with_interests(&jar, "drain-tester", "aircraft, jazz", "");
    // A click right after its list, while the impression is queued, is accepted.
    let list = server.recommend(&jar);
    server.open_first(&jar, &list);
    // Two more lists stay queued until the shutdown: other requests (filtered), since
    // the same request again would be answered from the first list's impression.
    for filter in [("language", "en"), ("source", "blog")] {
        let mut args = vec![("offset", "0"), ("language", ""), ("source", "")];
        args.retain(|(k, _)| *k != filter.0);
        args.push(filter);
        server.call(&jar, "get_recommendations", &args);
    }
    server.stop();

    let (impressions, clicks) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let cluster =
            pg_local::LocalCluster::start(pg_local::ClusterOptions::new(scratch.pgdata()))
                .await
                .unwrap();
        let mut conn = sqlx::PgConnection::connect(cluster.database_url())
            .await
            .unwrap();
        let counts: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM impressions WHERE context = 'profile'),
                    (SELECT count(*) FROM clicks)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        cluster.stop().await.unwrap();
        counts
    });
    assert_eq!((impressions, clicks), (3, 1));
}
