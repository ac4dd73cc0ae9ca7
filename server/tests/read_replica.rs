//! A primary, a streaming replica of it (`pg_basebackup -R`, both on loopback)
//! and two `semrec` instances writing to the primary and reading candidates
//! from the replica (`DATABASE_READ_URL`). Requests alternate between the
//! instances: a session made on one is used on the other, a list served by one
//! is clicked through the other, and the admin sign-in failure budget is one
//! for both. One instance is killed (SIGKILL) mid-load: the other goes on, and
//! every acknowledged write (a click answered 201, a saved profile) is in the
//! primary. Then the replica is stopped: reads fall back to the primary, with
//! a log line and the metrics saying so.
//!
//! Real binaries, real clusters, the real model; HTTP through `curl`.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine::api_keys::Scope;
use pg_local::LocalCluster;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use test_support::binary::Server;
use test_support::paths::fixture_catalog_path;
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");
/// Workers of the load, each alternating between the instances.
const WORKERS: usize = 3;

/// `semrec` writing to `primary`, reading candidates from `replica`.
fn instance(scratch: &Scratch, primary: &str, replica: &str) -> Command {
    let mut cmd = test_support::binary::command(BIN, scratch);
    cmd.env("DATABASE_URL", primary)
        .env("DATABASE_READ_URL", replica)
        .env("SEMREC_MAX_IN_FLIGHT", "4")
        .env("SEMREC_EXPECTED_INSTANCES", "2")
        // The load must not meet the per-key API rate.
        .env("SEMREC_API_RATE", "1000")
        .env("SEMREC_API_BURST", "1000");
    cmd
}

/// An HTTP call with curl: (status, JSON body or Null). Status `000` when
/// nothing answered (a killed instance).
fn curl(base: &str, method: &str, path: &str, key: &str, body: Option<&Value>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30"])
        .args(["-X", method, "-H"])
        .arg(format!("Authorization: Bearer {key}"));
    if let Some(body) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data"])
            .arg(body.to_string());
    }
    let out = cmd.arg(format!("{base}{path}")).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        status.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// A server function call the way the browser's form does: its status only.
