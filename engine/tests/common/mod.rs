//! Test harness: a real throwaway PostgreSQL + pgvector cluster, and the
//! deterministic fake embedder ([`engine()`], [`engine_with()`]) or the real model
//! ([`real_engine()`], [`real_engine_with()`]) for the tests that assert meaning.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use engine::embed::fake::FakeEmbedder;
use engine::embed::{EmbeddingService, SentenceEmbedder};
use engine::postgres_cluster::LocalCluster;
use engine::{Engine, EngineSettings, Store};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn model_dir() -> PathBuf {
    std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/all-MiniLM-L6-v2"))
}

/// The fake embedder (hashed bag of words and trigrams), for tests of the
/// engine's database behaviour that do not depend on what texts mean.
pub fn fake_embedder() -> EmbeddingService {
    static SERVICE: OnceLock<EmbeddingService> = OnceLock::new();
    SERVICE
        .get_or_init(|| EmbeddingService::start(FakeEmbedder::default(), 64, 32))
        .clone()
}

/// The real model, one per test binary (loading it is the slow part).
pub fn real_embedder() -> EmbeddingService {
    static SERVICE: OnceLock<EmbeddingService> = OnceLock::new();
    SERVICE
        .get_or_init(|| {
            let model = SentenceEmbedder::load(&model_dir())
                .unwrap_or_else(|e| panic!("{e}: run scripts/fetch-model.sh first"));
            EmbeddingService::start(model, 64, 32)
        })
        .clone()
}

pub struct TestDb {
    pub engine: Engine,
    /// Kept so the cluster lives as long as the test; stopped on drop.
    pub _cluster: LocalCluster,
}

/// A fresh database and the fake embedder.
pub async fn engine_with(settings: EngineSettings) -> TestDb {
    engine_on(settings, fake_embedder()).await
}

pub async fn engine() -> TestDb {
    engine_with(EngineSettings::default()).await
}

/// A fresh database and the real model: for the tests that assert meaning.
pub async fn real_engine_with(settings: EngineSettings) -> TestDb {
    engine_on(settings, real_embedder()).await
}

pub async fn real_engine() -> TestDb {
    real_engine_with(EngineSettings::default()).await
}

async fn engine_on(settings: EngineSettings, embedder: EmbeddingService) -> TestDb {
    let cluster = LocalCluster::temporary()
        .await
        .expect("temporary PostgreSQL cluster");
    let store = Store::connect(cluster.database_url(), 8)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    TestDb {
        engine: Engine::new(store, embedder, settings),
        _cluster: cluster,
    }
}

pub fn fixture_catalog() -> engine::catalog::ParsedImport {
    let file =
        std::fs::File::open(workspace().join("engine/tests/fixtures/catalog.jsonl")).unwrap();
    engine::catalog::parse_import(
        std::io::BufReader::new(file),
        engine::catalog::ImportFormat::Jsonl,
    )
    .unwrap()
}

/// `n` short valid items with ids `{prefix}0`, `{prefix}1`, … on four topics, as
/// parsed from lines 1..=n.
pub fn note_items(prefix: &str, n: usize) -> engine::catalog::ParsedImport {
    let topics = ["gliders", "sourdough", "chess openings", "tide pools"];
    engine::catalog::ParsedImport {
        items: (0..n)
            .map(|i| {
                let item = engine::catalog::ItemInput {
                    id: format!("{prefix}{i}"),
                    title: format!("Note {i} on {}", topics[i % topics.len()]),
                    ..Default::default()
                }
                .validate()
                .unwrap();
                (i + 1, item)
            })
            .collect(),
        rejected: vec![],
    }
}
