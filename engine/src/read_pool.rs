//! Reads that may be served by a streaming replica (`DATABASE_READ_URL`):
//! candidate scans, facets and dashboard metrics. Everything else, and every
//! read that must see the request's own writes, uses the primary.
//!
//! A timer measures each replica's lag in bytes of WAL: the primary's
//! `pg_current_wal_lsn()` against the replica's `pg_last_wal_replay_lsn()`.
//! (Replay timestamps go stale on an idle primary: nothing to replay looks like
//! falling behind.) A replica lagging by more than the bound, or not answering,
//! is skipped until a later check finds it caught up; with none usable, reads
//! go to the primary. A statement a replica cancels because of a recovery
//! conflict, or one that fails because the replica went away, is run again on
//! the primary.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;

use crate::error::{EngineError, Result};
use crate::Engine;

/// Default of `SEMREC_REPLICA_MAX_LAG_BYTES`: 16 MiB of WAL (one WAL segment is 16 MiB).
pub const DEFAULT_MAX_LAG_BYTES: u64 = 16 * 1024 * 1024;
/// How often the replicas' lag is measured.
pub const LAG_CHECK_INTERVAL: Duration = Duration::from_millis(1000);
/// A lag check that takes longer counts as a dead replica.
const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

/// What the last check found out about a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not checked yet: not used until a check says it is caught up.
    Unknown,
    /// Answered, this many bytes of WAL behind the primary.
    Lag(u64),
    /// Did not answer the check, or a read on it failed with a connection error.
    Down,
}

/// Why a read went to the primary although replicas are configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// No replica was usable (every one lagging, down or unchecked).
    NoneUsable,
    /// The replica cancelled the statement (recovery conflict, SQLSTATE 40001).
    Conflict,
    /// The replica's connection failed during the read.
    Failed,
}

impl Fallback {
    pub const ALL: [Fallback; 3] = [Fallback::NoneUsable, Fallback::Conflict, Fallback::Failed];

    pub fn label(self) -> &'static str {
        match self {
            Fallback::NoneUsable => "no_replica_usable",
            Fallback::Conflict => "recovery_conflict",
            Fallback::Failed => "replica_failed",
        }
    }
}

/// The replica to read from: the first usable one at or after `start`
/// (round robin over the usable ones), or `None` for the primary.
pub fn choose(health: &[Health], max_lag_bytes: u64, start: usize) -> Option<usize> {
    let n = health.len();
    (0..n)
        .map(|i| (start + i) % n)
        .find(|&i| matches!(health[i], Health::Lag(lag) if lag <= max_lag_bytes))
}

/// How a read on a replica failed, when running it again on the primary helps.
pub fn retry_reason(e: &EngineError) -> Option<Fallback> {
    let sqlx_error = match e {
        EngineError::Database(e) => Some(e),
        EngineError::Unavailable {
            source: Some(s), ..
        } => s.downcast_ref::<sqlx::Error>(),
        _ => None,
    }?;
    match sqlx_error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            Some(Fallback::Failed)
        }
        sqlx::Error::Database(db) => retry_reason_for_code(&db.code()?),
        _ => None,
    }
}

/// [`retry_reason`] of a statement the replica refused with SQLSTATE `code`.
fn retry_reason_for_code(code: &str) -> Option<Fallback> {
    match code {
        // "canceling statement due to conflict with recovery"; 40P01 the same for
        // a buffer-pin deadlock on a standby.
        "40001" | "40P01" => Some(Fallback::Conflict),
        // Shut down, crashed, starting; class 08: connection exceptions.
        "57P01" | "57P02" | "57P03" => Some(Fallback::Failed),
        c if c.starts_with("08") => Some(Fallback::Failed),
        _ => None,
    }
}

