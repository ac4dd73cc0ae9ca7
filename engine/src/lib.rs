//! semrec's engine: everything that is not web.
//!
//! Embedding through the `embed` crate (any [`embed::Embed`] model behind its
//! bounded worker queue, [`embed::EmbeddingService`]), the PostgreSQL +
//! pgvector store, catalog import, profiles, recommendation, impression and
//! click events, and the metrics computed from them. The web layer (`app`,
//! `server`) calls into this crate and never talks SQL or tensors itself.

pub mod admin_preview;
pub mod api_keys;
pub mod bulk_load;
pub mod catalog;
pub mod catalogue_admin;
pub mod collaborative;
pub mod dismissal_counts;
pub mod drift;
pub mod embedding_cache;
pub mod error;
pub mod events;
pub mod feedback;
pub mod history;
pub mod import_history;
pub mod imports;
pub mod impression_queue;
pub mod interactions;
pub mod item_neighbours;
pub mod leased_job;
pub mod leases;
pub mod list_limits;
pub mod metrics;
pub mod presets;
pub mod profile;
pub mod ranking;
pub mod read_pool;
pub mod resume;
pub mod rules;
pub mod seed;
pub mod sessions;
pub mod store;
pub mod throttle;

/// The inference runtime, re-exported so that `engine::embed::…` names it for
/// the engine's callers.
pub use ::embed;
pub use error::EngineError;
/// The recommend pipeline's public types under their earlier paths
/// (`engine::recommend::RecommendOptions`, `engine::fusion::Features`).
pub use ranking as recommend;
pub use ranking::fusion;
pub use store::Store;

use embed::EmbeddingService;

/// Default popularity prior weight: the shipped ranker model's (`ranking::trained`,
/// chosen on the MovieLens validation split, docs/EVALUATION.md).
pub const DEFAULT_POPULARITY_WEIGHT: f32 = ranking::trained::WEIGHTS.popularity;
/// Default weight of the collaborative channel (the semantic score's weight is 1):
/// the shipped ranker model's.
pub const DEFAULT_COLLABORATIVE_WEIGHT: f32 = ranking::trained::WEIGHTS.collaborative;
/// Default weight of the lexical channel: the shipped ranker model's.
pub const DEFAULT_LEXICAL_WEIGHT: f32 = ranking::trained::WEIGHTS.lexical;
/// Default weight of the mean semantic similarity over the profile's elements: the
/// shipped ranker model's.
pub const DEFAULT_SEMANTIC_MEAN_WEIGHT: f32 = ranking::trained::WEIGHTS.semantic_mean;
/// Default weight of an item's scarcity (`fusion::scarcity`): the shipped ranker
/// model's.
pub const DEFAULT_SCARCITY_WEIGHT: f32 = ranking::trained::WEIGHTS.scarcity;
/// Default of [`EngineSettings::scan_concurrency`].
pub const DEFAULT_SCAN_CONCURRENCY: usize = 2;
/// Default of [`EngineSettings::ef_search`] (`SEMREC_EF_SEARCH`): also covers the
/// 200-candidate pool the popularity prior reranks.
pub const DEFAULT_EF_SEARCH: u32 = 200;
/// Default HNSW candidate pool for re-ranking.
pub const DEFAULT_CANDIDATE_POOL: usize = 200;

