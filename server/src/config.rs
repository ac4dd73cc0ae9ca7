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
    /// HNSW ef_search at query time (higher = better recall, slower).
    #[arg(long, env = "SEMREC_EF_SEARCH", default_value_t = 100, global = true)]
    pub ef_search: u32,
    /// How profiles become query vectors: concat or centroid.
    #[arg(
        long,
        env = "SEMREC_PROFILE_STRATEGY",
        default_value = "concat",
        global = true
    )]
    pub profile_strategy: engine::profile::ProfileStrategy,
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
