//! All configuration in one place: command line flags, each with an env variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use engine::drift::DriftSettings;

mod read_replicas;
pub use read_replicas::ReadReplicaArgs;

#[derive(Parser, Debug)]
#[command(
    name = "semrec",
    version,
    about = "Self-hostable semantic recommendation engine"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app and the JSON API (the default).
    Serve(Box<ServeArgs>),
    /// Import catalog items from a JSONL or CSV file ('-' for stdin).
    Import(ImportArgs),
    /// Import interactions (user, item, ts[, rating|weight][, kind]) from a JSONL or CSV
    /// file ('-' for stdin), then refit the collaborative model.
    ImportInteractions(ImportArgs),
    /// Re-embed every item whose vector was made by another model.
    Reindex,
    /// Create, list or revoke API keys for the JSON API.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Print the list the engine would serve for a profile given on the command line
    /// (or the items similar to one item), with the current settings; records nothing.
    Recommend(RecommendArgs),
    /// Fit the learned ranker to the logged lists and their clicks; activate the new
    /// model only if it beats the serving one on the latest lists.
    Train,
}

/// A profile on the command line, as the web app and the API take it.
#[derive(Args, Debug, Clone, Default)]
pub struct RecommendArgs {
    /// An interest (repeatable), e.g. --interest ocean.
    #[arg(long = "interest", value_name = "TEXT")]
    pub interests: Vec<String>,
    /// A consumed item by its catalogue id (repeatable; most recent first).
    #[arg(long = "history-item", value_name = "ID")]
    pub history_items: Vec<String>,
    /// A consumed item typed as text, e.g. a title (repeatable); a text naming a
    /// catalogue item counts as that item.
    #[arg(long = "history", value_name = "TEXT")]
    pub history_texts: Vec<String>,
    /// A "not interested in" line (repeatable).
    #[arg(long = "not-interested", value_name = "TEXT")]
    pub not_interested: Vec<String>,
    /// The items similar to this catalogue item instead of a profile's list.
    #[arg(long, value_name = "ID", conflicts_with_all = ["interests", "history_items", "history_texts", "not_interested"])]
    pub similar: Option<String>,
    /// How many items.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Rank as before the hybrid pipeline (similarity and the popularity prior only:
    /// `engine::presets::before_hybrid`), for before/after comparisons.
    #[arg(long)]
    pub before: bool,
    /// Print the list as the JSON API answers it, instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// PostgreSQL URL. Without it semrec runs its own local PostgreSQL in --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Data directory of the embedded PostgreSQL cluster.
    #[arg(
        long,
        env = "SEMREC_DATA_DIR",
        default_value = "data/postgres",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Port of the embedded PostgreSQL cluster (loopback only).
    #[arg(long, env = "SEMREC_PG_PORT", default_value_t = 5433, global = true)]
    pub pg_port: u16,
    /// Sentence-Transformers model folder.
    #[arg(
        long,
        env = "SEMREC_MODEL_DIR",
        default_value = "models/all-MiniLM-L6-v2",
        global = true
    )]
    pub model_dir: PathBuf,
    /// Embedding requests that may wait; beyond this callers get "busy" (HTTP 429).
    #[arg(long, env = "SEMREC_EMBED_QUEUE", default_value_t = 64, global = true)]
    pub embed_queue: usize,
    /// Memory (MiB) of the in-process cache of query embeddings (profile texts,
    /// search phrases), least recently used out first; 0 = off.
    #[arg(long, env = "SEMREC_EMBED_CACHE_MB", default_value_t = engine::embedding_cache::DEFAULT_BUDGET_MB as u32,
          value_parser = clap::value_parser!(u32).range(0..=65_536), global = true)]
    pub embed_cache_mb: u32,
    /// Most texts embedded in one forward pass.
    #[arg(long, env = "SEMREC_EMBED_BATCH", default_value_t = 32, global = true)]
    pub embed_batch: usize,
    /// Precision of the model's dense layers: auto (bf16 where the CPU has AVX-512 BF16,
    /// 1.6× the throughput of f32, vectors within cosine 0.9999 of the reference; else f32), f32 or bf16.
    #[arg(
        long,
        env = "SEMREC_EMBED_PRECISION",
        default_value = "auto",
        value_parser = embed_precision,
        global = true
    )]
    pub embed_precision: engine::embed::Precision,
    /// HNSW ef_search at query time (higher = better recall, slower).
    #[arg(long, env = "SEMREC_EF_SEARCH", default_value_t = engine::DEFAULT_EF_SEARCH, global = true)]
    pub ef_search: u32,
    /// Concurrent statements a max-sim profile's element scans are split over (each
    /// on its own database connection): about the database server's cores.
    #[arg(long, env = "SEMREC_SCAN_CONCURRENCY", default_value_t = engine::DEFAULT_SCAN_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..=16), global = true)]
    pub scan_concurrency: u16,
    /// How profiles become queries: max_sim (best match to any profile element, the evaluated
    /// default), centroid (recency-weighted mean) or concat.
    #[arg(
        long,
        env = "SEMREC_PROFILE_STRATEGY",
        default_value = "max_sim",
        global = true
    )]
    pub profile_strategy: engine::profile::ProfileStrategy,
    /// Weight of the popularity prior in the ranking (0 = content similarity only, at most 2).
    #[arg(
        long,
        env = "SEMREC_POPULARITY_WEIGHT",
        default_value_t = engine::DEFAULT_POPULARITY_WEIGHT,
        value_parser = popularity_weight,
        global = true
    )]
    pub popularity_weight: f32,
    /// statement_timeout of request statements, in ms (0 = none). Imports, index
    /// builds and recounts have their own connections without limits.
    #[arg(
        long,
        env = "SEMREC_STATEMENT_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub statement_timeout_ms: u64,
    /// lock_timeout of request statements, in ms (0 = none).
    #[arg(
        long,
        env = "SEMREC_LOCK_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub lock_timeout_ms: u64,
    #[command(flatten)]
    pub collaborative: CollaborativeArgs,
    #[command(flatten)]
    pub drift: DriftArgs,
    #[command(flatten)]
    pub rules: RulesArgs,
    #[command(flatten)]
    pub ranker: RankerArgs,
}