fn form(base: &str, jar: &Path, endpoint: &str, args: &[(&str, &str)]) -> u16 {
    let data = args
        .iter()
        .map(|(k, v)| format!("{k}={}", test_support::binary::form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
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
        .args(["-X", "POST", "-b"])
        .arg(jar)
        .arg("-c")
        .arg(jar)
        .arg("-H")
        .arg(format!("Origin: {base}"))
        .args(["-H", "Accept: application/json", "--data"])
        .arg(data)
        .arg(format!("{base}/api/{endpoint}"))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn save_profile(base: &str, jar: &Path, about: &str) -> u16 {
    form(
        base,
        jar,
        "save_profile",
        &[
            ("interests", "aircraft\njazz"),
            ("interests_entry", ""),
            ("history", ""),
            ("classes", ""),
            ("about", about),
        ],
    )
}

/// The value of the first sample of `metric` whose line contains `labels`.
fn metric(server: &Server, metric: &str, labels: &str) -> Option<f64> {
    let url = server.metrics.as_deref().expect("metrics are on");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .find(|l| l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits until `metric{labels}` satisfies `ok`.
fn wait_metric(server: &Server, name: &str, labels: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = metric(server, name, labels);
        if let Some(v) = v.filter(|v| ok(*v)) {
            return v;
        }
        assert!(Instant::now() < deadline, "{name}{{{labels}}} is {v:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the load's workers were told was done.
#[derive(Default)]
struct Acknowledged {
    /// (impression id, item id) of every click answered 201.
    clicks: Vec<(String, String)>,
    /// Per worker: the last `about` whose save was answered 200, and the last
    /// one sent (a save cut off by the kill may or may not have been applied).
    profiles: Vec<(String, String)>,
    /// Lists served, and requests that got no answer (the killed instance).
    lists: usize,
    unanswered: usize,
}

/// What the workers share.
struct Load {
    bases: [String; 2],
    /// Per instance: a request to it got no answer.
    dead: [AtomicBool; 2],
    /// Set just before instance 0 is killed.
    killed: AtomicBool,
    stop: AtomicBool,
    key: String,
    acked: Mutex<Acknowledged>,
}

/// One worker: saves its profile, asks for a list for a new user and clicks its
/// first item through the other instance, alternating, until `stop`.
fn worker(w: usize, jar: &Path, load: &Load) {
    let Load {
        bases,
        dead,
        killed,
        stop,
        key,
        acked,
    } = load;
    let jar = jar.to_path_buf();
    let key = key.as_str();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        // Alternate, skipping an instance once it stopped answering.
        let pick = |i: usize| {
            if dead[i % 2].load(Ordering::Relaxed) {
                (i + 1) % 2
            } else {
                i % 2
            }
        };
        let (first, second) = (pick(n + w), pick(n + w + 1));
        let about = format!("worker {w} round {n}");
        {
            let mut a = acked.lock().unwrap();
            a.profiles[w].1 = about.clone();
        }
        match save_profile(&bases[first], &jar, &about) {
            200 => acked.lock().unwrap().profiles[w].0 = about,
            0 => {
                dead[first].store(true, Ordering::Relaxed);
                acked.lock().unwrap().unanswered += 1;
                continue;
            }
            other => panic!("save_profile answered {other}"),
        }
        let request = json!({
            "user": format!("load-{w}-{n}"),
            "profile": {"interests": ["aircraft", "bread"]},
            "k": 3
        });
        let (status, list) = curl(
            &bases[second],
            "POST",
            "/api/v1/recommendations",
            key,
            Some(&request),
        );
        match status {
            200 => acked.lock().unwrap().lists += 1,
            0 => {
                dead[second].store(true, Ordering::Relaxed);
                acked.lock().unwrap().unanswered += 1;
                continue;
            }
            other => panic!("recommendations answered {other}: {list}"),
        }
        let impression = list["impression_id"].as_str().unwrap().to_string();
        let item = list["items"][0]["item"]["id"].as_str().unwrap().to_string();
        let click =
            json!({"impression_id": impression, "item_id": item, "user": format!("load-{w}-{n}")});
        let (status, body) = curl(
            &bases[first],
            "POST",
            "/api/v1/events/clicks",
            key,
            Some(&click),
        );
        match status {
            201 => acked.lock().unwrap().clicks.push((impression, item)),
            0 => {
                dead[first].store(true, Ordering::Relaxed);
                acked.lock().unwrap().unanswered += 1;
            }
            // Served by the killed instance and never written (its impression
            // queue died with it): refused, not acknowledged.
            422 if second == 0 && killed.load(Ordering::Relaxed) => {}
            other => panic!("click answered {other}: {body}"),
        }
    }
}

/// Every acknowledged click and saved profile, as the primary holds them.
async fn check_nothing_acknowledged_was_lost(url: &str, acked: &Acknowledged) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    for (impression, item) in &acked.clicks {
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM clicks c JOIN items i ON i.id = c.item_id
              WHERE c.impression_id = $1::uuid AND i.external_id = $2",
        )
        .bind(impression)
        .bind(item)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            found, 1,
            "acknowledged click {impression}/{item} is missing"
        );
    }
    for (w, (saved, sent)) in acked.profiles.iter().enumerate() {
        let stored: String = sqlx::query_scalar(
            "SELECT p.about FROM profiles p JOIN users u ON u.id = p.user_id WHERE u.handle = $1",
        )
        .bind(format!("worker-{w}"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(
            &stored == saved || &stored == sent,
            "worker {w}: stored profile '{stored}', acknowledged '{saved}', last sent '{sent}'"
        );
    }
    conn.close().await.unwrap();
}

#[test]
fn two_instances_read_from_a_replica_survive_a_kill_and_fall_back_to_the_primary() {
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let scratch = Scratch::new("replica");
    let primary = rt.block_on(LocalCluster::temporary()).expect("primary");
    let replica = rt
        .block_on(primary.start_replica(&scratch.join("replica-pg")))
        .expect("streaming replica");
    let (primary_url, replica_url) = (
        primary.database_url().to_string(),
        replica.database_url().to_string(),
    );
    let key = rt.block_on(async {
        let store = engine::Store::connect(&primary_url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let key = store.create_api_key("load", Scope::Write).await.unwrap();
        store.close().await;
        key.secret
    });

    let (a_dir, b_dir) = (Scratch::new("replica-a"), Scratch::new("replica-b"));
    let mut first = instance(&a_dir, &primary_url, &replica_url);
    first.env("SEMREC_DEMO_CATALOG", fixture_catalog_path());
    let a = Server::start(first);
    let b = Server::start(instance(&b_dir, &primary_url, &replica_url));
    let replica_label = format!("replica=\"127.0.0.1:{}/", replica.port());
    for s in [&a, &b] {
        wait_metric(s, "semrec_replica_usable", &replica_label, |v| v == 1.0);
    }

    // A session made on one instance is valid on the other; a list served by one
    // is clicked through the other, and the dashboard (read on the replica) counts it.
    let jars: Vec<_> = (0..WORKERS)
        .map(|w| a_dir.join(format!("worker-{w}.txt")))
        .collect();
    for (w, jar) in jars.iter().enumerate() {
        a.sign_in_with_interests(jar, &format!("worker-{w}"), "aircraft, jazz", "start");
        assert_eq!(save_profile(&b.base, jar, "start"), 200);
    }
    let list = b.recommend(&jars[0]);
    assert!(!list["items"].as_array().unwrap().is_empty(), "{list}");
    a.open_first(&jars[0], &list);
    let admin = b_dir.join("admin.txt");
    b.call(
        &admin,
        "admin_sign_in",
        &[("user", "admin"), ("password", "test-admin-password")],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dashboard = a.call(&admin, "get_dashboard", &[]);
        if dashboard["clicks"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{dashboard}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Limits: wrong admin passwords on both count against one budget (5 free
    // attempts; up to 7 on a slow machine, see multi_instance.rs).
    let wrong = |s: &Server| {
        form(
            &s.base,
            &a_dir.join("nobody.txt"),
            "admin_sign_in",
            &[("user", "admin"), ("password", "not-the-password")],
        )
    };
    let mut failed = 0;
    loop {
        match wrong([&a, &b][failed % 2]) {
            401 => failed += 1,
            429 => break,
            other => panic!("admin sign-in answered {other}"),
        }
        assert!(failed <= 10, "no lock after {failed} failures");
    }
    assert!(
        (5..=7).contains(&failed),
        "{failed} failures before the lock"
    );

    // Load on both; A is killed in the middle of it.
    let load = Arc::new(Load {
        bases: [a.base.clone(), b.base.clone()],
        dead: [AtomicBool::new(false), AtomicBool::new(false)],
        killed: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        key: key.clone(),
        acked: Mutex::new(Acknowledged {
            profiles: vec![(String::from("start"), String::from("start")); WORKERS],
            ..Default::default()
        }),
    });
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (load, jar) = (load.clone(), jars[w].clone());
            std::thread::spawn(move || worker(w, &jar, &load))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(6));
    let before_kill = load.acked.lock().unwrap().clicks.len();
    let mut a = a;
    load.killed.store(true, Ordering::Relaxed);
    a.child.kill().expect("SIGKILL instance A");
    a.child.wait().unwrap();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    load.stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("a worker failed");
    }
    let load = Arc::try_unwrap(load).ok().expect("workers are done");
    let dead = load.dead;
    let acked = load.acked.into_inner().unwrap();
    let after_kill = acked.clicks.len() - before_kill;
    eprintln!(
        "load: {} lists, {} acknowledged clicks ({before_kill} before the kill, {after_kill} after), {} unanswered requests",
        acked.lists,
        acked.clicks.len(),
        acked.unanswered
    );
    assert!(before_kill >= 2, "too little load before the kill");
    assert!(after_kill >= 2, "B did not go on after A was killed");
    assert!(
        dead[0].load(Ordering::Relaxed),
        "the workers never met the killed instance"
    );
    rt.block_on(check_nothing_acknowledged_was_lost(&primary_url, &acked));
    let replica_reads = wait_metric(&b, "semrec_replica_reads_total", "", |v| v > 0.0);
    eprintln!(
        "B read {replica_reads} times on the replica; {:?} since the kill",
        killed.elapsed()
    );

    // The replica stops: reads go to the primary at once (a read cut off is run
    // again there), and the next lag check says so.
    rt.block_on(replica.stop()).unwrap();
    let jar = &jars[1];
    for _ in 0..5 {
        let list = b.recommend(jar);
        assert!(!list["items"].as_array().unwrap().is_empty(), "{list}");
    }
    assert!(
        b.wait_logged("replica does not answer", Duration::from_secs(10)),
        "no log line for the stopped replica"
    );
    wait_metric(&b, "semrec_replica_usable", &replica_label, |v| v == 0.0);
    let fallbacks = wait_metric(
        &b,
        "semrec_replica_fallbacks_total",
        "reason=\"no_replica_usable\"",
        |v| v > 0.0,
    );
    // A new request, so that it reads (the web app's list above would be resumed
    // from the impression it recorded, with no candidate scan).
    let (status, list) = curl(
        &b.base,
        "POST",
        "/api/v1/recommendations",
        &key,
        Some(&json!({"user": "after-the-replica", "profile": {"interests": ["jazz"]}, "k": 3})),
    );
    assert_eq!(status, 200, "{list}");
    assert!(!list["items"].as_array().unwrap().is_empty(), "{list}");
    let more = wait_metric(
        &b,
        "semrec_replica_fallbacks_total",
        "reason=\"no_replica_usable\"",
        |v| v > fallbacks,
    );
    assert!(more > fallbacks);

    b.stop();
    rt.block_on(primary.stop()).unwrap();
    let took = started.elapsed();
    eprintln!("read_replica took {took:?}");
    assert!(took < Duration::from_secs(180), "took {took:?}, over 3 min");
}
