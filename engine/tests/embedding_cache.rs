//! The embedding cache in front of the model, on a real PostgreSQL: a second
//! identical recommendation request embeds nothing, a changed profile embeds only
//! its new texts, and catalog search phrases are cached too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use engine::embed::fake::FakeEmbedder;
use engine::embed::{Embed, EmbedError, EmbeddingService, Input, ModelInfo};
use engine::events::ImpressionContext;
use engine::profile::Profile;
use engine::recommend::RecommendOptions;
use engine::EngineSettings;

/// The fake model, counting the texts it embeds.
struct Counting {
    fake: FakeEmbedder,
    texts: Arc<AtomicUsize>,
}

impl Embed for Counting {
    fn info(&self) -> &ModelInfo {
        self.fake.info()
    }

    fn embed_batch(&self, inputs: &[Input<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts.fetch_add(inputs.len(), Ordering::SeqCst);
        self.fake.embed_batch(inputs)
    }
}

fn profile(interests: &[&str]) -> Profile {
    Profile {
        interests: interests.iter().map(|s| s.to_string()).collect(),
        not_interested: vec!["horror".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_second_identical_request_does_not_call_the_embedder() {
    let texts = Arc::new(AtomicUsize::new(0));
    let model = Counting {
        fake: FakeEmbedder::default(),
        texts: texts.clone(),
    };
    let db = test_support::db::engine_on(
        EngineSettings::default(),
        EmbeddingService::start(model, 64, 32),
    )
    .await;
    let e = &db.engine;
    e.import_items(test_support::fixtures::fixture_catalog(), |_| {})
        .await
        .unwrap();
    let embedded = || texts.load(Ordering::SeqCst);
    let opts = RecommendOptions {
        k: 3,
        ..Default::default()
    };
    let opts = &opts;
    let recommend = |p: Profile| async move {
        e.recommend_for_profile(None, &p, opts, ImpressionContext::Api)
            .await
            .unwrap()
    };

    let before = embedded();
    let first = recommend(profile(&["jazz", "aircraft"])).await;
    // Two interests and one "not interested in" line.
    assert_eq!(embedded() - before, 3);
    let second = recommend(profile(&["jazz", "aircraft"])).await;
    assert_eq!(embedded() - before, 3, "the second request embedded again");
    let ids = |l: &engine::recommend::RecommendationList| {
        l.items
            .iter()
            .map(|r| (r.item.external_id.clone(), r.score))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&second));
    // One new interest: only it is embedded.
    recommend(profile(&["jazz", "chess"])).await;
    assert_eq!(embedded() - before, 4);
    let stats = e.embed_cache.stats();
    assert_eq!((stats.hits, stats.misses), (5, 4));

    // Catalog search phrases go through the same cache.
    e.search_semantic("planes", 3).await.unwrap();
    e.search_semantic("planes", 3).await.unwrap();
    assert_eq!(embedded() - before, 5);
}
