//! Bulk loads build the HNSW index once instead of inserting into it row by row.
//!
//! Inserting one row into the HNSW graph (m = 32, ef_construction = 128) costs about
//! 5 ms of PostgreSQL time on a 2-core machine, more than embedding the row, while
//! building the graph over the whole table costs a fraction of that per row
//! (BENCHMARKS.md, "Import"). So an import that brings many new vectors compared
//! with the catalog's size drops the index, loads, and builds it again at the end.
//!
//! Why this is safe:
//! - The index definition is recorded in `deferred_indexes` in the transaction that
//!   drops the index; the rebuild deletes the record in the transaction that creates
//!   the index. Nothing else decides what the index looks like: the migrations do.
//! - Every running bulk load holds a shared advisory lock on a connection of its own.
//!   A rebuild needs the exclusive lock and skips when it cannot get it: the last load
//!   to end rebuilds. A killed import's connection closes, which releases its lock, so
//!   the next start or import rebuilds what it left behind.
//! - Without the index, queries are exact scans: slower, never wrong.

use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::error::Result;
use crate::Engine;

/// The index a bulk load defers.
pub const VECTOR_INDEX: &str = "items_embedding_hnsw";
/// Advisory lock key of bulk loads (the bytes read "semrec02").
const BULK_LOAD_LOCK: i64 = 0x7365_6d72_6563_3032;
/// Default of [`crate::EngineSettings::bulk_load_min`].
pub const DEFAULT_BULK_LOAD_MIN: usize = 1000;
/// maintenance_work_mem per row for the build: the graph (≈ 2.1 KB a row at m = 32)
/// must fit, or pgvector builds many times slower.
const BUILD_MEMORY_PER_ROW: u64 = 3 * 1024;
const BUILD_MEMORY_MIN_MB: u64 = 64;
const BUILD_MEMORY_MAX_MB: u64 = 1024;
/// How often a running index build's progress is logged.
const BUILD_PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether dropping and rebuilding the index costs less than inserting `fresh` new
/// vectors into it next to `existing` rows. An insert costs about 7.5 times a row's
/// share of a build here (10k rows: ≈ 45 s of inserts against ≈ 6 s of build), so a
/// rebuild pays up to ≈ 6 existing rows per new one; 2 leaves a margin for the exact
/// scans that queries fall back to meanwhile.
pub fn rebuild_pays(fresh: usize, existing: usize, min_fresh: usize) -> bool {
    fresh >= min_fresh.max(1) && existing <= 2 * fresh
}

/// maintenance_work_mem (MB) for building the index over `rows` rows.
fn build_memory_mb(rows: u64) -> u64 {
    (rows * BUILD_MEMORY_PER_ROW / (1024 * 1024)).clamp(BUILD_MEMORY_MIN_MB, BUILD_MEMORY_MAX_MB)
}

/// A running bulk load, holding the shared lock until [`Engine::end_bulk_load`].
/// Dropped without it (an error, a panic), its connection is closed rather than
/// returned to the pool, which releases the lock.
pub struct BulkLoad {
    conn: Option<PoolConnection<Postgres>>,
}

