//! Expired sessions of every kind are deleted in the background, so the table
//! holds only live ones however many handles sign in. With several instances on
//! one database, the one holding the job's lease sweeps.

use std::time::Duration;

use engine::leased_job::LeasedJob;
use engine::Engine;

/// How often expired sessions are swept.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);
/// The sweep's job name in `job_leases`.
pub const JOB: &str = "session_sweep";

/// Sweeps at once, then every [`SWEEP_EVERY`], while this process (`holder`)
/// holds the lease (`ttl`); a failed sweep (database down) is logged and tried
/// again at the next round.
pub fn spawn(engine: Engine, holder: &str, ttl: Duration) -> tokio::task::JoinHandle<()> {
    let job = LeasedJob::new(JOB, holder, ttl, SWEEP_EVERY);
    tokio::spawn(async move {
        let store = engine.store.clone();
        job.run_forever(store, || sweep(engine.clone())).await
    })
}

async fn sweep(engine: Engine) {
    match engine.sweep_expired_sessions().await {
        Ok(0) => {}
        Ok(n) => tracing::info!("removed {n} expired sessions"),
        Err(e) => tracing::warn!("sweeping expired sessions: {e}"),
    }
}
