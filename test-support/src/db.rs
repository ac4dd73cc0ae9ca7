//! An engine over a real throwaway PostgreSQL + pgvector cluster, with the fake
//! embedder ([`engine`], [`engine_with`]) or the real model ([`real_engine`],
//! [`real_engine_with`], [`connect`], [`connect_with`]) for tests that assert meaning.

use engine::embed::EmbeddingService;
use engine::{Engine, EngineSettings, Store};
use pg_local::LocalCluster;

pub struct TestDb {
    pub engine: Engine,
    /// Kept so the cluster lives as long as the test; stopped on drop.
    pub _cluster: LocalCluster,
}

/// A new temporary cluster (stopped and deleted on drop).
pub async fn cluster() -> LocalCluster {
    LocalCluster::temporary()
        .await
        .expect("temporary PostgreSQL cluster")
}

/// A migrated store on `cluster` and an engine with the shared model and default settings.
pub async fn connect(cluster: &LocalCluster) -> Engine {
    connect_with(cluster, EngineSettings::default()).await
}

/// The same with these settings.
pub async fn connect_with(cluster: &LocalCluster, settings: EngineSettings) -> Engine {
    connect_on(cluster, settings, crate::model::embedder()).await
}

async fn connect_on(
    cluster: &LocalCluster,
    settings: EngineSettings,
    embedder: EmbeddingService,
) -> Engine {
    let store = Store::connect(cluster.database_url(), 8)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Engine::new(store, embedder, settings)
}

/// An engine with these settings and the fake embedder over its own temporary cluster.
pub async fn engine_with(settings: EngineSettings) -> TestDb {
    engine_on(settings, crate::model::fake_embedder()).await
}

/// An engine with default settings and the fake embedder over its own temporary cluster.
pub async fn engine() -> TestDb {
    engine_with(EngineSettings::default()).await
}

/// An engine with these settings and the real model over its own temporary cluster.
pub async fn real_engine_with(settings: EngineSettings) -> TestDb {
    engine_on(settings, crate::model::embedder()).await
}

/// An engine with default settings and the real model over its own temporary cluster.
pub async fn real_engine() -> TestDb {
    real_engine_with(EngineSettings::default()).await
}

/// An engine with these settings and this embedder over its own temporary cluster.
pub async fn engine_on(settings: EngineSettings, embedder: EmbeddingService) -> TestDb {
    let cluster = cluster().await;
    TestDb {
        engine: connect_on(&cluster, settings, embedder).await,
        _cluster: cluster,
    }
}