/// The learned ranker's models trained online (`semrec train`, engine `ranking::online`).
#[derive(Args, Debug, Clone)]
pub struct RankerArgs {
    /// Clicks on logged lists `semrec train` needs before it fits a model.
    #[arg(long, env = "SEMREC_RANKER_MIN_CLICKS", default_value_t = engine::recommend::online::DEFAULT_MIN_CLICKS as u32,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub ranker_min_clicks: u32,
    /// Share of users a newly activated model ranks for while it is a canary (1 = all at once).
    #[arg(long, env = "SEMREC_RANKER_CANARY", default_value_t = engine::recommend::online::DEFAULT_CANARY_SHARE,
          value_parser = |s: &str| in_range(s, 0.0, 1.0), global = true)]
    pub ranker_canary: f32,
    /// Days a newly activated model stays a canary.
    #[arg(long, env = "SEMREC_RANKER_CANARY_DAYS", default_value_t = engine::recommend::online::DEFAULT_CANARY_DAYS,
          value_parser = |s: &str| in_range(s, 0.0, 365.0), global = true)]
    pub ranker_canary_days: f32,
}

impl RankerArgs {
    pub fn settings(&self) -> engine::recommend::online::OnlineSettings {
        engine::recommend::online::OnlineSettings {
            min_clicks: self.ranker_min_clicks as usize,
            canary_share: self.ranker_canary,
            canary_days: self.ranker_canary_days,
        }
    }
}

