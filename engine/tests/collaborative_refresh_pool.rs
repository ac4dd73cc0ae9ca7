//! The collaborative refresh is a background job: it runs on the jobs pool, not under
//! the request pool's statement_timeout. At 100k items and 1M interactions reading
//! the pairs alone took 5 s on a loaded machine and the refresh failed with
//! "canceling statement due to statement timeout" (`semrec-bench collaborative`).

use std::time::Duration;

use engine::store::StoreOptions;
use engine::{Engine, Store};

#[tokio::test]
async fn the_refresh_is_not_cut_by_the_request_statement_timeout() {
    let db = test_support::db::engine().await;
    let jobs = db.engine.store.jobs();
    // 300 items and 30,000 interactions: grouping them takes far more than 1 ms.
    sqlx::query(
        "INSERT INTO items (external_id, title, content_hash)
         SELECT 'i' || g, 'Item ' || g, repeat('0', 64) FROM generate_series(1, 300) g",
    )
    .execute(jobs)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO interactions (user_ref, item_id, kind, ts)
         SELECT 'u' || (g / 30), (SELECT min(id) FROM items) + (g * 7) % 300, 'consumed',
                now() - make_interval(secs => g)
         FROM generate_series(1, 30000) g
         ON CONFLICT DO NOTHING",
    )
    .execute(jobs)
    .await
    .unwrap();

    // The same database with a request pool whose statements may take 1 ms.
    let store = Store::connect_with(
        db._cluster.database_url(),
        &StoreOptions {
            statement_timeout: Duration::from_millis(1),
            ..StoreOptions::new(4)
        },
    )
    .await
    .unwrap();
    let strict = Engine::new(
        store,
        db.engine.embedder.clone(),
        db.engine.settings.clone(),
    );
    let pairs_take_long = sqlx::query(
        "SELECT user_ref, item_id, max(ts) FROM interactions GROUP BY user_ref, item_id",
    )
    .fetch_all(strict.store.pool())
    .await;
    assert!(
        pairs_take_long.is_err(),
        "the request pool should cut a grouping of 30,000 rows at 1 ms"
    );

    let model = strict
        .refresh_collaborative()
        .await
        .expect("the refresh runs on the jobs pool")
        .expect("a model");
    assert!(model.neighbours > 0, "{model:?}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM item_neighbours")
        .fetch_one(jobs)
        .await
        .unwrap();
    assert_eq!(stored, model.neighbours);
}
