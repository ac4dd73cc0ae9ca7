//! The embedded PostgreSQL looks after itself (issue #14, rows 7 and 8): a killed
//! postmaster is restarted, and concurrent starts share one postmaster without
//! stopping each other's. Real PostgreSQL 15 + pgvector binaries.

use std::time::{Duration, Instant};

use pg_local::{ClusterOptions, LocalCluster};
use sqlx::{Connection, PgConnection};
use test_support::process::{alive, postmaster_pid, signal, SIGKILL};
use test_support::scratch::Scratch;

async fn answers(url: &str) -> bool {
    match PgConnection::connect(url).await {
        Ok(mut conn) => {
            let ok = sqlx::query_scalar::<_, i32>("SELECT 1")
                .fetch_one(&mut conn)
                .await
                .is_ok();
            let _ = conn.close().await;
            ok
        }
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_postmaster_is_restarted_within_30_s() {
    let tmp = Scratch::new("supervise");
    let cluster = LocalCluster::start(ClusterOptions::new(tmp.join("pgdata")))
        .await
        .unwrap();
    let data_dir = cluster.data_dir().to_path_buf();
    let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let supervisor = cluster.supervise();

    let old = postmaster_pid(&data_dir).expect("postmaster.pid");
    assert!(signal(old, SIGKILL));
    let killed = Instant::now();
    while alive(old) {
        assert!(killed.elapsed() < Duration::from_secs(5), "kill -9 failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while !answers(cluster.database_url()).await {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "PostgreSQL was not back within 30 s of the kill"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("back after {:.1} s", killed.elapsed().as_secs_f64());
    let new = postmaster_pid(&data_dir).expect("a new postmaster.pid");
    assert_ne!(new, old);
    let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
    let v: i32 = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(v, 7, "committed data survived the crash");
    conn.close().await.unwrap();

    // The watch ends before the cluster stops, or it would start it again.
    supervisor.stop().await;
    cluster.stop().await.unwrap();
    assert!(!alive(new), "the restarted postmaster was stopped");
    assert!(postmaster_pid(&data_dir).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_share_one_postmaster() {
    let tmp = Scratch::new("share");
    let opts = ClusterOptions::new(tmp.join("pgdata"));
    // The first round also runs initdb.
    for round in 1..=3 {
        let (a, b) = tokio::join!(
            LocalCluster::start(opts.clone()),
            LocalCluster::start(opts.clone())
        );
        let (a, b) = (
            a.unwrap_or_else(|e| panic!("round {round}, first: {e}")),
            b.unwrap_or_else(|e| panic!("round {round}, second: {e}")),
        );
        assert_eq!(a.port(), b.port(), "one postmaster for both");
        let data_dir = a.data_dir().to_path_buf();
        let pid = postmaster_pid(&data_dir).unwrap();
        // The first to finish leaves it to the other, which stops it.
        a.stop().await.unwrap();
        assert!(alive(pid), "round {round}: stopped under the other user");
        assert!(answers(b.database_url()).await);
        b.stop().await.unwrap();
        assert!(!alive(pid), "round {round}: the last user stopped it");
    }
}
