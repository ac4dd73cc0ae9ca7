//! Where the data lives: the operator's PostgreSQL (DATABASE_URL) or a local
//! cluster that semrec starts, owns and stops itself.

use anyhow::{Context, Result};
use engine::store::StoreOptions;
use engine::Store;
use pg_local::Supervisor;
use pg_local::{ClusterOptions, LocalCluster};

use crate::config::Common;

pub struct Database {
    pub store: Store,
    /// Present when semrec runs its own cluster; stopped on shutdown (unless
    /// another semrec process still uses it).
    pub cluster: Option<LocalCluster>,
    /// The server's watch that restarts the cluster's postmaster when it dies.
    supervisor: Option<Supervisor>,
}

/// What the process opening the database is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The web server, one of `instances` on this database: it checks that
    /// `max_connections` holds all their pools, and restarts the local cluster's
    /// postmaster when it dies.
    Server { instances: u32 },
    /// A CLI command: short-lived, it just fails if the database goes away.
    Command,
}

impl Database {
    pub async fn open(common: &Common, role: Role, pools: &StoreOptions) -> Result<Self> {
        let (url, cluster) = match &common.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let data_dir = std::path::absolute(&common.data_dir)
                    .with_context(|| format!("bad data directory {}", common.data_dir.display()))?;
                let cluster = LocalCluster::start(ClusterOptions {
                    port: common.pg_port,
                    ..ClusterOptions::new(data_dir)
                })
                .await?;
                (cluster.database_url().to_string(), Some(cluster))
            }
        };
        let store = match Store::connect_with(&url, pools).await {
            Ok(store) => store,
            Err(e) => {
                if let Some(c) = cluster {
                    let _ = c.stop().await;
                }
                anyhow::bail!("cannot reach PostgreSQL ({e}): check DATABASE_URL and that the server is running");
            }
        };
        let checked = match role {
            Role::Server { instances } => {
                crate::db_pool::check_connection_limit(&store, pools, instances).await
            }
            Role::Command => Ok(()),
        };
        let ready = match checked {
            Ok(()) => store.migrate().await.map_err(Into::into),
            Err(e) => Err(e),
        };
        if let Err(e) = ready {
            store.close().await;
            if let Some(c) = cluster {
                let _ = c.stop().await;
            }
            return Err(e);
        }
        let supervisor = match (&cluster, role) {
            (Some(c), Role::Server { .. }) => Some(c.supervise()),
            _ => None,
        };
        Ok(Self {
            store,
            cluster,
            supervisor,
        })
    }

    pub async fn close(self) {
        self.close_within(None).await;
    }

    /// Closes the pools, waiting at most `within` for connections still in use,
    /// then stops the local cluster: a task still holding a connection must not
    /// keep PostgreSQL running after the server exits.
    pub async fn close_within(self, within: Option<std::time::Duration>) {
        // The watch first, or it would start the cluster again.
        if let Some(supervisor) = self.supervisor {
            supervisor.stop().await;
        }
        match within {
            None => self.store.close().await,
            Some(within) => {
                if tokio::time::timeout(within, self.store.close())
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        "the database pool did not close within {} s; stopping PostgreSQL anyway",
                        within.as_secs()
                    );
                }
            }
        }
        if let Some(cluster) = self.cluster {
            // Left running while another semrec process (a server, a command)
            // still uses it; the last one out stops it.
            if let Err(e) = cluster.stop().await {
                tracing::warn!("stopping the local PostgreSQL: {e}");
            }
        }
    }
}
