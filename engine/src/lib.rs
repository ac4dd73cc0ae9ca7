//! semrec's engine: everything that is not web.
//!
//! Embedding (candle SBERT behind a bounded worker queue), the PostgreSQL +
//! pgvector store, catalog import, profiles, recommendation, impression and
//! click events, and the metrics computed from them. The web layer (`app`,
//! `server`) calls into this crate and never talks SQL or tensors itself.

pub mod api_keys;
pub mod catalog;
pub mod drift;
pub mod embed;
pub mod error;
pub mod events;
pub mod metrics;
pub mod postgres_cluster;
pub mod profile;
pub mod recommend;
pub mod sessions;
pub mod store;

pub use error::EngineError;
pub use store::Store;

use embed::EmbeddingService;

/// Tunables of the recommend path, set once from the server's configuration.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// HNSW candidate list size at query time (`hnsw.ef_search`): recall vs speed.
    pub ef_search: u32,
    /// How a profile becomes a query vector.
    pub profile_strategy: profile::ProfileStrategy,
    /// Windows and thresholds of interaction-rate and embedding drift alerts.
    pub drift: drift::DriftSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            ef_search: 100,
            profile_strategy: profile::ProfileStrategy::default(),
            drift: drift::DriftSettings::default(),
        }
    }
}

/// The engine as the web layer and the CLI use it: a store, an embedder and settings.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub embedder: EmbeddingService,
    pub settings: EngineSettings,
}

impl Engine {
    pub fn new(store: Store, embedder: EmbeddingService, settings: EngineSettings) -> Self {
        Self {
            store,
            embedder,
            settings,
        }
    }

    /// The id of the model whose vectors this engine reads and writes.
    pub fn model_id(&self) -> &str {
        &self.embedder.info().id
    }

    fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }
}
