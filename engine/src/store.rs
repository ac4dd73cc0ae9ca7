//! The PostgreSQL + pgvector store: connection pools and migrations.
//!
//! Two pools, so long work never eats the time budget or the connections of
//! requests:
//! - the request pool: every statement gets `statement_timeout` and
//!   `lock_timeout`, so no request waits on a slow statement or a lock for long;
//!   a timed-out statement is a 503 with `Retry-After`, not a stall;
//! - the jobs pool: imports, reindexing, index builds, popularity recounts and
//!   migrations, with no time limits (an HNSW build over a million rows takes
//!   minutes) and their own connections.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::{EngineError, Result};
use crate::read_pool::{self, ReadPool};

/// Vector dimensions of the `vector(N)` columns in the schema.
pub const EMBEDDING_DIMS: usize = 384;
/// Default request-path `statement_timeout`.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default request-path `lock_timeout`.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);
/// Default size of the jobs pool: a running import holds up to three connections
/// (its bulk-load lock, a chunk being written, the next chunk's lookup), an index
/// build two and its progress log one.
pub const DEFAULT_JOB_CONNECTIONS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Sizes and time limits of the two pools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections of the request pool.
    pub request_connections: u32,
    /// Connections of the jobs pool.
    pub job_connections: u32,
    /// `statement_timeout` of request statements; zero = none.
    pub statement_timeout: Duration,
    /// `lock_timeout` of request statements; zero = none.
    pub lock_timeout: Duration,
    /// Streaming replicas for candidate scans, facets and metrics
    /// (`DATABASE_READ_URL`); each gets a pool like the request pool.
    pub read_urls: Vec<String>,
    /// A replica more bytes of WAL behind the primary is not read from.
    pub replica_max_lag_bytes: u64,
}

impl StoreOptions {
    pub fn new(request_connections: u32) -> Self {
        Self {
            request_connections,
            job_connections: DEFAULT_JOB_CONNECTIONS,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            read_urls: Vec::new(),
            replica_max_lag_bytes: crate::read_pool::DEFAULT_MAX_LAG_BYTES,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    jobs: PgPool,
    reads: ReadPool,
}

fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// A pool whose connections are checked when taken: a connection still inside a
/// transaction is closed, never handed out. (A transaction left open on a pooled
/// connection holds its row locks until someone happens to commit on it: the
/// 20 s stall of issue #14.)
fn pool_options(max: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max.max(1))
        // A short acquire timeout turns an outage into a quick `Unavailable`
        // (HTTP 503) instead of a hung request; the pool reconnects by itself.
        .acquire_timeout(Duration::from_secs(3))
        // The check below replaces sqlx's ping (one round trip either way).
        .test_before_acquire(false)
        .before_acquire(|conn, _meta| {
            Box::pin(async move {
                // In a transaction block, now() is when it began; outside one, a
                // statement is its own transaction and the two are equal. The simple
                // query protocol is needed (a bare `&str` without arguments uses it):
                // with the extended one, the implicit transaction starts at Parse and
                // the statement time is taken again at Execute, so the two differ on
                // every connection.
                let row =
                    sqlx::Executor::fetch_one(&mut *conn, "SELECT now() = statement_timestamp()")
                        .await?;
                let outside: bool = sqlx::Row::try_get(&row, 0)?;
                if !outside {
                    tracing::warn!(
                        "closing a pooled connection that was left inside a transaction"
                    );
                }
                Ok(outside)
            })
        })
}

impl Store {
    /// Both pools with the default limits and a request pool of `max_connections`.
    pub async fn connect(database_url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(database_url, &StoreOptions::new(max_connections)).await
    }

