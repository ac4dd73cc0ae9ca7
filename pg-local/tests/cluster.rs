//! Integration tests of the self-managed PostgreSQL cluster, against the real
//! PostgreSQL 15 + pgvector binaries (scripts/setup.sh installs them).

use std::path::PathBuf;
use std::time::Instant;

use pg_local::{ClusterError, ClusterOptions, LocalCluster};
use sqlx::{Connection, PgConnection};
use test_support::scratch::Scratch;

/// `RUST_LOG=pg_local=debug cargo test ... -- --nocapture` shows the cluster's log lines.
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

#[tokio::test]
async fn temporary_cluster_has_pgvector_and_is_removed_on_stop() {
    init_tracing();
    let t = Instant::now();
    let cluster = LocalCluster::temporary().await.expect("temporary cluster");
    eprintln!("temporary cluster started in {:?}", t.elapsed());
    let url = cluster.database_url().to_owned();
    assert!(
        url.starts_with("postgres://semrec:") && url.contains("@127.0.0.1:"),
        "{url}"
    );
    assert!(
        url.ends_with(&format!(":{}/semrec", cluster.port())),
        "{url}"
    );

    let mut conn = PgConnection::connect(&url).await.unwrap();
    let d: f64 = sqlx::query_scalar("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    // cosine distance: 1 - 17 / (sqrt(14) * sqrt(21))
    let expected = 1.0 - 17.0 / (14f64.sqrt() * 21f64.sqrt());
    assert!((d - expected).abs() < 1e-6, "{d} vs {expected}");
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(fsync, "off");
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(listen, "127.0.0.1");
    conn.close().await.unwrap();

    let dir = cluster.data_dir().to_path_buf();
    assert!(dir.exists());
    let t = Instant::now();
    cluster.stop().await.unwrap();
    eprintln!("temporary cluster stopped in {:?}", t.elapsed());
    assert!(!dir.exists(), "temporary cluster's directory is removed");
}

#[tokio::test]
async fn dropped_temporary_cluster_stops_and_cleans_up() {
    let cluster = LocalCluster::temporary().await.unwrap();
    let dir = cluster.data_dir().to_path_buf();
    let url = cluster.database_url().to_owned();
    drop(cluster);
    assert!(!dir.exists());
    assert!(PgConnection::connect(&url).await.is_err(), "server is gone");
}

#[tokio::test]
async fn persistent_cluster_keeps_data_across_restarts() {
    init_tracing();
    let tmp = Scratch::new("persist");
    let data_dir = tmp.join("nested").join("pgdata");
    let mut opts = ClusterOptions::new(&data_dir);
    opts.database = "keepme".into();

    let cluster = LocalCluster::start(opts.clone()).await.unwrap();
    assert!(cluster.database_url().ends_with("/keepme"));
    let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
    sqlx::query("CREATE TABLE t (id int PRIMARY KEY, v vector(3))")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES (1, '[1,2,3]')")
        .execute(&mut conn)
        .await
        .unwrap();
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(fsync, "on");
    conn.close().await.unwrap();
    let first_url = cluster.database_url().to_owned();
    cluster.stop().await.unwrap();
    assert!(data_dir.join("PG_VERSION").exists(), "data survives stop");
    assert!(PgConnection::connect(&first_url).await.is_err(), "stopped");

    // The password file is private.
    let mode = std::fs::metadata(data_dir.join("semrec_superuser.password"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );

    // A postmaster.pid whose pid now belongs to another process (after a crash and
    // a reboot, or in a container) must not block the start.
    std::fs::write(
        data_dir.join("postmaster.pid"),
        format!("{}\n{}\n0\n5432\n", std::process::id(), data_dir.display()),
    )
    .unwrap();

    let cluster = LocalCluster::start(opts.clone()).await.unwrap();
    let mut conn = PgConnection::connect(cluster.database_url()).await.unwrap();
    let v: String = sqlx::query_scalar("SELECT v::text FROM t WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(v, "[1,2,3]");
    conn.close().await.unwrap();

    // Starting again while it runs (a crashed semrec left it) reuses it.
    let port = cluster.port();
    cluster.abandon(); // simulate a process that died without stopping it
    let again = LocalCluster::start(opts.clone()).await.unwrap();
    assert_eq!(again.port(), port, "reused the running server");
    let mut conn = PgConnection::connect(again.database_url()).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1);
    conn.close().await.unwrap();

    // A second user (a CLI command beside the web server) leaves it running when
    // stopped or dropped: `again` still uses it.
    let borrowed = LocalCluster::start(opts.clone()).await.unwrap();
    assert_eq!(borrowed.port(), port);
    borrowed.stop().await.unwrap();
    drop(LocalCluster::start(opts.clone()).await.unwrap());
    let conn = PgConnection::connect(again.database_url())
        .await
        .expect("the server another user holds still runs");
    conn.close().await.unwrap();

    // Nor may a second user move it to another port under the first one's feet.
    let mut elsewhere = opts.clone();
    elsewhere.port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = LocalCluster::start(elsewhere).await.unwrap_err();
    assert!(
        matches!(err, ClusterError::RunningOnAnotherPort { running, .. } if running == port),
        "{err}"
    );

    // Asking for another port while it runs restarts it on that port.
    let other_port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    again.abandon();
    let mut moved = opts;
    moved.port = other_port;
    let again = LocalCluster::start(moved).await.unwrap();
    assert_eq!(again.port(), other_port);
    assert!(
        PgConnection::connect(
            &again
                .database_url()
                .replace(&other_port.to_string(), &port.to_string())
        )
        .await
        .is_err(),
        "old server is gone"
    );
    let mut conn = PgConnection::connect(again.database_url()).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1);
    conn.close().await.unwrap();
    again.stop().await.unwrap();
}

#[tokio::test]
async fn port_in_use_is_reported() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let tmp = Scratch::new("port");
    let mut opts = ClusterOptions::new(tmp.join("pgdata"));
    opts.port = port;
    let err = LocalCluster::start(opts).await.unwrap_err();
    assert!(
        matches!(err, ClusterError::PortInUse { port: p } if p == port),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&port.to_string()) && !msg.contains('\n'),
        "{msg}"
    );
    drop(listener);
}

