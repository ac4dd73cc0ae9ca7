//! The cluster handle: what a process holds while it uses a local cluster.

use std::path::{Path, PathBuf};

use crate::error::ClusterError;
use crate::lock::UseLock;
use crate::options::{ClusterOptions, NO_TEMPLATE_ENV};
use crate::runner::Runner;
use crate::template::{copy_template, make_temp_root};

/// A running PostgreSQL cluster this process uses (and may share with other semrec
/// processes: [`crate::lock`]).
///
/// Stop it with [`LocalCluster::stop`]; dropping it stops it too (synchronously, best
/// effort). Either stops the postmaster only when no other semrec process uses it
/// and a semrec process started it. A temporary cluster's directory is deleted
/// when it stops.
#[derive(Debug)]
pub struct LocalCluster {
    pub(crate) data_dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) database: String,
    pub(crate) password: String,
    pub(crate) url: String,
    pub(crate) runner: Runner,
    /// For temporary clusters: the directory to delete after stopping.
    pub(crate) temp_root: Option<PathBuf>,
    pub(crate) stopped: bool,
    /// This process's claim on the cluster, held while it uses it.
    pub(crate) claim: Option<UseLock>,
    /// Throwaway (test) cluster settings: no fsync.
    pub(crate) ephemeral: bool,
    /// Major version of the server programs, for the log when (re)starting.
    pub(crate) bin_major: String,
}

impl LocalCluster {
    /// Starts (initialising on first use) the cluster in `opts.data_dir`, waits until it
    /// accepts connections, creates `opts.database` if missing and runs
    /// `CREATE EXTENSION IF NOT EXISTS vector` in it.
    ///
    /// If a cluster is already running in `opts.data_dir` (the web server's, while a
    /// CLI command runs, or one a crashed semrec left) it is reused when it listens on
    /// the requested port (or `opts.port` is 0); on another port it is restarted,
    /// unless another semrec process uses it ([`ClusterError::RunningOnAnotherPort`]).
    /// Concurrent starts in several processes wait for each other: one starts the
    /// postmaster, the others reuse it.
    pub async fn start(opts: ClusterOptions) -> Result<Self, ClusterError> {
        Self::start_inner(opts, None).await
    }

    /// A fresh cluster in a new temp directory (under `$TMPDIR` or `/tmp`) on a free
    /// port, tuned for speed (fsync off). Database `semrec`. Deleted when stopped or
    /// dropped.
    pub async fn temporary() -> Result<Self, ClusterError> {
        let runner = Runner::new(ClusterOptions::default_bin_dir())?;
        let root = make_temp_root(&runner).await?;
        let data_dir = root.join("data");
        if std::env::var_os(NO_TEMPLATE_ENV).is_none_or(|v| v.is_empty()) {
            if let Err(e) = copy_template(&runner, &root, &data_dir).await {
                tracing::warn!(error = %e, "could not use the cached initdb template; running initdb");
                let _ = std::fs::remove_dir_all(&data_dir);
            }
        }
        let mut opts = ClusterOptions::new(data_dir);
        opts.bin_dir = runner.bin_dir.clone();
        match Self::start_inner(opts, Some(root.clone())).await {
            Ok(c) => Ok(c),
            Err(e) => {
                // Once the cluster value exists its Drop cleans up; before that we do.
                if root.exists() {
                    let _ = std::fs::remove_dir_all(&root);
                }
                Err(e)
            }
        }
    }

    /// `postgres://semrec:PASSWORD@127.0.0.1:PORT/DATABASE`
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// The TCP port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database named in [`LocalCluster::database_url`].
    pub fn database(&self) -> &str {
        &self.database
    }

    pub(crate) fn runner(&self) -> &Runner {
        &self.runner
    }

    pub(crate) fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    pub(crate) fn bin_major(&self) -> &str {
        &self.bin_major
    }

    /// URL of another database in the same cluster (as the same superuser).
    pub fn database_url_for(&self, database: &str) -> String {
        crate::database::make_url(&self.password, self.port, database)
    }

    /// Lets go of the cluster without stopping it, and of this process's claim on
    /// it, as a process that died would (for tests of what the next one finds).
    #[doc(hidden)]
    pub fn abandon(mut self) {
        self.stopped = true;
        self.claim = None;
        self.temp_root = None;
    }
}