    pub async fn connect_with(database_url: &str, opts: &StoreOptions) -> Result<Self> {
        let options: PgConnectOptions = database_url.parse().map_err(|e| {
            EngineError::invalid("DATABASE_URL", format!("not a valid PostgreSQL URL: {e}"))
        })?;
        let limits = [
            ("statement_timeout", millis(opts.statement_timeout)),
            ("lock_timeout", millis(opts.lock_timeout)),
        ];
        let requests = options.clone().options(limits.clone());
        // Jobs set their own (longer: none) limits, whatever the server's defaults.
        let jobs = options.options([("statement_timeout", "0"), ("lock_timeout", "0")]);
        let pool = pool_options(opts.request_connections)
            .connect_with(requests)
            .await?;
        let jobs = pool_options(opts.job_connections).connect_lazy_with(jobs);
        let mut replicas = Vec::new();
        for (i, url) in opts.read_urls.iter().enumerate() {
            let options: PgConnectOptions = url.parse().map_err(|e| {
                EngineError::invalid(
                    "DATABASE_READ_URL",
                    format!("replica {} is not a valid PostgreSQL URL: {e}", i + 1),
                )
            })?;
            let name = read_pool::replica_name(&options);
            // Lazy: a replica that is down at start is skipped, not fatal; the lag
            // check finds out. A short acquire timeout keeps a dead one cheap.
            let pool = pool_options(opts.request_connections)
                .acquire_timeout(Duration::from_secs(1))
                .connect_lazy_with(options.options(limits.clone()));
            replicas.push((name, pool));
        }
        let reads = ReadPool::new(pool.clone(), replicas, opts.replica_max_lag_bytes);
        reads.spawn_monitor(read_pool::LAG_CHECK_INTERVAL);
        Ok(Self { pool, jobs, reads })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            jobs: pool.clone(),
            reads: ReadPool::primary_only(pool.clone()),
            pool,
        }
    }

    /// Where candidate scans, facets and metrics read: a replica or the primary.
    pub fn reads(&self) -> &ReadPool {
        &self.reads
    }

    /// The request pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The jobs pool (imports, index builds, recounts, migrations).
    pub fn jobs(&self) -> &PgPool {
        &self.jobs
    }

    /// Closes both pools.
    pub async fn close(&self) {
        tokio::join!(
            self.pool.close(),
            self.jobs.close(),
            self.reads.close_replicas()
        );
    }

    /// Applies pending migrations. Fails clearly when pgvector is not installed.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.jobs).await.map_err(|e| {
            let text = e.to_string();
            if text.contains("extension \"vector\"") || text.contains("vector.control") {
                EngineError::unavailable(
                    "the PostgreSQL server has no pgvector extension: install it (scripts/setup.sh builds it) and retry",
                )
            } else {
                EngineError::Unavailable {
                    reason: format!("database migration failed: {text}"),
                    source: Some(Box::new(e)),
                }
            }
        })
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// PostgreSQL's `max_connections` and `superuser_reserved_connections`.
    pub async fn connection_limit(&self) -> Result<ConnectionLimit> {
        let (max, reserved): (String, String) = sqlx::query_as(
            "SELECT current_setting('max_connections'), current_setting('superuser_reserved_connections')",
        )
        .fetch_one(&self.pool)
        .await?;
        let parse = |s: &str| s.trim().parse::<u32>().unwrap_or(0);
        Ok(ConnectionLimit {
            max_connections: parse(&max),
            superuser_reserved: parse(&reserved),
        })
    }
}

/// The server's connection settings that bound how many clients may connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimit {
    pub max_connections: u32,
    pub superuser_reserved: u32,
}

/// `pool.begin()` as its own task. sqlx's `begin` is not cancel-safe: dropped
/// after sending `BEGIN` and before reading the answer, its rollback guard sees no
/// transaction yet, so the connection goes back to the pool inside one (and every
/// statement later run on it joins that transaction, holding its locks). A task
/// is not cancelled with its caller: it finishes, and the transaction it made is
/// dropped there, which rolls it back before the connection is reused.
pub async fn begin_on(pool: &PgPool) -> Result<Transaction<'static, Postgres>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .map_err(|e| EngineError::Internal(format!("beginning a transaction: {e}")))?
        .map_err(Into::into)
}
