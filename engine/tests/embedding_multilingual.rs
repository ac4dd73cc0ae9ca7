//! Reindexing onto multilingual-e5-small (a real-model test: both the default
//! model and e5, converted by `scripts/fetch-e5.sh` into
//! `<workspace>/models/multilingual-e5-small`, or `SEMREC_E5_MODEL_DIR`).
//! The e5 embedder itself is tested in `embed/tests/multilingual.rs`.

use std::path::PathBuf;
use std::sync::OnceLock;

use engine::embed::{EmbeddingService, SentenceEmbedder, TextKind};
use engine::Engine;

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("SEMREC_E5_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/multilingual-e5-small")
        });
    assert!(
        dir.join("model.safetensors").is_file(),
        "model folder {} is missing: run scripts/fetch-e5.sh (or set SEMREC_E5_MODEL_DIR)",
        dir.display()
    );
    dir
}

fn embedder() -> &'static SentenceEmbedder {
    static MODEL: OnceLock<SentenceEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| SentenceEmbedder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}")))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

async fn vectors_by_model(engine: &Engine) -> Vec<(Option<String>, i64)> {
    sqlx::query_as("SELECT model_id, count(*) FROM items GROUP BY model_id ORDER BY model_id")
        .fetch_all(engine.store.pool())
        .await
        .unwrap()
}

/// Switching the model (SEMREC_MODEL_DIR) and running `reindex` re-embeds every
/// item with the new model, records its id, and leaves nothing of the old space.
#[tokio::test]
async fn reindex_moves_every_item_to_the_new_model() {
    let db = test_support::db::real_engine().await;
    let minilm = &db.engine;
    let summary = minilm
        .import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let n = summary.added as i64;
    assert!(n > 0);
    assert_eq!(
        vectors_by_model(minilm).await,
        vec![(Some("all-MiniLM-L6-v2".to_string()), n)]
    );
    assert_eq!(minilm.reindex(|_| {}).await.unwrap(), 0, "nothing to redo");

    let e5_model = SentenceEmbedder::load(&model_dir()).unwrap();
    let e5 = Engine::new(
        minilm.store.clone(),
        EmbeddingService::start(e5_model, 16, 32),
        minilm.settings.clone(),
    );
    let first: (String, String) = sqlx::query_as(
        "SELECT external_id, embedding::text FROM items ORDER BY external_id LIMIT 1",
    )
    .fetch_one(e5.store.pool())
    .await
    .unwrap();
    let mut seen = 0;
    let done = e5.reindex(|p| seen = p.done).await.unwrap();
    assert_eq!(done as i64, n);
    assert_eq!(seen as i64, n, "progress reports every item");
    assert_eq!(
        vectors_by_model(&e5).await,
        vec![(Some("multilingual-e5-small".to_string()), n)]
    );
    let after: String =
        sqlx::query_scalar("SELECT embedding::text FROM items WHERE external_id = $1")
            .bind(&first.0)
            .fetch_one(e5.store.pool())
            .await
            .unwrap();
    assert_ne!(after, first.1, "the vector itself was replaced");
    // The stored vector is the e5 passage embedding of the item's text.
    let item = e5.item_by_external_id(&first.0).await.unwrap();
    let want = embedder()
        .embed(
            &[
                engine::catalog::embedding_text(&item.title, &item.description, &item.tags)
                    .as_str(),
            ],
            TextKind::Passage,
        )
        .unwrap()
        .remove(0);
    let stored: Vec<f32> = after
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        max_abs_diff(&stored, &want) < 1e-5,
        "stored vector is not e5's"
    );
    assert_eq!(
        e5.reindex(|_| {}).await.unwrap(),
        0,
        "second reindex is a no-op"
    );
    // And back: the old model's engine sees every item as foreign again.
    assert_eq!(minilm.reindex(|_| {}).await.unwrap() as i64, n);
}