/// One replica: its pool and what the last check found.
#[derive(Debug)]
struct Replica {
    /// `host:port/database`, without user or password: for logs and metric labels.
    name: String,
    pool: PgPool,
    health: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Counters {
    replica_reads: AtomicU64,
    primary_reads: AtomicU64,
    fallbacks: [AtomicU64; 3],
}

#[derive(Debug)]
struct Inner {
    primary: PgPool,
    replicas: Vec<Replica>,
    max_lag_bytes: u64,
    next: AtomicUsize,
    counters: Counters,
}

/// The primary's request pool and the replicas' pools, with the choice between them.
#[derive(Clone, Debug)]
pub struct ReadPool(Arc<Inner>);

/// A replica as the metrics show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub name: String,
    pub health: Health,
}

/// The replica's `host:port/database`.
pub fn replica_name(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

impl ReadPool {
    /// Reads on the primary only.
    pub fn primary_only(primary: PgPool) -> Self {
        Self::new(primary, Vec::new(), DEFAULT_MAX_LAG_BYTES)
    }

    /// `replicas` as (name, pool); none is used before its first lag check.
    pub fn new(primary: PgPool, replicas: Vec<(String, PgPool)>, max_lag_bytes: u64) -> Self {
        let replicas = replicas
            .into_iter()
            .map(|(name, pool)| Replica {
                name,
                pool,
                health: Mutex::new(Health::Unknown),
            })
            .collect();
        Self(Arc::new(Inner {
            primary,
            replicas,
            max_lag_bytes,
            next: AtomicUsize::new(0),
            counters: Counters::default(),
        }))
    }

    pub fn has_replicas(&self) -> bool {
        !self.0.replicas.is_empty()
    }

    pub fn max_lag_bytes(&self) -> u64 {
        self.0.max_lag_bytes
    }

    fn health(&self) -> Vec<Health> {
        self.0
            .replicas
            .iter()
            .map(|r| *r.health.lock().unwrap_or_else(|p| p.into_inner()))
            .collect()
    }

    /// The replica a read should use now, or `None` for the primary.
    fn pick(&self) -> Option<usize> {
        if self.0.replicas.is_empty() {
            return None;
        }
        let start = self.0.next.fetch_add(1, Ordering::Relaxed);
        choose(&self.health(), self.0.max_lag_bytes, start)
    }

    /// Runs `read` on a usable replica, or on the primary; a replica's recovery
    /// conflict or connection failure runs it again on the primary.
    pub async fn run<T, F, Fut>(&self, read: F) -> Result<T>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let c = &self.0.counters;
        let Some(i) = self.pick() else {
            if self.has_replicas() {
                self.count(Fallback::NoneUsable);
            }
            c.primary_reads.fetch_add(1, Ordering::Relaxed);
            return read(self.0.primary.clone()).await;
        };
        let replica = &self.0.replicas[i];
        match read(replica.pool.clone()).await {
            Err(e) => match retry_reason(&e) {
                Some(reason) => {
                    if reason == Fallback::Failed {
                        self.set_health(i, Health::Down);
                    }
                    tracing::warn!(replica = %replica.name, error = %e, "a read on the replica failed; running it again on the primary");
                    self.count(reason);
                    c.primary_reads.fetch_add(1, Ordering::Relaxed);
                    read(self.0.primary.clone()).await
                }
                None => Err(e),
            },
            ok => {
                c.replica_reads.fetch_add(1, Ordering::Relaxed);
                ok
            }
        }
    }

    fn count(&self, reason: Fallback) {
        let i = Fallback::ALL.iter().position(|&f| f == reason).unwrap_or(0);
        self.0.counters.fallbacks[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Records a check's finding, with a log line when the replica stops or
    /// starts serving reads.
    fn set_health(&self, i: usize, new: Health) {
        let replica = &self.0.replicas[i];
        let old = std::mem::replace(
            &mut *replica.health.lock().unwrap_or_else(|p| p.into_inner()),
            new,
        );
        let max = self.0.max_lag_bytes;
        // Usable, lagging, down: a log line when a replica moves between them.
        let state = |h: Health| match h {
            Health::Lag(l) if l <= max => 0,
            Health::Lag(_) => 1,
            Health::Down => 2,
            Health::Unknown => 3,
        };
        if state(old) == state(new) {
            return;
        }
        match new {
            Health::Lag(lag) if lag <= max => {
                tracing::info!(replica = %replica.name, lag_bytes = lag, "replica caught up: serving reads")
            }
            Health::Lag(lag) => {
                tracing::warn!(replica = %replica.name, lag_bytes = lag, max_lag_bytes = max, "replica lags behind the primary by more than SEMREC_REPLICA_MAX_LAG_BYTES: reads go to the primary until it catches up")
            }
            _ => {
                tracing::warn!(replica = %replica.name, "replica does not answer: reads go to the primary until it does")
            }
        }
    }

    /// Measures every replica's lag once.
    pub async fn check_lag(&self) {
        let primary: std::result::Result<String, sqlx::Error> =
            sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
                .fetch_one(&self.0.primary)
                .await;
        let primary = match primary {
            Ok(lsn) => lsn,
            // Without the primary's position there is nothing to compare with.
            Err(e) => {
                tracing::debug!(error = %e, "replica lag check: the primary did not answer");
                return;
            }
        };
        for (i, replica) in self.0.replicas.iter().enumerate() {
            // A standby's replay position; a server not in recovery has none (lag 0).
            let lag = tokio::time::timeout(
                CHECK_TIMEOUT,
                sqlx::query_scalar::<_, f64>(
                    "SELECT greatest(pg_wal_lsn_diff($1::pg_lsn, COALESCE(pg_last_wal_replay_lsn(), $1::pg_lsn)), 0)::float8",
                )
                .bind(&primary)
                .fetch_one(&replica.pool),
            )
            .await;
            let health = match lag {
                Ok(Ok(bytes)) => Health::Lag(bytes as u64),
                Ok(Err(e)) => {
                    tracing::debug!(replica = %replica.name, error = %e, "replica lag check failed");
                    Health::Down
                }
                Err(_) => Health::Down,
            };
            self.set_health(i, health);
        }
    }

    /// Checks the lag every `interval` until the pools are closed (or dropped).
    pub fn spawn_monitor(&self, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
        if !self.has_replicas() {
            return None;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.0);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.primary.is_closed() {
                    return;
                }
                ReadPool(inner).check_lag().await;
            }
        }))
    }

    /// Each replica's name and last known health.
    pub fn replicas(&self) -> Vec<ReplicaStatus> {
        self.0
            .replicas
            .iter()
            .zip(self.health())
            .map(|(r, health)| ReplicaStatus {
                name: r.name.clone(),
                health,
            })
            .collect()
    }

    /// Reads served by a replica.
    pub fn replica_reads(&self) -> u64 {
        self.0.counters.replica_reads.load(Ordering::Relaxed)
    }

    /// Reads of this kind served by the primary (with or without replicas).
    pub fn primary_reads(&self) -> u64 {
        self.0.counters.primary_reads.load(Ordering::Relaxed)
    }

    /// Reads that went to the primary for `reason` although replicas are configured.
    pub fn fallbacks(&self, reason: Fallback) -> u64 {
        let i = Fallback::ALL.iter().position(|&f| f == reason).unwrap_or(0);
        self.0.counters.fallbacks[i].load(Ordering::Relaxed)
    }

    /// Closes the replicas' pools (the primary's belongs to the store).
    pub async fn close_replicas(&self) {
        for r in &self.0.replicas {
            r.pool.close().await;
        }
    }
}

