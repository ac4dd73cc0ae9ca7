//! Where the data lives: the operator's PostgreSQL (DATABASE_URL) or a local
//! cluster that semrec starts, owns and stops itself.

use anyhow::{Context, Result};
use engine::postgres_cluster::{ClusterOptions, LocalCluster};
use engine::Store;

use crate::config::Common;

pub struct Database {
    pub store: Store,
    /// Present when semrec runs its own cluster; stopped on shutdown.
    pub cluster: Option<LocalCluster>,
    role: Role,
}

/// What the process opening the database is, for who stops the local cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The web server: it owns the local cluster, even one a crash left running.
    Server,
    /// A CLI command: it stops only a cluster it started, and only when no other
    /// process (a server started meanwhile) is connected.
    Command,
}

impl Database {
    pub async fn open(common: &Common, role: Role) -> Result<Self> {
        let (url, cluster) = match &common.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let data_dir = std::path::absolute(&common.data_dir)
                    .with_context(|| format!("bad data directory {}", common.data_dir.display()))?;
                let bin_dir = std::env::var_os("SEMREC_PG_BIN")
                    .map(Into::into)
                    .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
                let mut cluster = LocalCluster::start(ClusterOptions {
                    data_dir,
                    port: common.pg_port,
                    bin_dir,
                    database: "semrec".into(),
                })
                .await?;
                if role == Role::Server {
                    cluster.adopt();
                }
                (cluster.database_url().to_string(), Some(cluster))
            }
        };
        let store = match Store::connect(&url, 16).await {
            Ok(store) => store,
            Err(e) => {
                if let Some(c) = cluster {
                    let _ = c.stop().await;
                }
                anyhow::bail!("cannot reach PostgreSQL ({e}): check DATABASE_URL and that the server is running");
            }
        };
        if let Err(e) = store.migrate().await {
            if let Some(c) = cluster {
                let _ = c.stop().await;
            }
            return Err(e.into());
        }
        Ok(Self {
            store,
            cluster,
            role,
        })
    }

    pub async fn close(self) {
        self.store.pool().close().await;
        if let Some(cluster) = self.cluster {
            // A command that started the cluster leaves it to a server that came
            // up meanwhile; the server stops it whoever started it.
            if self.role == Role::Command && cluster.has_other_clients().await {
                cluster.leave_running();
            } else if let Err(e) = cluster.stop().await {
                tracing::warn!("stopping the local PostgreSQL: {e}");
            }
        }
    }
}
