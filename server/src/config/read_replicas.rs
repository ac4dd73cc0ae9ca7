//! Streaming replicas for reads (`DATABASE_READ_URL`).

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct ReadReplicaArgs {
    /// Streaming replicas of DATABASE_URL (comma-separated PostgreSQL URLs) that
    /// serve candidate scans, facets and dashboard metrics; writes and reads of
    /// a request's own writes stay on the primary.
    #[arg(
        long = "database-read-url",
        env = "DATABASE_READ_URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub urls: Vec<String>,
    /// A replica more bytes of WAL behind the primary (its
    /// `pg_last_wal_replay_lsn()` against the primary's `pg_current_wal_lsn()`,
    /// checked every second) is not read from until it catches up.
    #[arg(long, env = "SEMREC_REPLICA_MAX_LAG_BYTES",
          default_value_t = engine::read_pool::DEFAULT_MAX_LAG_BYTES)]
    pub max_lag_bytes: u64,
}

impl ReadReplicaArgs {
    /// The URLs given, without empty entries (a trailing comma).
    pub fn urls(&self) -> Vec<String> {
        self.urls
            .iter()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect()
    }
}
