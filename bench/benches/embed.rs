//! Embedding benchmark (a bench binary, not a test: timings depend on the machine).
//!
//! `cargo bench -p bench --bench embed` — or `scripts/bench-embed.sh`, which also
//! runs Python sentence-transformers on the same texts for a side-by-side table.
//!
//! Reports, for the model in `SEMREC_MODEL_DIR` (default models/all-MiniLM-L6-v2):
//! * catalog throughput: every item of `SEMREC_BENCH_ITEMS` (default
//!   data/movielens/plots/items.jsonl) as `engine::catalog::embedding_text`,
//!   texts/s and tokens/s over `SEMREC_BENCH_ROUNDS` passes, two ways: all texts in
//!   one `embed` call (what Python's `encode(texts, batch_size=32)` is: the embedder
//!   sorts by length and cuts its own sub-batches), and in calls of 32 texts in
//!   catalog order (what the import path sends);
//! * p50/p99 latency of embedding one ~20-token profile (query);
//! * peak RSS (VmHWM) after loading the model and at the end.
//!
//! Flags (after `--`): `--json PATH` writes the numbers as JSON; `--dump-texts
//! PATH` writes the catalog texts (JSON array) so another implementation can run
//! exactly the same input; `--serve` loads the model, then runs one measurement
//! per command read from stdin and answers one JSON line per command, so that
//! scripts/bench-embed.sh can interleave semrec and Python rounds under the same
//! machine load: `catalog` (one pass, all texts in one call), `catalog32` (one
//! pass in calls of 32), `latency N` (N single-profile runs, in ms), `info`.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use engine::embed::{Precision, SentenceEmbedder, TextKind};

const BATCH: usize = 32;
/// ≈ 20 tokens with MiniLM's tokenizer (checked and printed at run time).
const PROFILE: &str =
    "I love slow science fiction films about lonely astronauts, time travel and moral dilemmas.";
const LATENCY_RUNS: usize = 200;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(default))
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn catalog_texts(path: &PathBuf) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/fetch-demo-data.sh or set SEMREC_BENCH_ITEMS)",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("items.jsonl line");
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            let tags: Vec<String> = v["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            engine::catalog::embedding_text(&s("title"), &s("description"), &tags)
        })
        .collect()
}

/// CPU time (user + system, all threads) this process has used, in seconds. Less
/// sensitive than wall time to other processes competing for the cores.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th
    // and 13th of them, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// One pass over the catalog; `batch` = texts per `embed` call (`None`: all in one).
/// Returns (wall, CPU) seconds.
fn catalog_pass(model: &SentenceEmbedder, refs: &[&str], batch: Option<usize>) -> (f64, f64) {
    let (t, cpu) = (Instant::now(), cpu_seconds());
    for chunk in refs.chunks(batch.unwrap_or(refs.len()).max(1)) {
        std::hint::black_box(model.embed(chunk, TextKind::Passage).unwrap());
    }
    (t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

fn latency_runs(model: &SentenceEmbedder, runs: usize) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(model.embed(&[PROFILE], TextKind::Query).unwrap());
            t.elapsed()
        })
        .collect()
}

