//! All configuration in one place: command line flags, each with an env variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    Serve(ServeArgs),
    /// Import catalog items from a JSONL or CSV file ('-' for stdin).
    Import(ImportArgs),
    /// Re-embed every item whose vector was made by another model.
    Reindex,
    /// Create, list or revoke API keys for the JSON API.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
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
    #[arg(long, env = "SEMREC_EF_SEARCH", default_value_t = 200, global = true)]
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
    pub drift: DriftArgs,
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
        default_value_t = 7,
        global = true
    )]
    pub drift_recent_days: i64,
    /// Reference window (just before the recent one), in days.
    #[arg(
        long,
        env = "SEMREC_DRIFT_REFERENCE_DAYS",
        default_value_t = 28,
        global = true
    )]
    pub drift_reference_days: i64,
    /// Interaction-rate alert when the two-proportion z is below minus this.
    #[arg(
        long,
        env = "SEMREC_DRIFT_RATE_Z",
        default_value_t = 1.645,
        global = true
    )]
    pub drift_rate_z: f64,
    /// Alert when two embedding centroids are further apart than this cosine distance.
    #[arg(
        long,
        env = "SEMREC_DRIFT_CENTROID_SHIFT",
        default_value_t = 0.15,
        global = true
    )]
    pub drift_centroid_shift: f64,
    /// Alert when the mean top-1 similarity drops by more than this.
    #[arg(
        long,
        env = "SEMREC_DRIFT_TOP1_DROP",
        default_value_t = 0.05,
        global = true
    )]
    pub drift_top1_drop: f64,
    /// Fewest samples per window before a drift signal is judged.
    #[arg(
        long,
        env = "SEMREC_DRIFT_MIN_SAMPLES",
        default_value_t = 20,
        global = true
    )]
    pub drift_min_samples: i64,
}

impl DriftArgs {
    pub fn settings(&self) -> engine::drift::DriftSettings {
        engine::drift::DriftSettings {
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
}
