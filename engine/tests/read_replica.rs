//! The read pool against a real streaming replica (`pg_basebackup -R`): reads
//! go to it once a lag check finds it caught up; with its replay paused while
//! the primary writes, its lag (the primary's `pg_current_wal_lsn()` against its
//! `pg_last_wal_replay_lsn()`) passes the bound and reads go to the primary;
//! resumed, it catches up although the primary is idle, and serves again.

use std::time::{Duration, Instant};

use engine::read_pool::{Fallback, Health, ReadPool};
use engine::store::StoreOptions;
use engine::{Engine, EngineSettings, Store};
use sqlx::{Connection, PgConnection};
use test_support::scratch::Scratch;

const MAX_LAG: u64 = 64 * 1024;

/// Whether a read through the pool ran on the replica (a server in recovery).
async fn read_on_replica(reads: &ReadPool) -> bool {
    reads
        .run(|pool| async move {
            Ok(sqlx::query_scalar::<_, bool>("SELECT pg_is_in_recovery()")
                .fetch_one(&pool)
                .await?)
        })
        .await
        .unwrap()
}

/// Waits until the replica's last check satisfies `ok`.
async fn wait_health(reads: &ReadPool, what: &str, ok: impl Fn(Health) -> bool) -> Health {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = reads.replicas()[0].health;
        if ok(h) {
            return h;
        }
        assert!(Instant::now() < deadline, "replica not {what}: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn usable(h: Health) -> bool {
    matches!(h, Health::Lag(l) if l <= MAX_LAG)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_is_left_for_the_primary_until_it_replays() {
    let primary = test_support::db::cluster().await;
    let scratch = Scratch::new("engine-replica");
    let replica = primary
        .start_replica(&scratch.join("replica-pg"))
        .await
        .expect("streaming replica");
    let opts = StoreOptions {
        read_urls: vec![replica.database_url().to_string()],
        replica_max_lag_bytes: MAX_LAG,
        ..StoreOptions::new(4)
    };
    let store = Store::connect_with(primary.database_url(), &opts)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let engine = Engine::new(
        store.clone(),
        test_support::model::fake_embedder(),
        EngineSettings::default(),
    );
    let reads = store.reads().clone();

    // Caught up: reads go to the replica, the engine's facets among them.
    wait_health(&reads, "caught up", usable).await;
    assert!(read_on_replica(&reads).await);
    let before = reads.replica_reads();
    engine.catalog_facets().await.unwrap();
    assert_eq!(
        reads.replica_reads(),
        before + 1,
        "facets read on the replica"
    );

    // Replay paused while the primary writes well over the bound.
    let mut on_replica = PgConnection::connect(replica.database_url()).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&mut on_replica)
        .await
        .unwrap();
    let mut on_primary = PgConnection::connect(primary.database_url()).await.unwrap();
    sqlx::query(
        "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS t FROM generate_series(1, 5000) g",
    )
    .execute(&mut on_primary)
    .await
    .unwrap();
    let lagging = wait_health(
        &reads,
        "lagging",
        |h| matches!(h, Health::Lag(l) if l > MAX_LAG),
    )
    .await;
    let fallbacks = reads.fallbacks(Fallback::NoneUsable);
    assert!(
        !read_on_replica(&reads).await,
        "read on a replica {lagging:?} behind"
    );
    assert_eq!(reads.fallbacks(Fallback::NoneUsable), fallbacks + 1);

    // Resumed, with the primary idle: the replay catches up to the primary's
    // current position, so the replica serves again.
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&mut on_replica)
        .await
        .unwrap();
    wait_health(&reads, "caught up again", usable).await;
    assert!(read_on_replica(&reads).await);
    let seen: i64 = reads
        .run(|pool| async move {
            Ok(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM filler")
                .fetch_one(&pool)
                .await?)
        })
        .await
        .unwrap();
    assert_eq!(seen, 5000);

    on_replica.close().await.unwrap();
    on_primary.close().await.unwrap();
    store.close().await;
    replica.stop().await.unwrap();
    primary.stop().await.unwrap();
}
