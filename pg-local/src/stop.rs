//! Stopping a cluster: only by the last semrec process using it, and only a
//! postmaster a semrec process started.

use std::process::Output;
use std::time::Instant;

use crate::cluster::LocalCluster;
use crate::error::{io_err, one_line, ClusterError};
use crate::lock::{DecisionLock, UseLock};
use crate::postmaster::running_server;
use crate::runner::output_text;

impl LocalCluster {
    /// Fast, clean shutdown (`pg_ctl stop -m fast`), waiting until the server is
    /// gone, when this is the last semrec process using the cluster and a semrec
    /// process started it; otherwise it is left running. A temporary cluster's
    /// directory is deleted afterwards.
    pub async fn stop(mut self) -> Result<(), ClusterError> {
        self.stopped = true;
        let decision = DecisionLock::acquire(&self.data_dir).await?;
        let result = match self.reason_to_leave(&decision) {
            Some(reason) => {
                tracing::info!(data_dir = %self.data_dir.display(), "leaving PostgreSQL running: {reason}");
                Ok(())
            }
            None => {
                let started = Instant::now();
                let out = self
                    .runner
                    .pg_ctl_stop_async(&self.data_dir)
                    .await
                    .map_err(io_err("could not run pg_ctl stop"))?;
                self.stopped_by(&decision, &out, started)
            }
        };
        drop(decision);
        if let Some(root) = self.temp_root.take() {
            let remove = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&root))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            if let Err(e) = remove {
                tracing::warn!(error = %e, "could not remove the temporary cluster's directory");
            }
        }
        result
    }

    /// Ends this process's claim; why the postmaster must keep running, if it must.
    /// Call it under the decision lock.
    fn reason_to_leave(&mut self, decision: &DecisionLock) -> Option<&'static str> {
        if !self.claim.take().is_none_or(UseLock::release_last) {
            return Some("another semrec process still uses it");
        }
        match running_server(&self.data_dir) {
            None => Some("it is not running any more"),
            Some(s) if decision.started_postmaster() != Some(s.pid) => {
                Some("semrec did not start it (started by hand?)")
            }
            Some(_) => None,
        }
    }

    /// Checks a `pg_ctl stop`'s outcome and records that no postmaster runs.
    fn stopped_by(
        &self,
        decision: &DecisionLock,
        out: &Output,
        started: Instant,
    ) -> Result<(), ClusterError> {
        if !out.status.success() && running_server(&self.data_dir).is_some() {
            return Err(ClusterError::Io {
                context: format!(
                    "pg_ctl stop failed for {}: {}",
                    self.data_dir.display(),
                    one_line(&output_text(out))
                ),
                source: std::io::Error::other("server still running"),
            });
        }
        decision.record_started(None);
        tracing::info!(
            data_dir = %self.data_dir.display(),
            port = self.port,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "PostgreSQL stopped"
        );
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        match DecisionLock::acquire_blocking(&self.data_dir) {
            Ok(decision) => match self.reason_to_leave(&decision) {
                Some(reason) => {
                    tracing::info!(data_dir = %self.data_dir.display(), "leaving PostgreSQL running (dropped): {reason}")
                }
                None => {
                    let started = Instant::now();
                    match self.runner.pg_ctl_stop_blocking(&self.data_dir) {
                        Ok(out) => {
                            if let Err(e) = self.stopped_by(&decision, &out, started) {
                                tracing::warn!("while dropping the cluster: {e}");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not run pg_ctl stop while dropping the cluster")
                        }
                    }
                }
            },
            Err(e) => tracing::warn!("not stopping PostgreSQL while dropping the cluster: {e}"),
        }
        if let Some(root) = self.temp_root.take() {
            if let Err(e) = std::fs::remove_dir_all(&root) {
                tracing::warn!(error = %e, dir = %root.display(), "could not remove the temporary cluster's directory");
            }
        }
    }
}