/// Business rules over the ranked list (engine `rules`).
#[derive(Args, Debug, Clone)]
pub struct RulesArgs {
    /// Score a candidate loses per unit of cosine to the nearest negative element
    /// ("not interested in", dismissed items) above --negative-floor (0 = off, at most 5).
    #[arg(long, env = "SEMREC_NEGATIVE_WEIGHT", default_value_t = engine::rules::negative::DEFAULT_WEIGHT,
          value_parser = |s: &str| in_range(s, 0.0, 5.0), global = true)]
    pub negative_weight: f32,
    /// Cosine to a negative element below which a candidate loses nothing.
    #[arg(long, env = "SEMREC_NEGATIVE_FLOOR", default_value_t = engine::rules::negative::DEFAULT_FLOOR,
          value_parser = |s: &str| in_range(s, 0.0, 1.0), global = true)]
    pub negative_floor: f32,
    /// Fair share: no profile element supplies more than ⌈n/e⌉ + 1 of the first n items.
    #[arg(long, env = "SEMREC_FAIR_SHARE", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub fair_share: bool,
    /// Share of a list's slots given to under-exposed items (0 = off, at most 0.5).
    #[arg(long, env = "SEMREC_EXPLORATION_SHARE", default_value_t = engine::rules::exploration::DEFAULT_SHARE,
          value_parser = |s: &str| in_range(s, 0.0, 0.5), global = true)]
    pub exploration_share: f32,
    /// Under-exposed: fewer stored interactions than this…
    #[arg(long, env = "SEMREC_EXPLORATION_MAX_INTERACTIONS", default_value_t = engine::rules::exploration::DEFAULT_MAX_INTERACTIONS,
          value_parser = clap::value_parser!(i64).range(1..=1_000_000), global = true)]
    pub exploration_max_interactions: i64,
    /// …and fewer impressions than this.
    #[arg(long, env = "SEMREC_EXPLORATION_MAX_IMPRESSIONS", default_value_t = engine::rules::exploration::DEFAULT_MAX_IMPRESSIONS,
          value_parser = clap::value_parser!(i64).range(1..=1_000_000), global = true)]
    pub exploration_max_impressions: i64,
    /// A list whose best cosine to the profile is below this carries a warning (0 = never).
    #[arg(long, env = "SEMREC_MIN_CONFIDENCE", default_value_t = engine::rules::confidence::DEFAULT_MIN_SIMILARITY,
          value_parser = |s: &str| in_range(s, 0.0, 1.0), global = true)]
    pub min_confidence: f32,
}

impl RulesArgs {
    pub fn settings(&self) -> engine::rules::RulesSettings {
        use engine::rules::{confidence, exploration, negative};
        engine::rules::RulesSettings {
            negative: negative::NegativeSettings {
                weight: self.negative_weight,
                floor: self.negative_floor,
                ..Default::default()
            },
            fair_share: self.fair_share,
            exploration: exploration::ExplorationSettings {
                share: self.exploration_share,
                max_interactions: self.exploration_max_interactions,
                max_impressions: self.exploration_max_impressions,
            },
            confidence: confidence::ConfidenceSettings {
                min_similarity: self.min_confidence,
            },
        }
    }
}

/// A finite number in [lo, hi].
fn in_range(s: &str, lo: f32, hi: f32) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number in {lo}..={hi}")),
    }
}

