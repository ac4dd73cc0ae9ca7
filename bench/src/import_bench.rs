//! Import throughput against pure embedding throughput, on the same texts, in
//! the same process, alternating the two phases so that a change of the
//! machine's load hits both alike.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use engine::catalog::{ParsedImport, IMPORT_CHUNK};
use engine::embed::{EmbeddingService, SentenceEmbedder, TextKind};
use engine::{Engine, EngineSettings, Store};
use pg_local::LocalCluster;

use crate::corpus::read_catalog;

#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// Items taken from the catalog (spread evenly over it); 0 = all.
    #[arg(long, default_value_t = 2000)]
    pub items: usize,
    /// Rounds of (embed alone, bulk import, import into the live index); the order
    /// alternates between rounds.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    #[arg(long, default_value = "data/demo/catalog.jsonl")]
    pub catalog: PathBuf,
    #[arg(
        long,
        env = "SEMREC_MODEL_DIR",
        default_value = "models/all-MiniLM-L6-v2"
    )]
    pub model_dir: PathBuf,
    /// Where to write the Markdown report (also printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One timed phase.
struct Phase {
    round: usize,
    what: &'static str,
    time: Duration,
    load_before: String,
    load_after: String,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Every `len / n`-th item, so short and long texts are both represented.
fn spread(parsed: ParsedImport, n: usize) -> ParsedImport {
    let len = parsed.items.len();
    if n == 0 || n >= len {
        return parsed;
    }
    let items = (0..n).map(|i| parsed.items[i * len / n].clone()).collect();
    ParsedImport {
        items,
        rejected: vec![],
    }
}

pub async fn run(args: ImportArgs) -> Result<()> {
    ensure!(args.rounds >= 1, "--rounds must be at least 1");
    let parsed = spread(read_catalog(&args.catalog)?, args.items);
    let texts: Vec<String> = parsed
        .items
        .iter()
        .map(|(_, i)| i.embedding_text())
        .collect();
    let model = SentenceEmbedder::load(&args.model_dir).with_context(|| {
        format!(
            "loading the model from {}: run scripts/fetch-model.sh",
            args.model_dir.display()
        )
    })?;
    let embedder = EmbeddingService::start(model, 64, 32);
    let cluster = LocalCluster::temporary().await?;
    let result = measure(&args, &parsed, &texts, embedder, &cluster).await;
    cluster.stop().await?;
    let phases = result?;
    let report = report(&args, texts.len(), &phases);
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("cannot write {}", out.display()))?;
    }
    println!("{report}");
    Ok(())
}

async fn measure(
    args: &ImportArgs,
    parsed: &ParsedImport,
    texts: &[String],
    embedder: EmbeddingService,
    cluster: &LocalCluster,
) -> Result<Vec<Phase>> {
    let store = Store::connect(cluster.database_url(), 4).await?;
    store.migrate().await?;
    let engine = Engine::new(store, embedder, EngineSettings::default());
    // The same import with the index kept live (every row inserted into the graph).
    let live = Engine {
        settings: EngineSettings {
            bulk_load_min: usize::MAX,
            ..EngineSettings::default()
        },
        ..engine.clone()
    };
    // Warm-up: the first inference allocates buffers.
    engine
        .embedder
        .embed(texts[..32.min(texts.len())].to_vec(), TextKind::Passage)
        .await?;
    let mut phases = Vec::new();
    for round in 1..=args.rounds {
        let order: [&'static str; 3] = if round % 2 == 1 {
            ["embed", "import", "import-live"]
        } else {
            ["import-live", "import", "embed"]
        };
        for what in order {
            let load_before = loadavg();
            let t = Instant::now();
            if what == "embed" {
                // Exactly the requests the import sends: one per chunk, in order.
                for chunk in texts.chunks(IMPORT_CHUNK) {
                    engine
                        .embedder
                        .embed(chunk.to_vec(), TextKind::Passage)
                        .await?;
                }
            } else {
                let engine = if what == "import" { &engine } else { &live };
                sqlx::query("TRUNCATE items CASCADE")
                    .execute(engine.store.pool())
                    .await?;
                let t0 = Instant::now();
                let items = ParsedImport {
                    items: parsed.items.clone(),
                    rejected: vec![],
                };
                let summary = engine.import_items(items, |_| {}).await?;
                ensure!(
                    summary.added == texts.len(),
                    "import added {} of {} items",
                    summary.added,
                    texts.len()
                );
                ensure!(
                    engine.vector_index_present().await?,
                    "the import left no vector index"
                );
                tracing::debug!(secs = t0.elapsed().as_secs_f64(), "import round done");
            }
            let time = t.elapsed();
            tracing::info!(round, what, secs = time.as_secs_f64(), "phase done");
            phases.push(Phase {
                round,
                what,
                time,
                load_before,
                load_after: loadavg(),
            });
        }
    }
    Ok(phases)
}

fn report(args: &ImportArgs, n: usize, phases: &[Phase]) -> String {
    let mut s = String::new();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let _ = writeln!(
        s,
        "#### Import vs pure embedding ({n} demo-catalog texts, {} rounds, chunks of {IMPORT_CHUNK})\n",
        args.rounds
    );
    let _ = writeln!(
        s,
        "| round | phase | time | items/s | load avg before → after |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for p in phases {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} s | {:.1} | {} → {} |",
            p.round,
            match p.what {
                "embed" => "embedder alone (the import's requests)",
                "import" => "`Engine::import_items` into an empty catalog (default: bulk load, HNSW built once at the end)",
                _ => "`Engine::import_items` into an empty catalog, HNSW index kept live (row-by-row inserts)",
            },
            p.time.as_secs_f64(),
            rate(p.time),
            p.load_before,
            p.load_after
        );
    }
    let total = |what: &str| -> Duration {
        phases
            .iter()
            .filter(|p| p.what == what)
            .map(|p| p.time)
            .sum()
    };
    let (embed, import, live) = (total("embed"), total("import"), total("import-live"));
    let share = embed.as_secs_f64() / import.as_secs_f64();
    let items = n as f64 * args.rounds as f64;
    let _ = writeln!(
        s,
        "\nOver all rounds: embedder alone {:.1} items/s, import {:.1} items/s → import = **{:.0}%** of pure embedding throughput (target ≥ 90%: {}). With the index kept live: {:.1} items/s ({:.0}%).",
        items / embed.as_secs_f64(),
        items / import.as_secs_f64(),
        100.0 * share,
        if share >= 0.9 { "**pass**" } else { "**miss**" },
        items / live.as_secs_f64(),
        100.0 * embed.as_secs_f64() / live.as_secs_f64(),
    );
    s
}
