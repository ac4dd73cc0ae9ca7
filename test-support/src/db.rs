//! An engine over a real throwaway PostgreSQL + pgvector cluster.

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
    let store = Store::connect(cluster.database_url(), 8)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Engine::new(store, crate::model::embedder(), settings)
}

/// An engine with these settings over its own temporary cluster.
pub async fn engine_with(settings: EngineSettings) -> TestDb {
    let cluster = cluster().await;
    TestDb {
        engine: connect_with(&cluster, settings).await,
        _cluster: cluster,
    }
}

/// An engine with default settings over its own temporary cluster.
pub async fn engine() -> TestDb {
    engine_with(EngineSettings::default()).await
}
