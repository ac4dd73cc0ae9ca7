//! Parity of the candle SBERT embedder with sentence-transformers (Python) output.
//!
//! Model folder: `SEMREC_MODEL_DIR`, else `<workspace>/models/all-MiniLM-L6-v2`.
//! Fixture: `SEMREC_REFERENCE_FIXTURE`, else
//! `embed/tests/fixtures/all-MiniLM-L6-v2.reference.jsonl`, written by
//! `scripts/make-reference.py` (sentence-transformers on the same model folder). Its
//! first line names the sha256 of the `model.safetensors` it was made from; a model
//! folder with other weights is refused, since its vectors are not comparable.

use std::path::PathBuf;
use std::sync::OnceLock;

use embed::{Precision, SentenceEmbedder, TextKind};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_dir() -> PathBuf {
    std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models").join("all-MiniLM-L6-v2"))
}

fn fixture_path() -> PathBuf {
    std::env::var_os("SEMREC_REFERENCE_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/all-MiniLM-L6-v2.reference.jsonl")
        })
}

fn load(precision: Precision) -> SentenceEmbedder {
    let dir = model_dir();
    assert!(
        dir.join("model.safetensors").is_file(),
        "model folder {} is missing or incomplete: run scripts/fetch-model.sh \
         (or set SEMREC_MODEL_DIR)",
        dir.display()
    );
    SentenceEmbedder::load_with_precision(&dir, precision)
        .unwrap_or_else(|err| panic!("loading {}: {err}", dir.display()))
}

/// The embedder as the product loads it: the fastest precision this CPU supports.
fn embedder() -> &'static SentenceEmbedder {
    static EMBEDDER: OnceLock<SentenceEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| load(Precision::best_supported()))
}

struct Reference {
    kind: String,
    text: String,
    n_tokens: Option<usize>,
    embedding: Vec<f32>,
}

fn sha256_hex(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes =
        std::fs::read(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    hex::encode(Sha256::digest(&bytes))
}

/// The fixture's first line, `{"meta": {...}}`: what produced the vectors.
fn fixture_model_sha256(first_line: &str, path: &std::path::Path) -> String {
    let v: serde_json::Value = serde_json::from_str(first_line)
        .unwrap_or_else(|err| panic!("fixture {} line 1: {err}", path.display()));
    v["meta"]["model_safetensors_sha256"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "fixture {} has no meta.model_safetensors_sha256 on line 1: \
                 regenerate it with scripts/make-reference.py",
                path.display()
            )
        })
        .to_string()
}

/// Refuses a model folder whose weights are not the ones the fixture was made from.
fn check_fixture_model(first_line: &str, fixture: &std::path::Path, model: &std::path::Path) {
    let want = fixture_model_sha256(first_line, fixture);
    let weights = model.join("model.safetensors");
    let have = sha256_hex(&weights);
    assert_eq!(
        have,
        want,
        "{} is not the model the reference vectors in {} were made from: fetch the \
         expected weights (scripts/fetch-model.sh) or regenerate the fixture for this \
         model (scripts/make-reference.py)",
        weights.display(),
        fixture.display()
    );
}

fn references() -> Vec<Reference> {
    static MODEL_CHECKED: OnceLock<()> = OnceLock::new();
    let path = fixture_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading fixture {}: {err}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let meta = lines.next().unwrap_or("");
    MODEL_CHECKED.get_or_init(|| check_fixture_model(meta, &path, &model_dir()));
    let refs: Vec<Reference> = lines
        .enumerate()
        .map(|(i, line)| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("fixture line {}: {err}", i + 2));
            Reference {
                kind: v["kind"].as_str().unwrap_or("").to_string(),
                text: v["text"].as_str().expect("fixture `text`").to_string(),
                n_tokens: v["n_tokens"].as_u64().map(|n| n as usize),
                embedding: v["embedding"]
                    .as_array()
                    .expect("fixture `embedding`")
                    .iter()
                    .map(|x| x.as_f64().expect("float") as f32)
                    .collect(),
            }
        })
        .collect();
    assert!(!refs.is_empty(), "fixture {} is empty", path.display());
    refs
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (norm(a) * norm(b))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn assert_unit(v: &[f32], what: &str) {
    let e = embedder();
    assert_eq!(v.len(), e.info().dims, "{what}: wrong dims");
    assert!(
        v.iter().all(|x| x.is_finite()),
        "{what}: non-finite component"
    );
    let n = norm(v);
    assert!((n - 1.0).abs() < 1e-4, "{what}: norm {n}, want 1");
}

#[test]
fn model_info_matches_folder() {
    let info = embedder().info();
    assert_eq!(info.id, "all-MiniLM-L6-v2");
    assert_eq!(info.dims, 384);
    assert_eq!(info.max_seq_length, 256);
    assert_eq!(info.query_prefix, "");
    assert_eq!(info.passage_prefix, "");
    let details = embedder().details();
    assert_eq!(details.pooling, embed::Pooling::Mean);
    assert!(details.normalize_module);
}

#[test]
fn every_reference_vector_matches() {
    let e = embedder();
    assert_eq!(e.details().precision, Precision::best_supported());
    check_every_reference(e);
}

/// f32 is the fallback on CPUs without AVX-512 BF16 (and a setting elsewhere):
/// it must hold parity too, wherever these tests run.
#[test]
fn every_reference_vector_matches_in_f32() {
    check_every_reference(&load(Precision::F32));
}