/// The collaborative model and channel.
#[derive(Args, Debug, Clone)]
pub struct CollaborativeArgs {
    /// Weight of the collaborative channel in the ranking (0 = off, at most 2).
    #[arg(
        long,
        env = "SEMREC_COLLABORATIVE_WEIGHT",
        default_value_t = engine::DEFAULT_COLLABORATIVE_WEIGHT,
        value_parser = popularity_weight,
        global = true
    )]
    pub collaborative_weight: f32,
    /// Weight of the lexical (full-text) channel in the ranking (0 = off, at most 2).
    #[arg(
        long,
        env = "SEMREC_LEXICAL_WEIGHT",
        default_value_t = engine::DEFAULT_LEXICAL_WEIGHT,
        value_parser = popularity_weight,
        global = true
    )]
    pub lexical_weight: f32,
    /// auto (EASE up to --ease-max-items items with interactions, item-kNN above), ease or item_knn.
    #[arg(
        long,
        env = "SEMREC_COLLABORATIVE_ALGORITHM",
        default_value = "auto",
        global = true
    )]
    pub collaborative_algorithm: engine::item_neighbours::Algorithm,
    /// EASE's ridge λ: `auto` (chosen on each refit by holding out every user's latest
    /// interaction) or a number above 0.
    #[arg(long, env = "SEMREC_EASE_LAMBDA", default_value = "auto",
          value_parser = auto_or_positive_f64, global = true)]
    pub ease_lambda: AutoOr,
    /// Largest catalogue (items with interactions) fitted with EASE: its dense matrices
    /// take 16 · n² bytes at the peak (1.6 GB at 10,000).
    #[arg(long, env = "SEMREC_EASE_MAX_ITEMS", default_value_t = engine::collaborative::ease::DEFAULT_MAX_ITEMS as u32,
          value_parser = clap::value_parser!(u32).range(1..=30_000), global = true)]
    pub ease_max_items: u32,
    /// item-kNN: neighbours kept per item.
    #[arg(long, env = "SEMREC_KNN_K", default_value_t = engine::item_neighbours::DEFAULT_KNN_K as u32,
          value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub knn_k: u32,
    /// item-kNN: shrinkage of the cosine (larger = less trust in little support).
    #[arg(long, env = "SEMREC_KNN_SHRINKAGE", default_value_t = engine::item_neighbours::DEFAULT_KNN_SHRINKAGE,
          value_parser = non_negative_f64, global = true)]
    pub knn_shrinkage: f64,
    /// Neighbours stored per item in PostgreSQL.
    #[arg(long, env = "SEMREC_COLLABORATIVE_NEIGHBOURS", default_value_t = engine::item_neighbours::DEFAULT_NEIGHBOURS as u32,
          value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub collaborative_neighbours: u32,
    /// Seconds between checks for new interactions; a stale model is refitted then.
    #[arg(
        long,
        env = "SEMREC_COLLABORATIVE_REFRESH_SECS",
        default_value_t = 600,
        global = true
    )]
    pub collaborative_refresh_secs: u64,
}

impl CollaborativeArgs {
    pub fn settings(&self) -> engine::item_neighbours::CollaborativeSettings {
        engine::item_neighbours::CollaborativeSettings {
            algorithm: self.collaborative_algorithm,
            ease_lambda: self.ease_lambda.0,
            ease_max_items: self.ease_max_items as usize,
            knn_k: self.knn_k as usize,
            knn_shrinkage: self.knn_shrinkage,
            neighbours: self.collaborative_neighbours as usize,
        }
    }
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number above 0")),
    }
}

/// `auto` (`None`) or a fixed value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoOr(pub Option<f64>);

fn auto_or_positive_f64(s: &str) -> Result<AutoOr, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(AutoOr(None));
    }
    positive_f64(s)
        .map(|v| AutoOr(Some(v)))
        .map_err(|e| format!("{e}, nor 'auto'"))
}

fn non_negative_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number of 0 or more")),
    }
}

/// `auto`, `f32` or `bf16`; `auto` is resolved here, against this CPU.
fn embed_precision(s: &str) -> Result<engine::embed::Precision, String> {
    use engine::embed::Precision;
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Precision::best_supported()),
        "f32" => Ok(Precision::F32),
        "bf16" if Precision::Bf16.is_supported() => Ok(Precision::Bf16),
        "bf16" => Err("this CPU has no AVX-512 BF16: use f32 or auto".into()),
        _ => Err(format!("'{s}' is not one of auto, f32, bf16")),
    }
}

/// A finite weight in [0, 2]: similarities live in [-1, 1], so a larger prior would
/// drown the content signal entirely.
fn popularity_weight(s: &str) -> Result<f32, String> {
    let w: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if w.is_finite() && (0.0..=2.0).contains(&w) {
        Ok(w)
    } else {
        Err(format!("'{s}' is outside 0..=2"))
    }
}

