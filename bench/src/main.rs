//! `semrec-bench`: measures semrec where it matters (see BENCHMARKS.md).
//!
//! - `recommend`: the recommend path at 10k / 100k / 1M items in a throwaway
//!   PostgreSQL + pgvector: embed / SQL / end-to-end latency, HNSW recall@10 vs
//!   exact search, index build time and size, import vs pure embedding.
//! - `http`: loopback load on the real `semrec serve` binary, and the overload
//!   behaviour of a small embedding queue (429 + Retry-After, then recovery).
//! - `import`: import throughput against pure embedding throughput.

mod copy_load;
mod corpus;
mod http_load;
mod import_bench;
mod recommend_path;
mod stats;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "semrec-bench",
    about = "semrec benchmarks (results go to BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The recommend path at several catalog sizes.
    Recommend(recommend_path::RecommendArgs),
    /// HTTP load and overload against the real server binary.
    Http(http_load::HttpArgs),
    /// Import throughput against pure embedding throughput.
    Import(import_bench::ImportArgs),
}

fn main() -> ExitCode {
    // As the server does: the benchmarks measure what the product serves.
    engine::embed::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEMREC_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("semrec-bench: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Recommend(args) => recommend_path::run(args).await,
            Command::Http(args) => http_load::run(args).await,
            Command::Import(args) => import_bench::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("semrec-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