/// bf16 and f32 agree with each other as closely as each agrees with the reference.
#[test]
#[cfg_attr(not(host_avx512bf16), ignore = "needs AVX-512 BF16")]
fn bf16_and_f32_agree() {
    assert!(
        Precision::Bf16.is_supported(),
        "built on a CPU with AVX-512 BF16, running on one without: rebuild the embed crate"
    );
    let (bf16, f32) = (load(Precision::Bf16), load(Precision::F32));
    assert_eq!(bf16.details().precision, Precision::Bf16);
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let a = bf16.embed(&texts, TextKind::Passage).unwrap();
    let b = f32.embed(&texts, TextKind::Passage).unwrap();
    let min_cos = a
        .iter()
        .zip(&b)
        .map(|(x, y)| cosine(x, y))
        .fold(f32::INFINITY, f32::min);
    let max_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| max_abs_diff(x, y))
        .fold(0.0, f32::max);
    println!(
        "bf16 vs f32 on {} texts: min cosine {min_cos:.7}, max abs diff {max_diff:.2e}",
        a.len()
    );
    assert!(min_cos >= 0.9999, "bf16 vs f32: min cosine {min_cos}");
    assert!(
        max_diff > 0.0,
        "bf16 gave exactly the f32 vectors: bf16 not in use"
    );
}

fn check_every_reference(e: &SentenceEmbedder) {
    let precision = e.details().precision;
    let refs = references();
    let mut min_cos = f32::INFINITY;
    let mut max_diff = 0.0f32;
    let mut failures = Vec::new();
    for r in &refs {
        let got = e
            .embed(&[r.text.as_str()], TextKind::Passage)
            .unwrap()
            .remove(0);
        assert_unit(&got, &r.text);
        assert_eq!(got.len(), r.embedding.len(), "dims for {:?}", r.text);
        let cos = cosine(&got, &r.embedding);
        let diff = max_abs_diff(&got, &r.embedding);
        min_cos = min_cos.min(cos);
        max_diff = max_diff.max(diff);
        if cos < 0.9999 {
            failures.push(format!(
                "[{}] {:?}: cosine {cos:.6}, max abs diff {diff:.2e}",
                r.kind, r.text
            ));
        }
    }
    println!(
        "{precision}: {} reference vectors: min cosine {min_cos:.7}, max abs diff {max_diff:.2e}",
        refs.len()
    );
    assert!(
        failures.is_empty(),
        "{precision}: below cosine 0.9999:\n{}",
        failures.join("\n")
    );
}

#[test]
fn token_counts_match_reference() {
    let e = embedder();
    let mut checked = 0;
    for r in references() {
        if let Some(want) = r.n_tokens {
            let got = e.count_tokens(&r.text, TextKind::Passage).unwrap();
            assert_eq!(got, want, "token count for [{}] {:?}", r.kind, r.text);
            assert!(got <= e.info().max_seq_length);
            checked += 1;
        }
    }
    println!("{checked} token counts checked");
}

#[test]
fn batch_equals_one_at_a_time() {
    let e = embedder();
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let batch = e.embed(&texts, TextKind::Passage).unwrap();
    assert_eq!(batch.len(), texts.len());
    let mut worst = 0.0f32;
    for (text, from_batch) in texts.iter().zip(&batch) {
        let single = e.embed(&[text], TextKind::Passage).unwrap().remove(0);
        let diff = max_abs_diff(from_batch, &single);
        assert!(
            diff <= 1e-5,
            "{text:?}: batched vs single max abs diff {diff:.2e}"
        );
        worst = worst.max(diff);
    }
    println!(
        "batch of {} vs one at a time: max abs diff {worst:.2e}",
        texts.len()
    );

    // Order is preserved whatever the lengths: reversing the input reverses the output.
    let reversed: Vec<&str> = texts.iter().rev().copied().collect();
    let rev = e.embed(&reversed, TextKind::Passage).unwrap();
    for (a, b) in rev.iter().rev().zip(&batch) {
        assert!(max_abs_diff(a, b) <= 1e-5);
    }
}

#[test]
fn similar_words_are_closer() {
    let e = embedder();
    let v = e
        .embed(&["aircraft", "plane", "banana"], TextKind::Passage)
        .unwrap();
    let (ap, ab) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
    println!("cos(aircraft, plane) = {ap:.3}, cos(aircraft, banana) = {ab:.3}");
    assert!(
        ap > ab,
        "aircraft/plane {ap} should beat aircraft/banana {ab}"
    );
}

#[test]
fn awkward_texts_give_finite_unit_vectors() {
    let e = embedder();
    let long = "Recommendation engines rank a catalog for each user. ".repeat(400);
    let texts = [
        "",
        " ",
        "   \n\t  ",
        "\u{200b}",
        long.as_str(),
        "🚀✈️🍌🎸",
        "東京は日本の首都です。",
        "Ünïcödé ñ ß Ωμέγα",
    ];
    for kind in [TextKind::Query, TextKind::Passage] {
        let batch = e.embed(&texts, kind).unwrap();
        assert_eq!(batch.len(), texts.len());
        for (t, v) in texts.iter().zip(&batch) {
            assert_unit(v, &format!("{:?}", t.chars().take(20).collect::<String>()));
        }
        assert_eq!(
            e.count_tokens(&long, kind).unwrap(),
            e.info().max_seq_length,
            "long text must be truncated at max_seq_length"
        );
    }
    assert!(e.embed(&[], TextKind::Query).unwrap().is_empty());
}

#[test]
#[should_panic(expected = "is not the model the reference vectors")]
fn fixture_from_other_weights_is_refused() {
    let meta = format!(
        r#"{{"meta": {{"model_safetensors_sha256": "{}"}}}}"#,
        "0".repeat(64)
    );
    check_fixture_model(&meta, &fixture_path(), &model_dir());
}