/// Drift monitoring windows and alert thresholds (dashboard and API).
#[derive(Args, Debug, Clone)]
pub struct DriftArgs {
    /// Recent window of drift monitoring, in days.
    #[arg(
        long,
        env = "SEMREC_DRIFT_RECENT_DAYS",
        default_value_t = DriftSettings::DEFAULT.recent_days,
        global = true
    )]
    pub drift_recent_days: i64,
    /// Reference window (just before the recent one), in days.
    #[arg(
        long,
        env = "SEMREC_DRIFT_REFERENCE_DAYS",
        default_value_t = DriftSettings::DEFAULT.reference_days,
        global = true
    )]
    pub drift_reference_days: i64,
    /// Interaction-rate alert when the two-proportion z is below minus this.
    #[arg(
        long,
        env = "SEMREC_DRIFT_RATE_Z",
        default_value_t = DriftSettings::DEFAULT.rate_z,
        global = true
    )]
    pub drift_rate_z: f64,
    /// Alert when two embedding centroids are further apart than this cosine distance.
    #[arg(
        long,
        env = "SEMREC_DRIFT_CENTROID_SHIFT",
        default_value_t = DriftSettings::DEFAULT.centroid_shift,
        global = true
    )]
    pub drift_centroid_shift: f64,
    /// Alert when the mean top-1 similarity drops by more than this.
    #[arg(
        long,
        env = "SEMREC_DRIFT_TOP1_DROP",
        default_value_t = DriftSettings::DEFAULT.top1_drop,
        global = true
    )]
    pub drift_top1_drop: f64,
    /// Fewest samples per window before a drift signal is judged.
    #[arg(
        long,
        env = "SEMREC_DRIFT_MIN_SAMPLES",
        default_value_t = DriftSettings::DEFAULT.min_samples,
        global = true
    )]
    pub drift_min_samples: i64,
}

