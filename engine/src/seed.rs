//! Catalogs loaded on first start (the demo catalog). A load is recorded when it
//! starts and when it completes: a start killed mid-import leaves it started, and
//! the next start resumes it (unchanged items are not embedded again) rather than
//! taking the partial catalog for a finished one.

use crate::error::Result;
use crate::Engine;

/// The seed name of the demo catalog the server loads on first start.
pub const DEMO_CATALOG: &str = "demo";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedState {
    /// Never attempted in this database.
    NotStarted,
    /// Attempted, not known to have finished: resume it.
    Started,
    Completed,
}

impl Engine {
    pub async fn seed_state(&self, name: &str) -> Result<SeedState> {
        let row: Option<Option<chrono::DateTime<chrono::Utc>>> =
            sqlx::query_scalar("SELECT completed_at FROM catalog_seeds WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            None => SeedState::NotStarted,
            Some(None) => SeedState::Started,
            Some(Some(_)) => SeedState::Completed,
        })
    }

    /// Records that seeding `name` begins (before its first item is written).
    pub async fn mark_seed_started(&self, name: &str) -> Result<()> {
        sqlx::query("INSERT INTO catalog_seeds (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records that seeding `name` finished: later starts leave the catalog alone.
    pub async fn mark_seed_completed(&self, name: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO catalog_seeds (name, completed_at) VALUES ($1, now())
             ON CONFLICT (name) DO UPDATE SET completed_at = now()",
        )
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
