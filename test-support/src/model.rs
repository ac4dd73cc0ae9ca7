//! The real embedding model, shared by the tests of one binary.

use std::sync::OnceLock;

use engine::embed::{EmbeddingService, SentenceEmbedder};

/// One model per test binary: loading it is the slow part.
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