impl Engine {
    /// Runs a read that may be served by a replica (see [`ReadPool::run`]).
    pub(crate) async fn on_read_pool<T, F, Fut>(&self, read: F) -> Result<T>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.store.reads().run(read).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1000;

    #[test]
    fn no_replica_means_the_primary() {
        assert_eq!(choose(&[], MAX, 0), None);
    }

    #[test]
    fn only_checked_replicas_within_the_bound_are_chosen() {
        assert_eq!(choose(&[Health::Unknown], MAX, 0), None);
        assert_eq!(choose(&[Health::Down], MAX, 0), None);
        assert_eq!(choose(&[Health::Lag(MAX + 1)], MAX, 0), None);
        assert_eq!(choose(&[Health::Lag(MAX)], MAX, 0), Some(0));
        assert_eq!(choose(&[Health::Lag(0)], MAX, 7), Some(0));
    }

    #[test]
    fn usable_replicas_take_turns_and_unusable_ones_are_skipped() {
        let h = [
            Health::Lag(0),
            Health::Down,
            Health::Lag(10),
            Health::Lag(MAX * 9),
        ];
        let picks: Vec<_> = (0..6).map(|s| choose(&h, MAX, s)).collect();
        assert_eq!(
            picks,
            [Some(0), Some(2), Some(2), Some(0), Some(0), Some(2)]
        );
    }

