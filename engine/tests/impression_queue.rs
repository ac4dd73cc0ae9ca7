//! Impressions written off the request path (`engine::impression_queue`), on a real
//! PostgreSQL: a click right after serving holds while the impression is still
//! queued, the writer stores the queue within its interval, a full queue writes
//! inline, and draining (graceful shutdown) writes everything; the dashboard
//! counts queued lists.

use std::time::Duration;

use engine::events::{ClickOutcome, ImpressionContext};
use engine::impression_queue::QueueSettings;
use engine::profile::Profile;
use engine::recommend::{RecommendOptions, RecommendationList};
use engine::Engine;

/// Long enough that nothing is written by the timer during a test.
const NEVER: Duration = Duration::from_secs(3600);

async fn engine_with_catalog() -> test_support::db::TestDb {
    let db = test_support::db::engine().await;
    db.engine
        .import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    db
}

/// Starts the queue with this bound and interval.
fn queue(e: &Engine, capacity: usize, flush_interval: Duration) {
    e.start_impression_queue(QueueSettings {
        capacity,
        flush_interval,
    });
}

async fn serve(e: &Engine) -> RecommendationList {
    let profile = Profile {
        interests: vec!["jazz".into()],
        ..Default::default()
    };
    let opts = RecommendOptions {
        k: 3,
        ..Default::default()
    };
    let list = e
        .recommend_for_profile(None, &profile, &opts, ImpressionContext::Api)
        .await
        .unwrap();
    assert_eq!(list.items.len(), 3);
    list
}

/// Impressions and shown items stored.
async fn stored(e: &Engine) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM impressions), (SELECT count(*) FROM impression_items)",
    )
    .fetch_one(e.store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_click_right_after_serving_holds_while_the_impression_is_still_queued() {
    let db = engine_with_catalog().await;
    let e = &db.engine;
    queue(e, 100, NEVER);
    let list = serve(e).await;
    assert_eq!(stored(e).await, (0, 0), "the impression was written inline");
    assert_eq!(e.impressions.len(), 1);
    let outcome = e
        .record_click(list.impression_id, &list.items[1].item.external_id, None)
        .await
        .unwrap();
    assert_eq!(outcome, ClickOutcome::Recorded);
    assert_eq!(stored(e).await, (1, 3));
    assert!(e.impressions.is_empty());
    let clicks: i64 = sqlx::query_scalar("SELECT count(*) FROM clicks WHERE impression_id = $1")
        .bind(list.impression_id)
        .fetch_one(e.store.pool())
        .await
        .unwrap();
    assert_eq!(clicks, 1);
}

#[tokio::test]
async fn the_writer_stores_queued_impressions_within_its_interval() {
    let db = engine_with_catalog().await;
    let e = &db.engine;
    queue(e, 100, Duration::from_millis(50));
    let lists = [serve(e).await, serve(e).await, serve(e).await];
    // A few intervals: the writer, not a reader, stores them.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(stored(e).await, (3, 9));
    assert!(e.impressions.is_empty());
    let stats = e.impressions.stats();
    assert_eq!((stats.batched, stats.inline_when_full), (3, 0));
    // Stored as served: the query vector, the ranks and the serve time.
    let (with_query, max_rank, age): (i64, i32, f64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE query_embedding IS NOT NULL),
                (SELECT max(rank) FROM impression_items),
                extract(epoch FROM now() - min(created_at))::float8
           FROM impressions WHERE id = ANY($1)",
    )
    .bind(lists.iter().map(|l| l.impression_id).collect::<Vec<_>>())
    .fetch_one(e.store.pool())
    .await
    .unwrap();
    assert_eq!((with_query, max_rank), (3, 3));
    assert!(
        age >= 0.3,
        "created_at is the flush time, not the serve time"
    );
}

#[tokio::test]
async fn a_full_queue_writes_inline_and_drops_nothing() {
    let db = engine_with_catalog().await;
    let e = &db.engine;
    queue(e, 1, NEVER);
    serve(e).await;
    assert_eq!(stored(e).await, (0, 0));
    let inline = serve(e).await;
    // The second found the queue full: it is stored before its list is returned.
    assert_eq!(stored(e).await, (1, 3));
    assert_eq!(e.impressions.stats().inline_when_full, 1);
    assert_eq!(e.impressions.len(), 1);
    e.record_click(
        inline.impression_id,
        &inline.items[0].item.external_id,
        None,
    )
    .await
    .unwrap();
    assert_eq!(e.flush_impressions().await.unwrap(), 1);
    assert_eq!(stored(e).await, (2, 6));
}

#[tokio::test]
async fn draining_writes_every_queued_impression_and_later_ones_go_inline() {
    let db = engine_with_catalog().await;
    let e = &db.engine;
    queue(e, 100, NEVER);
    for _ in 0..5 {
        serve(e).await;
    }
    assert_eq!(stored(e).await, (0, 0));
    assert_eq!(e.drain_impressions().await.unwrap(), 5);
    assert_eq!(stored(e).await, (5, 15));
    // After the drain nothing is queued any more (a request finishing late).
    serve(e).await;
    assert_eq!(stored(e).await, (6, 18));
    assert!(e.impressions.is_empty());
}

#[tokio::test]
async fn the_dashboard_counts_lists_that_are_still_queued() {
    let db = engine_with_catalog().await;
    let e = &db.engine;
    queue(e, 100, NEVER);
    serve(e).await;
    serve(e).await;
    let now = chrono::Utc::now();
    let d = e
        .dashboard(
            now - chrono::Duration::days(1),
            now + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!((d.overview.impressions, d.overview.shown), (2, 6));
}
