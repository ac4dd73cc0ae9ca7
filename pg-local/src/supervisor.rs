//! Keeps the embedded PostgreSQL running for the server: when its postmaster dies
//! (a crash, the OOM killer, a kill -9), the server notices within a second,
//! removes the stale `postmaster.pid`, and starts it again on the same port, with
//! backoff between failed attempts. PostgreSQL recovers from its WAL on that start;
//! the connection pool replaces its broken connections by itself, so requests get
//! 503 while it is down and are served again once it is back.
//!
//! Restarts take the same decision lock as starts and stops
//! ([`crate::lock`]), so a CLI command starting the cluster at the same
//! moment reuses the restarted postmaster instead of racing it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::LocalCluster;
use crate::error::ClusterError;
use crate::lock::DecisionLock;
use crate::postmaster::{leftover_processes, live_postmaster, running_server, start_server};
use crate::runner::Runner;

/// How often the postmaster is looked for (a file read and a readlink).
const CHECK_EVERY: Duration = Duration::from_secs(1);
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(10);

/// What the watch needs to start the postmaster again.
struct Watched {
    data_dir: PathBuf,
    port: u16,
    runner: Runner,
    ephemeral: bool,
    bin_major: String,
}

/// A running watch over a cluster's postmaster; [`Supervisor::stop`] ends it
/// (before the cluster itself is stopped, or the watch would start it again).
pub struct Supervisor {
    stop: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervisor {
    /// Ends the watch and waits until it has (a restart under way finishes first).
    pub async fn stop(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

impl LocalCluster {
    /// Starts watching the postmaster and restarting it when it dies. For the
    /// long-lived server; CLI commands are short and simply fail.
    pub fn supervise(&self) -> Supervisor {
        let watched = Watched {
            data_dir: self.data_dir().to_path_buf(),
            port: self.port(),
            runner: self.runner().clone(),
            ephemeral: self.is_ephemeral(),
            bin_major: self.bin_major().to_owned(),
        };
        let stop = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(watch(watched, stop.clone()));
        Supervisor { stop, task }
    }
}

async fn watch(w: Watched, stop: Arc<tokio::sync::Notify>) {
    loop {
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
        if live_postmaster(&w.data_dir).is_some() {
            continue;
        }
        let died = Instant::now();
        tracing::error!(data_dir = %w.data_dir.display(), "PostgreSQL's postmaster is gone (a crash or a kill?); restarting it");
        let mut wait = FIRST_RETRY;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match restart(&w).await {
                Ok(restarted) => {
                    tracing::warn!(
                        data_dir = %w.data_dir.display(),
                        port = w.port,
                        attempt,
                        secs = died.elapsed().as_secs_f64(),
                        "PostgreSQL is back ({})",
                        if restarted { "restarted; it recovered from its log" } else { "another semrec process restarted it" }
                    );
                    break;
                }
                Err(e) => {
                    tracing::warn!(
                        attempt,
                        retry_in_ms = wait.as_millis() as u64,
                        "PostgreSQL restart failed: {e}"
                    );
                }
            }
            tokio::select! {
                _ = stop.notified() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(MAX_RETRY);
        }
    }
}

/// One attempt; Ok(false) when another process had already restarted it.
async fn restart(w: &Watched) -> Result<bool, ClusterError> {
    let decision = DecisionLock::acquire(&w.data_dir).await?;
    // Removes postmaster.pid if its pid is not a live process in this data dir.
    if let Some(found) = running_server(&w.data_dir) {
        if found.port == w.port {
            return Ok(false);
        }
        return Err(ClusterError::RunningOnAnotherPort {
            data_dir: w.data_dir.clone(),
            running: found.port,
            wanted: w.port,
        });
    }
    let leftovers = leftover_processes(&w.data_dir);
    if !leftovers.is_empty() {
        // They exit once they notice the postmaster is gone; until then a new
        // postmaster refuses to start (their shared memory is still attached).
        return Err(ClusterError::StartFailed {
            log_tail: format!(
                "{} processes of the dead postmaster still run (pids {leftovers:?}); waiting for them to exit",
                leftovers.len()
            ),
        });
    }
    start_server(
        &w.runner,
        &w.data_dir,
        w.port,
        false,
        w.ephemeral,
        &w.bin_major,
    )
    .await?;
    decision.record_started(live_postmaster(&w.data_dir).map(|s| s.pid));
    Ok(true)
}