impl Drop for BulkLoad {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

impl Engine {
    /// Starts a bulk load: takes the shared lock, then drops the vector index after
    /// recording its definition (unless an earlier load already did).
    pub async fn begin_bulk_load(&self) -> Result<BulkLoad> {
        let mut conn = self.jobs_pool().acquire().await?;
        sqlx::query("SELECT pg_advisory_lock_shared($1)")
            .bind(BULK_LOAD_LOCK)
            .execute(&mut *conn)
            .await?;
        let load = BulkLoad { conn: Some(conn) };
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        // A concurrent load's insert conflicts here and waits; then it finds the
        // record and leaves the dropping to this one.
        let recorded = sqlx::query(
            "INSERT INTO deferred_indexes (name, definition)
             SELECT indexname, indexdef FROM pg_indexes
              WHERE schemaname = current_schema() AND indexname = $1
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(VECTOR_INDEX)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if recorded > 0 {
            sqlx::query(&format!("DROP INDEX {VECTOR_INDEX}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if recorded > 0 {
            tracing::info!(
                index = VECTOR_INDEX,
                "bulk load: index dropped, to be built once when the load ends"
            );
        }
        Ok(load)
    }

    /// Ends a bulk load and rebuilds what bulk loads dropped, unless another one is
    /// still running (the last to end rebuilds). Returns how many indexes it built.
    pub async fn end_bulk_load(&self, mut load: BulkLoad) -> Result<usize> {
        if let Some(mut conn) = load.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock_shared($1)")
                .bind(BULK_LOAD_LOCK)
                .execute(&mut *conn)
                .await;
            if let Err(e) = unlocked {
                drop(conn.detach());
                return Err(e.into());
            }
        }
        self.rebuild_deferred_indexes().await
    }

    /// Builds the indexes bulk loads dropped, when no bulk load is running; returns
    /// how many it built. Cheap when there is nothing to do. Run at start-up too: an
    /// import that was killed leaves its index to be rebuilt.
    pub async fn rebuild_deferred_indexes(&self) -> Result<usize> {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM deferred_indexes")
            .fetch_one(self.jobs_pool())
            .await?;
        if pending == 0 {
            return Ok(0);
        }
        let mut conn = self.jobs_pool().acquire().await?;
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(BULK_LOAD_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if !free {
            return Ok(0);
        }
        let built = build_deferred(self.jobs_pool()).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(BULK_LOAD_LOCK)
            .execute(&mut *conn)
            .await;
        if unlocked.is_err() {
            drop(conn.detach());
        }
        let built = built?;
        unlocked?;
        Ok(built)
    }

    /// Whether the vector index exists (it is missing while a bulk load runs).
    pub async fn vector_index_present(&self) -> Result<bool> {
        Ok(sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(VECTOR_INDEX)
            .fetch_one(self.jobs_pool())
            .await?)
    }
}

/// Creates every recorded index, each in a transaction with the removal of its
/// record. The caller holds the exclusive lock.
async fn build_deferred(pool: &PgPool) -> Result<usize> {
    let pending: Vec<(String, String)> =
        sqlx::query_as("SELECT name, definition FROM deferred_indexes ORDER BY name")
            .fetch_all(pool)
            .await?;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(pool)
        .await?;
    let mut built = 0;
    for (name, definition) in pending {
        let started = Instant::now();
        let mut tx = crate::store::begin_on(pool).await?;
        sqlx::query("SELECT set_config('maintenance_work_mem', $1, true)")
            .bind(format!("{}MB", build_memory_mb(rows.max(0) as u64)))
            .execute(&mut *tx)
            .await?;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&name)
            .fetch_one(&mut *tx)
            .await?;
        if !exists {
            tracing::info!(index = %name, rows, "building the index once for the bulk load");
            let progress = tokio::spawn(log_build_progress(pool.clone()));
            let created = sqlx::query(&definition)
                .persistent(false)
                .execute(&mut *tx)
                .await;
            progress.abort();
            created?;
            built += 1;
        }
        sqlx::query("DELETE FROM deferred_indexes WHERE name = $1")
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(
            index = %name,
            rows,
            secs = started.elapsed().as_secs_f64(),
            "index rebuilt after a bulk load"
        );
    }
    Ok(built)
}

/// Logs how far an index build on `items` is, every few seconds until aborted: a
/// million rows take minutes, after the import's progress bar has reached its end.
async fn log_build_progress(pool: PgPool) {
    let mut every = tokio::time::interval(BUILD_PROGRESS_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        // pgvector inserts each row into the graph as the table scan reaches it, so
        // the scan's blocks tell how far the build is.
        let progress: Option<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT phase, blocks_done, blocks_total, tuples_done
               FROM pg_stat_progress_create_index WHERE relid = 'items'::regclass",
        )
        .fetch_optional(&pool)
        .await
        .unwrap_or(None);
        if let Some((phase, blocks_done, blocks_total, rows_done)) = progress {
            let percent = 100 * blocks_done / blocks_total.max(1);
            tracing::info!(phase, percent, rows_done, "building the vector index");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuild_pays_for_many_new_vectors_into_a_small_catalog() {
        assert!(rebuild_pays(9_125, 0, 1000));
        assert!(rebuild_pays(10_000, 20_000, 1000));
        assert!(!rebuild_pays(10_000, 20_001, 1000));
        // Small imports insert into the index as they go.
        assert!(!rebuild_pays(999, 0, 1000));
        assert!(rebuild_pays(1, 0, 0));
        assert!(!rebuild_pays(0, 0, 0));
    }

    #[test]
    fn build_memory_fits_the_graph_within_bounds() {
        assert_eq!(build_memory_mb(1_000), 64);
        assert_eq!(build_memory_mb(100_000), 292);
        assert_eq!(build_memory_mb(10_000_000), 1024);
    }
}