    #[test]
    fn recovery_conflicts_and_lost_connections_are_retried_elsewhere() {
        let io = EngineError::from(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(retry_reason(&io), Some(Fallback::Failed));
        assert_eq!(
            retry_reason(&EngineError::from(sqlx::Error::PoolTimedOut)),
            Some(Fallback::Failed)
        );
        assert_eq!(retry_reason(&EngineError::NotFound("x".into())), None);
        assert_eq!(retry_reason_for_code("40001"), Some(Fallback::Conflict));
        assert_eq!(retry_reason_for_code("40P01"), Some(Fallback::Conflict));
        assert_eq!(retry_reason_for_code("57P01"), Some(Fallback::Failed));
        assert_eq!(retry_reason_for_code("08006"), Some(Fallback::Failed));
        // A statement timeout or a bad query would fail on the primary too.
        assert_eq!(retry_reason_for_code("57014"), None);
        assert_eq!(retry_reason_for_code("42P01"), None);
        assert_eq!(
            retry_reason(&EngineError::from(sqlx::Error::RowNotFound)),
            None
        );
    }

    #[tokio::test]
    async fn a_pool_without_replicas_reads_the_primary_and_counts_no_fallback() {
        let primary = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let reads = ReadPool::primary_only(primary);
        let got = reads.run(|_pool| async { Ok(7) }).await.unwrap();
        assert_eq!(got, 7);
        assert_eq!(reads.primary_reads(), 1);
        assert_eq!(reads.fallbacks(Fallback::NoneUsable), 0);
    }

    #[tokio::test]
    async fn a_failed_replica_read_runs_again_on_the_primary_and_marks_it_down() {
        let lazy = |url: &str| {
            sqlx::postgres::PgPoolOptions::new()
                .connect_lazy(url)
                .unwrap()
        };
        let reads = ReadPool::new(
            lazy("postgres://p@127.0.0.1:1/primary"),
            vec![("r".into(), lazy("postgres://r@127.0.0.1:1/replica"))],
            MAX,
        );
        // Unchecked: the primary, counted as a fallback.
        let db = |pool: PgPool| {
            pool.connect_options()
                .get_database()
                .unwrap_or("")
                .to_string()
        };
        let got = reads.run(|pool| async move { Ok(db(pool)) }).await.unwrap();
        assert_eq!(got, "primary");
        assert_eq!(reads.fallbacks(Fallback::NoneUsable), 1);
        reads.set_health(0, Health::Lag(0));
        let got = reads.run(|pool| async move { Ok(db(pool)) }).await.unwrap();
        assert_eq!(got, "replica");
        assert_eq!(reads.replica_reads(), 1);
        // The replica's connection fails: the primary answers, the replica is down.
        let got = reads
            .run(|pool| async move {
                let name = db(pool);
                if name == "replica" {
                    Err(EngineError::from(sqlx::Error::PoolTimedOut))
                } else {
                    Ok(name)
                }
            })
            .await
            .unwrap();
        assert_eq!(got, "primary");
        assert_eq!(reads.fallbacks(Fallback::Failed), 1);
        assert_eq!(reads.replicas()[0].health, Health::Down);
    }
}