/// Tunables of the recommend path, set once from the server's configuration.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// HNSW candidate list size at query time (`hnsw.ef_search`): recall vs speed.
    pub ef_search: u32,
    /// How a profile becomes a query vector.
    pub profile_strategy: profile::ProfileStrategy,
    /// Most recent history entries a profile query uses.
    pub history_window: usize,
    /// A history entry's weight halves every this many entries back (age 0 = most
    /// recent); `None` = equal weights.
    pub recency_half_life: Option<f32>,
    /// Weight of the popularity prior added to the similarity when ranking:
    /// score = similarity + w · ln(1 + users) / ln(1 + max users), where users = how many
    /// distinct signed-in users beyond the first consumed or clicked the item
    /// (`recommend::POPULARITY_MIN_USERS`). 0 = pure content similarity.
    pub popularity_weight: f32,
    /// Weight of the collaborative channel: score += w · (Σ of the stored neighbour
    /// weights from the user's history items, scaled so the list's best has 1).
    /// 0 = the channel is off.
    pub collaborative_weight: f32,
    /// Weight of the lexical channel: score += w · (the profile's full-text
    /// `ts_rank_cd`, scaled so the list's best has 1). 0 = the channel is off.
    pub lexical_weight: f32,
    /// Weight of the mean recency-weighted similarity over the profile's elements
    /// (max-sim profiles; the best one has weight 1).
    pub semantic_mean_weight: f32,
    /// Weight of the item's scarcity (1 / (1 + users who had it)): lifts items the
    /// collaborative channel cannot know yet.
    pub scarcity_weight: f32,
    /// How the collaborative model is fitted and stored.
    pub collaborative: item_neighbours::CollaborativeSettings,
    /// Nearest neighbours fetched from the HNSW index before the popularity prior
    /// (or max-similarity scoring) reorders them; bounds the work per request.
    pub candidate_pool: usize,
    /// Windows and thresholds of interaction-rate and embedding drift alerts.
    pub drift: drift::DriftSettings,
    /// Statements a max-sim profile's element scans are split over (each on its own
    /// connection, run at the same time): about the database's cores per request.
    pub scan_concurrency: usize,
    /// Imports bringing at least this many new vectors (and at least half as many as
    /// the catalog holds) drop the HNSW index and build it once at the end.
    pub bulk_load_min: usize,
    /// Index tuples a filtered (iterative) HNSW scan may visit (`hnsw.max_scan_tuples`)
    /// before it gives up; a scan that comes back short is then run exactly.
    pub max_scan_tuples: u32,
    /// Business rules over the ranked list: negative elements, fair share,
    /// exploration, the list's confidence warning.
    pub rules: rules::RulesSettings,
    /// The learned ranker's models trained online (`semrec train`).
    pub online: ranking::online::OnlineSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            ef_search: DEFAULT_EF_SEARCH,
            profile_strategy: profile::ProfileStrategy::default(),
            history_window: profile::HISTORY_WINDOW,
            recency_half_life: profile::RECENCY_HALF_LIFE,
            popularity_weight: DEFAULT_POPULARITY_WEIGHT,
            collaborative_weight: DEFAULT_COLLABORATIVE_WEIGHT,
            lexical_weight: DEFAULT_LEXICAL_WEIGHT,
            semantic_mean_weight: DEFAULT_SEMANTIC_MEAN_WEIGHT,
            scarcity_weight: DEFAULT_SCARCITY_WEIGHT,
            collaborative: item_neighbours::CollaborativeSettings::default(),
            candidate_pool: DEFAULT_CANDIDATE_POOL,
            drift: drift::DriftSettings::default(),
            scan_concurrency: DEFAULT_SCAN_CONCURRENCY,
            bulk_load_min: bulk_load::DEFAULT_BULK_LOAD_MIN,
            // pgvector's default.
            max_scan_tuples: 20_000,
            rules: rules::RulesSettings::default(),
            online: ranking::online::OnlineSettings::default(),
        }
    }
}

/// The engine as the web layer and the CLI use it: a store, an embedder and settings.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub embedder: EmbeddingService,
    pub settings: EngineSettings,
    /// How many imports the server runs at once.
    pub imports: imports::ImportGate,
    /// Impressions waiting for the background writer (none until it is started).
    pub impressions: impression_queue::ImpressionQueue,
    /// Query embeddings already computed (profile elements, search phrases).
    pub embed_cache: embedding_cache::EmbeddingCache,
    /// The learned ranker's activated models, as last read.
    pub rankers: ranking::online::RankerCache,
}

impl Engine {
    pub fn new(store: Store, embedder: EmbeddingService, settings: EngineSettings) -> Self {
        Self {
            store,
            embedder,
            settings,
            imports: imports::ImportGate::default(),
            impressions: impression_queue::ImpressionQueue::default(),
            embed_cache: embedding_cache::EmbeddingCache::default(),
            rankers: ranking::online::RankerCache::default(),
        }
    }

    /// The id of the model whose vectors this engine reads and writes.
    pub fn model_id(&self) -> &str {
        &self.embedder.info().id
    }

    /// The request pool (statement and lock time limits).
    fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    /// The jobs pool: imports, index builds, recounts (no time limits).
    fn jobs_pool(&self) -> &sqlx::PgPool {
        self.store.jobs()
    }
}