impl DriftArgs {
    pub fn settings(&self) -> DriftSettings {
        DriftSettings {
            recent_days: self.drift_recent_days,
            reference_days: self.drift_reference_days,
            rate_z: self.drift_rate_z,
            centroid_shift: self.drift_centroid_shift,
            top1_drop: self.drift_top1_drop,
            min_samples: self.drift_min_samples,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SEMREC_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Folder with the built site (pkg/ with WASM, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Catalog imported on first start, when the catalog is empty.
    #[arg(
        long,
        env = "SEMREC_DEMO_CATALOG",
        default_value = "data/demo/catalog.jsonl"
    )]
    pub demo_catalog: PathBuf,
    /// Interactions loaded with the demo catalog on first start (the MovieLens ratings
    /// of the demo users), so the collaborative channel has signal from the start.
    #[arg(
        long,
        env = "SEMREC_DEMO_INTERACTIONS",
        default_value = "data/movielens/full/interactions.jsonl"
    )]
    pub demo_interactions: PathBuf,
    #[arg(long, env = "SEMREC_ADMIN_USER", default_value = "admin")]
    pub admin_user: String,
    /// Admin password. Without one, a random password is generated and logged at start.
    #[arg(long, env = "SEMREC_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Mark cookies Secure (set when a TLS proxy serves semrec over HTTPS).
    #[arg(long, env = "SEMREC_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
    /// JSON API requests per second per API key (and per client IP without a valid key).
    #[arg(long, env = "SEMREC_API_RATE", default_value_t = 20.0)]
    pub api_rate: f64,
    /// JSON API requests allowed in a burst before the rate applies.
    #[arg(long, env = "SEMREC_API_BURST", default_value_t = 40)]
    pub api_burst: u32,
    /// Ranking requests (recommendations, similar items, catalog search) served at once;
    /// beyond this they are answered 429 with Retry-After at once, before any work.
    /// Default: 8 per CPU core.
    #[arg(long, env = "SEMREC_MAX_IN_FLIGHT", default_value_t = crate::admission::default_max_in_flight() as u32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_in_flight: u32,
    /// Host names clients reach semrec by (host, host:port or http(s)://host[:port],
    /// comma separated); requests for any other Host get 421, and browser writes
    /// must come from one of them. Default: the loopback names of SEMREC_ADDR;
    /// required when SEMREC_ADDR is not a loopback address.
    #[arg(long, env = "SEMREC_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Reverse proxies (IPs or CIDR networks, comma separated) whose
    /// X-Forwarded-For names the client; from anyone else it is ignored.
    #[arg(long, env = "SEMREC_TRUSTED_PROXIES", value_delimiter = ',', value_parser = network)]
    pub trusted_proxies: Vec<Option<crate::edge::client_ip::Network>>,
    /// Seconds a connection may take to send a complete request head (slowloris defence).
    #[arg(long, env = "SEMREC_HEADER_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_timeout: u64,
    /// Seconds a request may take before it is answered 503 and dropped.
    #[arg(long, env = "SEMREC_REQUEST_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// Seconds an import request (API bulk import, dashboard upload) may take.
    #[arg(long, env = "SEMREC_IMPORT_TIMEOUT", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub import_timeout: u64,
    /// Database connections for requests. Default and minimum: SEMREC_MAX_IN_FLIGHT ×
    /// SEMREC_SCAN_CONCURRENCY + 4, so admitted requests never wait for each other's
    /// connections.
    #[arg(long, env = "SEMREC_DB_POOL")]
    pub db_pool: Option<u32>,
    /// Catalog imports (API, admin page) run at once; more are answered 429 with
    /// Retry-After before their body is read.
    #[arg(long, env = "SEMREC_MAX_IMPORTS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub max_imports: u32,
    /// semrec instances that share this PostgreSQL: the start is refused unless
    /// max_connections holds this many times the instance's two pools, plus room
    /// for other clients and the superuser-reserved connections.
    #[arg(long, env = "SEMREC_EXPECTED_INSTANCES", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub expected_instances: u32,
    /// Seconds a background job's lease lasts without renewal (renewed every third):
    /// how long a dead instance's jobs wait before another instance takes them over.
    #[arg(long, env = "SEMREC_JOB_LEASE_SECS", default_value_t = engine::leased_job::DEFAULT_LEASE_TTL.as_secs(),
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub job_lease_secs: u64,
    /// Impressions and clicks a minute per client address from the web app (item
    /// pages, the signed-in home page, recommendations, opened items); beyond it
    /// 429 with Retry-After. The JSON API's are limited by SEMREC_API_RATE per key.
    #[arg(long, env = "SEMREC_EVENT_RATE", default_value_t = crate::edge::event_limits::DEFAULT_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub event_rate: u32,
    /// Web impressions and clicks a client address may make at once before SEMREC_EVENT_RATE applies.
    #[arg(long, env = "SEMREC_EVENT_BURST", default_value_t = crate::edge::event_limits::DEFAULT_BURST,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub event_burst: u32,
    /// Served lists' impressions waiting to be written in the background, in batches;
    /// when full they are written inline with the request, never dropped. 0 = always inline.
    #[arg(long, env = "SEMREC_IMPRESSION_QUEUE", default_value_t = engine::impression_queue::DEFAULT_CAPACITY as u32,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub impression_queue: u32,
    /// Milliseconds between background writes of queued impressions: what a kill -9
    /// may lose (graceful shutdown writes them all).
    #[arg(long, env = "SEMREC_IMPRESSION_FLUSH_MS", default_value_t = engine::impression_queue::DEFAULT_FLUSH_INTERVAL.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub impression_flush_ms: u64,
    /// Where Prometheus metrics are served (`GET /metrics`), apart from the public
    /// port; empty or `off` disables them. Loopback only unless --metrics-public.
    #[arg(long, env = "SEMREC_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: String,
    /// Allow SEMREC_METRICS_ADDR to be a non-loopback address (when a firewall or
    /// network policy decides who may scrape it).
    #[arg(long, env = "SEMREC_METRICS_PUBLIC", default_value_t = false)]
    pub metrics_public: bool,
    #[command(flatten)]
    pub read_replicas: ReadReplicaArgs,
}

