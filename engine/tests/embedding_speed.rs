//! Rough throughput check (ignored by default; timings are noisy on shared cores):
//! `cargo test -p engine --test embedding_speed -- --ignored --nocapture`
//!
//! Model folder: `SEMREC_MODEL_DIR`, else `<workspace>/models/all-MiniLM-L6-v2`.

use std::path::PathBuf;
use std::time::Instant;

use engine::embed::{SentenceEmbedder, TextKind};

fn model_dir() -> PathBuf {
    std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2")
        })
}

/// A deterministic plot-like text of roughly `words` words.
fn plot(seed: usize, words: usize) -> String {
    const VOCAB: [&str; 24] = [
        "a",
        "young",
        "pilot",
        "discovers",
        "that",
        "her",
        "family",
        "hides",
        "secret",
        "about",
        "the",
        "war",
        "while",
        "detective",
        "investigates",
        "murder",
        "in",
        "small",
        "town",
        "and",
        "falls",
        "love",
        "with",
        "stranger",
    ];
    let mut state = (seed as u64).wrapping_mul(6364136223846793005) ^ 1442695040888963407;
    let mut out = Vec::with_capacity(words);
    for i in 0..words {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push(VOCAB[(state >> 33) as usize % VOCAB.len()]);
        if i % 12 == 11 {
            out.push(".");
        }
    }
    out.join(" ")
}

#[test]
#[ignore = "timing only; run with --ignored --nocapture"]
fn batch_of_32_texts_of_about_200_tokens() {
    let dir = model_dir();
    assert!(
        dir.join("model.safetensors").is_file(),
        "model folder {} is missing: run scripts/fetch-model.sh",
        dir.display()
    );
    let e = SentenceEmbedder::load(&dir).unwrap();
    let texts: Vec<String> = (0..32).map(|i| plot(i, 170 + i % 40)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens: usize = refs
        .iter()
        .map(|t| e.count_tokens(t, TextKind::Passage).unwrap())
        .sum();
    e.embed(&refs[..2], TextKind::Passage).unwrap(); // warm-up
    let mut best = f64::INFINITY;
    for run in 0..3 {
        let started = Instant::now();
        let v = e.embed(&refs, TextKind::Passage).unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(v.len(), 32);
        println!(
            "run {run}: 32 texts ({} tokens on average) in {secs:.2} s",
            tokens / 32
        );
        best = best.min(secs);
    }
    println!(
        "best: {best:.2} s per batch of 32 = {:.1} texts/s",
        32.0 / best
    );
}
