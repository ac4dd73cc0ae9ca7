//! The PostgreSQL + pgvector store: connection pool and migrations.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::error::{EngineError, Result};

/// Vector dimensions of the `vector(N)` columns in the schema.
pub const EMBEDDING_DIMS: usize = 384;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects lazily-resilient: a short acquire timeout turns an outage into a
    /// quick `Unavailable` (HTTP 503) instead of a hung request, and the pool
    /// reconnects by itself once the server is back.
    pub async fn connect(database_url: &str, max_connections: u32) -> Result<Self> {
        let options: PgConnectOptions = database_url.parse().map_err(|e| {
            EngineError::Invalid(format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations. Fails clearly when pgvector is not installed.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| {
            let text = e.to_string();
            if text.contains("extension \"vector\"") || text.contains("vector.control") {
                EngineError::Unavailable(
                    "the PostgreSQL server has no pgvector extension: install it (scripts/setup.sh builds it) and retry".into(),
                )
            } else {
                EngineError::Unavailable(format!("database migration failed: {text}"))
            }
        })
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