/// `--serve`: one JSON line per stdin command (see the module docs).
fn serve(model: &SentenceEmbedder, refs: &[&str], info: serde_json::Value) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let mut words = line.split_whitespace();
        let answer = match words.next() {
            Some(cmd @ ("catalog" | "catalog32")) => {
                let batch = (cmd == "catalog32").then_some(BATCH);
                let (seconds, cpu_seconds) = catalog_pass(model, refs, batch);
                serde_json::json!({ "seconds": seconds, "cpu_seconds": cpu_seconds })
            }
            Some("latency") => {
                let runs = words.next().and_then(|n| n.parse().ok()).unwrap_or(50);
                let ms: Vec<f64> = latency_runs(model, runs)
                    .iter()
                    .map(|d| d.as_secs_f64() * 1e3)
                    .collect();
                serde_json::json!({ "ms": ms })
            }
            Some("info") => {
                let mut info = info.clone();
                info["peak_rss_end_mib"] = peak_rss_mib().into();
                info
            }
            _ => serde_json::json!({ "error": format!("unknown command {line:?}") }),
        };
        println!("{answer}");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() {
    // As the server does: the bench measures what the product serves.
    engine::embed::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
    };
    let model_dir = env_path("SEMREC_MODEL_DIR", "models/all-MiniLM-L6-v2");
    let items = env_path("SEMREC_BENCH_ITEMS", "data/movielens/plots/items.jsonl");
    let rounds: usize = std::env::var("SEMREC_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);

    let texts = catalog_texts(&items);
    if let Some(path) = flag("--dump-texts") {
        std::fs::write(&path, serde_json::to_string(&texts).unwrap()).unwrap();
    }

    let rss_before = peak_rss_mib();
    let started = Instant::now();
    // The server's setting and values: auto (the default), f32, bf16.
    let precision = match std::env::var("SEMREC_EMBED_PRECISION").as_deref() {
        Ok("f32") => Precision::F32,
        Ok("bf16") => Precision::Bf16,
        Ok("auto") | Err(_) => Precision::best_supported(),
        Ok(other) => panic!("SEMREC_EMBED_PRECISION={other}: expected auto, f32 or bf16"),
    };
    let model = SentenceEmbedder::load_with_precision(&model_dir, precision)
        .unwrap_or_else(|e| panic!("{e}"));
    let load_s = started.elapsed().as_secs_f64();
    let rss_loaded = peak_rss_mib();
    let threads = engine::embed::inference_threads();

    let tokens: usize = texts
        .iter()
        .map(|t| model.count_tokens(t, TextKind::Passage).unwrap())
        .sum();
    let profile_tokens = model.count_tokens(PROFILE, TextKind::Query).unwrap();

    // Warm-up: page in the weights, grow the allocator's pools.
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    model
        .embed(&refs[..BATCH.min(refs.len())], TextKind::Passage)
        .unwrap();
    for _ in 0..10 {
        model.embed(&[PROFILE], TextKind::Query).unwrap();
    }

    let n = texts.len() as f64;
    if args.iter().any(|a| a == "--serve") {
        let info = serde_json::json!({
            "implementation": "semrec (candle)",
            "model": model.info().id,
            "precision": precision.as_str(),
            "threads": threads,
            "texts": texts.len(),
            "mean_tokens": tokens as f64 / n,
            "tokens": tokens,
            "profile_tokens": profile_tokens,
            "load_s": load_s,
            "peak_rss_loaded_mib": rss_loaded,
        });
        serve(&model, &refs, info);
        return;
    }

    let (mut best, mut total, mut total32) = (f64::INFINITY, 0.0, 0.0);
    for _ in 0..rounds {
        let (s, _) = catalog_pass(&model, &refs, None);
        best = best.min(s);
        total += s;
        total32 += catalog_pass(&model, &refs, Some(BATCH)).0;
    }
    let mean = total / rounds as f64;
    let mean32 = total32 / rounds as f64;

    let mut lat = latency_runs(&model, LATENCY_RUNS);
    lat.sort();
    let rss_end = peak_rss_mib();

    let report = serde_json::json!({
        "implementation": "semrec (candle)",
        "model": model.info().id,
        "precision": precision.as_str(),
        "threads": threads,
        "texts": texts.len(),
        "mean_tokens": tokens as f64 / n,
        "batch": BATCH,
        "rounds": rounds,
        "texts_per_s": n / mean,
        "texts_per_s_best": n / best,
        "texts_per_s_calls_of_32": n / mean32,
        "tokens_per_s": tokens as f64 / mean,
        "profile_tokens": profile_tokens,
        "latency_p50_ms": percentile(&lat, 0.50),
        "latency_p99_ms": percentile(&lat, 0.99),
        "load_s": load_s,
        "rss_before_load_mib": rss_before,
        "peak_rss_loaded_mib": rss_loaded,
        "peak_rss_end_mib": rss_end,
    });
    println!(
        "model {} ({precision}, {} threads), {} catalog texts, mean {:.0} tokens, batch {BATCH}, {rounds} rounds",
        model.info().id,
        threads,
        texts.len(),
        tokens as f64 / n
    );
    println!(
        "  throughput      {:.1} texts/s (best round {:.1}), {:.0} tokens/s; in calls of {BATCH}: {:.1} texts/s",
        n / mean,
        n / best,
        tokens as f64 / mean,
        n / mean32
    );
    println!(
        "  one profile     p50 {:.1} ms, p99 {:.1} ms ({profile_tokens} tokens, {LATENCY_RUNS} runs)",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99)
    );
    println!(
        "  peak RSS        {rss_loaded:.0} MiB after load ({load_s:.2} s), {rss_end:.0} MiB at the end"
    );
    if let Some(path) = flag("--json") {
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}
