//! The embedders of the tests: the real model (shared by the tests of one binary)
//! and the deterministic fake, for tests of database behaviour that do not depend
//! on what texts mean.

use std::sync::OnceLock;

use engine::embed::fake::FakeEmbedder;
use engine::embed::{EmbeddingService, SentenceEmbedder};

/// The real model, one per test binary: loading it is the slow part.
pub fn embedder() -> EmbeddingService {
    static SERVICE: OnceLock<EmbeddingService> = OnceLock::new();
    SERVICE
        .get_or_init(|| {
            let model = SentenceEmbedder::load(&crate::paths::model_dir())
                .unwrap_or_else(|e| panic!("{e}: run scripts/fetch-model.sh first"));
            EmbeddingService::start(model, 64, 32)
        })
        .clone()
}

/// The fake embedder (hashed bag of words and trigrams).
pub fn fake_embedder() -> EmbeddingService {
    static SERVICE: OnceLock<EmbeddingService> = OnceLock::new();
    SERVICE
        .get_or_init(|| EmbeddingService::start(FakeEmbedder::default(), 64, 32))
        .clone()
}
