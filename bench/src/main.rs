//! `semrec-bench`: measures semrec where it matters (see BENCHMARKS.md).
//!
//! - `recommend`: the recommend path at 10k / 100k / 1M items in a throwaway
//!   PostgreSQL + pgvector: embed / SQL / end-to-end latency, HNSW recall@10 vs
//!   exact search, index build time and size, import vs pure embedding.
//! - `http`: loopback load on the real `semrec serve` binary, and the overload
//!   behaviour of a small embedding queue (429 + Retry-After, then recovery).
//! - `import`: import throughput against pure embedding throughput.
//! - `collaborative`: the collaborative refresh at 100k items / 1M interactions: time
//!   (read, fit, store), stored neighbours and peak memory.

mod collaborative_refresh;
mod copy_load;
mod corpus;
mod http_load;
mod import_bench;
mod interaction_gen;
mod log_capture;
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
    /// The collaborative refresh on generated interactions: time and peak memory.
    Collaborative(collaborative_refresh::CollaborativeArgs),
}

fn main() -> ExitCode {
    // As the server does: the benchmarks measure what the product serves.
    engine::embed::keep_freed_memory();
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(
                    tracing_subscriber::EnvFilter::try_from_env("SEMREC_LOG")
                        .unwrap_or_else(|_| "info,sqlx=warn".into()),
                ),
        )
        // The collaborative benchmark reads the refresh's own progress lines.
        .with(
            log_capture::CaptureCollaborative
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
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
            Command::Collaborative(args) => collaborative_refresh::run(args).await,
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
