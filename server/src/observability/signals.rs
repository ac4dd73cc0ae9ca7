//! The interaction rate and the drift signals for `/metrics`, computed by the
//! same engine function as the dashboard's drift panel (`Engine::drift_state`)
//! and cached: a scrape storm runs those queries at most once per `ttl`, one
//! scrape at a time, each refresh bounded by a timeout.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use engine::drift::{DriftSignal, DriftState};
use engine::Engine;

/// How long a computed snapshot is served before the next scrape recomputes it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// A refresh that takes longer is abandoned; the previous values stay.
const REFRESH_WITHIN: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Signals {
    engine: Engine,
    ttl: Duration,
    /// Held while refreshing: concurrent scrapes wait for one refresh.
    refreshing: Arc<tokio::sync::Mutex<Option<Instant>>>,
    current: Arc<RwLock<Option<DriftState>>>,
    failures: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Signals {
    pub fn new(engine: Engine, ttl: Duration) -> Self {
        Self {
            engine,
            ttl,
            refreshing: Arc::default(),
            current: Arc::default(),
            failures: Arc::default(),
        }
    }

    /// Recomputes the snapshot when it is older than the ttl (or missing).
    pub async fn refresh_if_stale(&self) {
        let mut last = self.refreshing.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.ttl) {
            return;
        }
        let drift = &self.engine.settings.drift;
        let computed = tokio::time::timeout(
            REFRESH_WITHIN,
            self.engine
                .drift_state(chrono::Utc::now(), drift.recent_days, drift.reference_days),
        )
        .await;
        match computed {
            Ok(Ok(state)) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(state);
            }
            Ok(Err(e)) => {
                self.failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!("computing the drift signals for /metrics: {e}");
            }
            Err(_) => {
                self.failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    "computing the drift signals for /metrics took over {} s; the previous values stay",
                    REFRESH_WITHIN.as_secs()
                );
            }
        }
        // A failure waits for the ttl too: a down database is not asked at every scrape.
        *last = Some(Instant::now());
    }

    /// Reads a value of the current snapshot; NaN when there is none (or no data).
    pub fn read(&self, f: impl Fn(&DriftState) -> Option<f64>) -> f64 {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(f)
            .unwrap_or(f64::NAN)
    }

    /// Seconds since the snapshot was computed (NaN before the first).
    pub fn age_seconds(&self) -> f64 {
        self.read(|s| Some((chrono::Utc::now() - s.now).num_milliseconds() as f64 / 1000.0))
    }

    /// Refreshes that failed or timed out since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Whether `state` raises an alert for `signal` (1) or not (0).
pub fn alert(state: &DriftState, signal: DriftSignal) -> f64 {
    f64::from(u8::from(state.alerts.iter().any(|a| a.signal == signal)))
}
