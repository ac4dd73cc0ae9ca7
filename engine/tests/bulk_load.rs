//! Bulk loads (engine::bulk_load): an import that brings many new vectors drops the
//! HNSW index and builds it once at the end, and nothing (a failed chunk, a killed
//! import, two imports at once) leaves the catalog without its index for good.

use std::time::Duration;

use engine::bulk_load::VECTOR_INDEX;
use engine::catalog::{ParsedImport, IMPORT_CHUNK};
use engine::profile::Profile;
use engine::recommend::RecommendOptions;
use engine::{Engine, EngineSettings};

fn items(prefix: &str, n: usize) -> ParsedImport {
    test_support::fixtures::note_items(prefix, n)
}

/// The index's definition as PostgreSQL has it, if it exists.
async fn index_definition(e: &Engine) -> Option<String> {
    sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = $1")
        .bind(VECTOR_INDEX)
        .fetch_optional(e.store.pool())
        .await
        .unwrap()
}

/// The index's object id: a rebuilt index gets a new one.
async fn index_oid(e: &Engine) -> u32 {
    let oid: sqlx::postgres::types::Oid = sqlx::query_scalar("SELECT $1::regclass::oid")
        .bind(VECTOR_INDEX)
        .fetch_one(e.store.pool())
        .await
        .unwrap();
    oid.0
}

async fn deferred(e: &Engine) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM deferred_indexes")
        .fetch_one(e.store.pool())
        .await
        .unwrap()
}

async fn bulk_engine() -> test_support::db::TestDb {
    test_support::db::engine_with(EngineSettings {
        bulk_load_min: 100,
        ..EngineSettings::default()
    })
    .await
}

#[tokio::test]
async fn a_bulk_import_builds_the_same_index_once_and_small_imports_insert() {
    let db = bulk_engine().await;
    let e = &db.engine;
    let migrated = index_definition(e).await.expect("the migrations create it");

    let n = 3 * IMPORT_CHUNK + 10;
    let summary = e.import_items(items("a", n), |_| {}).await.unwrap();
    assert_eq!((summary.added, summary.updated), (n, 0));
    assert!(
        summary.vector_index_rebuilt,
        "{n} new items into an empty catalog"
    );
    assert_eq!(
        index_definition(e).await.as_deref(),
        Some(migrated.as_str())
    );
    assert_eq!(deferred(e).await, 0);
    let indexed: bool = sqlx::query_scalar(
        "SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = $1::regclass",
    )
    .bind(VECTOR_INDEX)
    .fetch_one(e.store.pool())
    .await
    .unwrap();
    assert!(indexed);

    let oid = index_oid(e).await;
    // Nothing new: no bulk load, however many lines.
    let again = e.import_items(items("a", n), |_| {}).await.unwrap();
    assert_eq!((again.added, again.unchanged), (0, n));
    assert!(!again.vector_index_rebuilt);
    // Fewer new vectors than the threshold: inserted into the live index.
    let few = e.import_items(items("b", 99), |_| {}).await.unwrap();
    assert_eq!(few.added, 99);
    assert!(!few.vector_index_rebuilt);
    // Many, but few next to the catalog (301 rows > 2 × 120): inserted too.
    let some = e.import_items(items("c", 120), |_| {}).await.unwrap();
    assert_eq!(some.added, 120);
    assert!(!some.vector_index_rebuilt);
    assert_eq!(index_oid(e).await, oid, "the same index all along");
}

#[tokio::test]
async fn a_failed_bulk_import_keeps_its_committed_chunks_and_the_index() {
    let db = bulk_engine().await;
    let e = &db.engine;
    let n = 3 * IMPORT_CHUNK + 10;
    let mut broken = items("a", n);
    broken.items[2 * IMPORT_CHUNK + 5].1.content_hash = "not-a-hash".into();
    e.import_items(broken, |_| {})
        .await
        .expect_err("the third chunk must fail");
    assert_eq!(e.catalog_size().await.unwrap() as usize, 2 * IMPORT_CHUNK);
    assert!(e.vector_index_present().await.unwrap());
    assert_eq!(deferred(e).await, 0);
}

#[tokio::test]
async fn a_killed_bulk_load_leaves_a_record_that_the_next_start_rebuilds() {
    let db = bulk_engine().await;
    let e = &db.engine;
    let migrated = index_definition(e).await.unwrap();
    e.import_items(items("a", 50), |_| {}).await.unwrap();

    let load = e.begin_bulk_load().await.unwrap();
    assert!(!e.vector_index_present().await.unwrap());
    assert_eq!(deferred(e).await, 1);
    // Without the index, recommendations are exact scans: still served.
    let profile = Profile {
        interests: vec!["bread baking".into()],
        ..Default::default()
    };
    let list = e
        .recommend_for_profile(
            None,
            &profile,
            &RecommendOptions::default(),
            engine::events::ImpressionContext::Api,
        )
        .await
        .unwrap();
    assert_eq!(list.items.len(), 10);
    assert!(list.items[0].item.title.contains("sourdough"), "{list:?}");
    // While a load holds its lock, nobody else rebuilds.
    assert_eq!(e.rebuild_deferred_indexes().await.unwrap(), 0);
    assert!(!e.vector_index_present().await.unwrap());

    // The import dies: its connection closes and its lock goes with it.
    drop(load);
    let mut rebuilt = 0;
    for _ in 0..50 {
        rebuilt = e.rebuild_deferred_indexes().await.unwrap();
        if rebuilt > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rebuilt, 1);
    assert_eq!(
        index_definition(e).await.as_deref(),
        Some(migrated.as_str())
    );
    assert_eq!(deferred(e).await, 0);
    // Nothing left to do.
    assert_eq!(e.rebuild_deferred_indexes().await.unwrap(), 0);
}

#[tokio::test]
async fn the_last_of_two_concurrent_bulk_loads_rebuilds() {
    let db = bulk_engine().await;
    let e = &db.engine;
    let first = e.begin_bulk_load().await.unwrap();
    let second = e.begin_bulk_load().await.unwrap();
    assert_eq!(deferred(e).await, 1, "recorded once");
    assert_eq!(e.end_bulk_load(first).await.unwrap(), 0);
    assert!(!e.vector_index_present().await.unwrap());
    assert_eq!(e.end_bulk_load(second).await.unwrap(), 1);
    assert!(e.vector_index_present().await.unwrap());
    assert_eq!(deferred(e).await, 0);
}

#[tokio::test]
async fn a_whole_catalog_reindex_is_a_bulk_load() {
    let db = bulk_engine().await;
    let e = &db.engine;
    e.import_items(items("a", 150), |_| {}).await.unwrap();
    let oid = index_oid(e).await;
    sqlx::query("UPDATE items SET model_id = 'an-older-model'")
        .execute(e.store.pool())
        .await
        .unwrap();
    assert_eq!(e.reindex(|_| {}).await.unwrap(), 150);
    assert_ne!(index_oid(e).await, oid, "dropped and built again");
    assert_eq!(deferred(e).await, 0);
    let stale: i64 = sqlx::query_scalar("SELECT count(*) FROM items WHERE model_id <> $1")
        .bind(e.model_id())
        .fetch_one(e.store.pool())
        .await
        .unwrap();
    assert_eq!(stale, 0);
}