#[tokio::test]
async fn missing_binaries_are_reported() {
    let tmp = Scratch::new("nobin");
    let mut opts = ClusterOptions::new(tmp.join("pgdata"));
    opts.bin_dir = PathBuf::from("/nonexistent/postgresql/bin");
    let err = LocalCluster::start(opts).await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::PostgresNotInstalled { bin_dir, .. } if bin_dir.ends_with("bin")),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/postgresql/bin") && msg.contains("SEMREC_PG_BIN"),
        "{msg}"
    );
}

#[tokio::test]
async fn data_dir_unreachable_by_postgres_user_is_reported_when_root() {
    if !test_support::process::running_as_root() {
        eprintln!("skipped: only meaningful as root");
        return;
    }
    let tmp = Scratch::new("private");
    let private = tmp.join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let err = LocalCluster::start(ClusterOptions::new(private.join("pgdata")))
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::DataDirUnusable { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("cannot enter") && msg.contains("private"),
        "{msg}"
    );
}

/// A copy of the PostgreSQL installation without pgvector: PgvectorMissing.
#[tokio::test]
async fn missing_pgvector_is_reported() {
    let tmp = Scratch::new("novector");
    let root = tmp.path();
    let Some(new_bin) = test_support::postgres::without_pgvector(&root.join("pg")) else {
        eprintln!("skipped: no pg_config");
        return;
    };
    let mut opts = ClusterOptions::new(root.join("pgdata"));
    opts.bin_dir = new_bin;
    let err = LocalCluster::start(opts).await.unwrap_err();
    assert!(matches!(err, ClusterError::PgvectorMissing), "{err}");
    assert!(err.to_string().contains("scripts/setup.sh"));
    // The failed start did not leave a server running.
    assert!(!root.join("pgdata/postmaster.pid").exists());
}
