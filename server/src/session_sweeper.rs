//! Expired sessions of every kind are deleted in the background, so the table
//! holds only live ones however many handles sign in.

use std::time::Duration;

use engine::Engine;

/// How often expired sessions are swept.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// Sweeps at once, then every [`SWEEP_EVERY`]; a failed sweep (database down) is
/// logged and tried again at the next tick.
pub fn spawn(engine: Engine) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match engine.sweep_expired_sessions().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} expired sessions"),
                Err(e) => tracing::warn!("sweeping expired sessions: {e}"),
            }
        }
    })
}