impl ServeArgs {
    /// The impression queue's bound and flush interval.
    pub fn impression_queue(&self) -> engine::impression_queue::QueueSettings {
        engine::impression_queue::QueueSettings {
            capacity: self.impression_queue as usize,
            flush_interval: std::time::Duration::from_millis(self.impression_flush_ms),
        }
    }
}

/// An IP or CIDR network; an empty entry (a trailing comma) is skipped.
fn network(s: &str) -> Result<Option<crate::edge::client_ip::Network>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.parse().map(Some)
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Create a key and print it (once: only its hash is stored).
    Create {
        /// A name to tell keys apart, e.g. the front end using it.
        #[arg(long)]
        name: String,
        /// write (recommendations, events, items) or admin (also metrics).
        #[arg(long, default_value = "write")]
        scope: engine::api_keys::Scope,
    },
    /// List keys: names, scopes, prefixes, last use (never the keys).
    List,
    /// Revoke a live key, by name or id.
    Revoke { name_or_id: String },
}

impl Default for ServeArgs {
    fn default() -> Self {
        // Parse from nothing so env variables and defaults apply.
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["semrec"]).serve
    }
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// JSONL or CSV file; '-' reads JSONL from stdin.
    pub file: PathBuf,
    /// Force the format instead of guessing from the extension.
    #[arg(long, value_parser = ["jsonl", "csv"])]
    pub format: Option<String>,
    /// Validate only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_settings_are_validated() {
        assert_eq!(in_range("0.1", 0.0, 0.5), Ok(0.1));
        assert!(in_range("0.6", 0.0, 0.5).is_err());
        assert!(in_range("NaN", 0.0, 0.5).is_err());
        let cli = Cli::parse_from([
            "semrec",
            "--fair-share",
            "false",
            "--exploration-share",
            "0",
        ]);
        let rules = cli.common.rules.settings();
        assert!(!rules.fair_share);
        assert!(!rules.exploration.is_on());
        assert_eq!(
            rules.negative.weight,
            engine::rules::negative::DEFAULT_WEIGHT
        );
    }

    #[test]
    fn popularity_weight_is_validated() {
        assert_eq!(popularity_weight("0.3"), Ok(0.3));
        assert_eq!(popularity_weight("0"), Ok(0.0));
        assert!(popularity_weight("-0.1").is_err());
        assert!(popularity_weight("NaN").is_err());
        assert!(popularity_weight("3").is_err());
        assert!(popularity_weight("lots").is_err());
        let cli = Cli::parse_from(["semrec", "--popularity-weight", "0.5", "reindex"]);
        assert_eq!(cli.common.popularity_weight, 0.5);
    }

    #[test]
    fn ease_lambda_is_auto_or_a_positive_number() {
        let auto = Cli::parse_from(["semrec", "reindex"]);
        assert_eq!(auto.common.collaborative.settings().ease_lambda, None);
        let fixed = Cli::parse_from(["semrec", "--ease-lambda", "50", "reindex"]);
        assert_eq!(
            fixed.common.collaborative.settings().ease_lambda,
            Some(50.0)
        );
        assert_eq!(auto_or_positive_f64("AUTO"), Ok(AutoOr(None)));
        for bad in ["0", "-5", "NaN", "inf", "lots"] {
            assert!(auto_or_positive_f64(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn edge_lists_are_comma_separated() {
        let cli = Cli::parse_from([
            "semrec",
            "serve",
            "--allowed-hosts",
            "rec.example.com,https://x.example",
            "--trusted-proxies",
            "10.0.0.0/8,::1,",
        ]);
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.allowed_hosts.len(), 2);
        assert_eq!(args.trusted_proxies.iter().flatten().count(), 2);
        assert!(Cli::try_parse_from(["semrec", "serve", "--trusted-proxies", "proxy"]).is_err());
    }
}
