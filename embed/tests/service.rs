//! The async EmbeddingService: coalescing, correctness under concurrency, Busy.
//!
//! Model folder: `SEMREC_MODEL_DIR`, else `<workspace>/models/all-MiniLM-L6-v2`.

use std::path::PathBuf;

use embed::{EmbedError, EmbeddingService, SentenceEmbedder, TextKind};

fn model_dir() -> PathBuf {
    std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2")
        })
}

fn load() -> SentenceEmbedder {
    let dir = model_dir();
    assert!(
        dir.join("model.safetensors").is_file(),
        "model folder {} is missing or incomplete: run scripts/fetch-model.sh \
         (or set SEMREC_MODEL_DIR)",
        dir.display()
    );
    SentenceEmbedder::load(&dir).unwrap_or_else(|err| panic!("loading {}: {err}", dir.display()))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Distinct texts of varied length, so coalesced batches need padding.
fn text(i: usize) -> String {
    let words = [
        "jazz",
        "hiking",
        "the",
        "history",
        "of",
        "aircraft",
        "cooking",
        "pastry",
        "vinyl",
        "mountains",
        "python",
        "learning",
        "photography",
        "Rome",
        "concerts",
    ];
    let n = 1 + (i * 7) % 40;
    (0..n)
        .map(|k| words[(i * 13 + k * 5) % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
        + &format!(" #{i}")
}

fn kind(i: usize) -> TextKind {
    match i % 2 {
        0 => TextKind::Query,
        _ => TextKind::Passage,
    }
}

/// Request `i` carries 1–3 texts.
fn request(i: usize) -> Vec<String> {
    (0..1 + i % 3).map(|k| text(i * 3 + k)).collect()
}

fn direct(embedder: &SentenceEmbedder, i: usize) -> Vec<Vec<f32>> {
    let texts = request(i);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    embedder.embed(&refs, kind(i)).unwrap()
}

fn assert_same(got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: vector count");
    for (g, w) in got.iter().zip(want) {
        let diff = max_abs_diff(g, w);
        assert!(
            diff <= 1e-5,
            "{what}: max abs diff {diff:.2e} vs direct embedding"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_all_answered_correctly() {
    let reference = load();
    let service = EmbeddingService::start(load(), 64, 16);
    assert_eq!(service.info(), reference.info());

    let n = 40;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let service = service.clone();
        tasks.spawn(async move { (i, service.embed(request(i), kind(i)).await) });
    }
    let mut answered = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.unwrap();
        let got = result.unwrap_or_else(|err| panic!("request {i}: {err}"));
        assert_same(&got, &direct(&reference, i), &format!("request {i}"));
        answered += 1;
    }
    assert_eq!(answered, n);

    let one = service
        .embed_one("aircraft".into(), TextKind::Passage)
        .await
        .unwrap();
    assert_same(
        &[one],
        &reference.embed(&["aircraft"], TextKind::Passage).unwrap(),
        "embed_one",
    );
    assert!(service
        .embed(Vec::new(), TextKind::Query)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_busy_and_everything_else_is_correct() {
    let reference = load();
    let service = EmbeddingService::start(load(), 1, 4);

    // Burst: every try_send happens back to back, far faster than one forward pass,
    // so a capacity-1 queue must overflow. Then a paced flood (one request per 10 ms,
    // slower than the queue fills but faster than the worker drains it): some
    // requests get through while the worker is busy, others are refused.
    let burst = 30;
    let paced = 40;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..burst {
        let service = service.clone();
        tasks.spawn(async move { (i, service.embed(request(i), kind(i)).await) });
    }
    for i in burst..burst + paced {
        let service = service.clone();
        tasks.spawn(async move { (i, service.embed(request(i), kind(i)).await) });
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (mut ok, mut busy) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            (i, Ok(got)) => {
                assert_same(&got, &direct(&reference, i), &format!("request {i}"));
                ok += 1;
            }
            (_, Err(EmbedError::Busy)) => busy += 1,
            (i, Err(other)) => panic!("request {i}: unexpected error {other}"),
        }
    }
    println!(
        "flood of {}: {ok} answered correctly, {busy} busy",
        burst + paced
    );
    assert!(busy > 0, "a capacity-1 queue never reported Busy");
    assert!(ok >= 2, "only {ok} request(s) answered during the flood");
    assert_eq!(ok + busy, burst + paced);
    // The counters /metrics exports agree with what the callers saw.
    let stats = service.stats();
    assert_eq!(stats.refused, busy as u64);
    assert_eq!(stats.queued, 0);
    assert!(
        stats.batches >= 1 && stats.batches <= ok as u64,
        "{stats:?}"
    );

    // Once the flood is over, the service works normally again.
    let got = service.embed(request(0), kind(0)).await.unwrap();
    assert_same(&got, &direct(&reference, 0), "after the flood");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_requests_wait_for_room_instead_of_failing() {
    let reference = load();
    let service = EmbeddingService::start(load(), 1, 4);
    // The same burst that overflows a capacity-1 queue for `embed` (test above):
    // every request is answered, correctly.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let service = service.clone();
        tasks.spawn(async move { (i, service.embed_when_free(request(i), kind(i)).await) });
    }
    let mut answered = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, got) = joined.unwrap();
        let got = got.unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_same(&got, &direct(&reference, i), &format!("request {i}"));
        answered += 1;
    }
    assert_eq!(answered, 20);
}
