//! Who imported what, and when: one row per catalogue or interactions import
//! (the CLI, the JSON API, the admin page, the first start's demo load), listed
//! newest first on the admin page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::Store;

/// Longest actor name stored (an API key name is at most 100 characters).
const MAX_ACTOR_CHARS: usize = 200;
/// Largest page of the listing.
pub const MAX_PAGE: i64 = 200;
/// A browser import's parts add to its row only this long after it began.
const PART_WINDOW_MINUTES: i64 = 60;

/// Through what an import came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportVia {
    Cli,
    Api,
    Web,
    /// The first start's demo catalogue.
    Start,
}

impl ImportVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Api => "api",
            Self::Web => "web",
            Self::Start => "start",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "cli" => Self::Cli,
            "api" => Self::Api,
            "web" => Self::Web,
            "start" => Self::Start,
            other => {
                return Err(EngineError::Internal(format!(
                    "stored import via '{other}'"
                )))
            }
        })
    }
}

/// What was imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Catalogue,
    Interactions,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Catalogue => "catalogue",
            Self::Interactions => "interactions",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "catalogue" => Self::Catalogue,
            "interactions" => Self::Interactions,
            other => {
                return Err(EngineError::Internal(format!(
                    "stored import kind '{other}'"
                )))
            }
        })
    }
}

/// An import's counts (interactions have no `updated`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// One import as listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub via: ImportVia,
    /// "CLI", the admin's name, or "API key NAME".
    pub actor: String,
    pub kind: ImportKind,
    pub counts: ImportCounts,
}

/// One page of the history, and how many imports there are in all.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportPage {
    pub records: Vec<ImportRecord>,
    pub total: i64,
}

type Row = (
    i64,
    DateTime<Utc>,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
);

fn from_row(
    (id, at, via, actor, kind, added, updated, unchanged, rejected): Row,
) -> Result<ImportRecord> {
    let n = |v: i64| v.max(0) as u64;
    Ok(ImportRecord {
        id,
        at,
        via: ImportVia::parse(&via)?,
        actor,
        kind: ImportKind::parse(&kind)?,
        counts: ImportCounts {
            added: n(added),
            updated: n(updated),
            unchanged: n(unchanged),
            rejected: n(rejected),
        },
    })
}

impl From<&crate::catalog::ImportSummary> for ImportCounts {
    fn from(s: &crate::catalog::ImportSummary) -> Self {
        Self {
            added: s.added as u64,
            updated: s.updated as u64,
            unchanged: s.unchanged as u64,
            rejected: s.rejected.len() as u64,
        }
    }
}

impl From<&crate::interactions::InteractionImportSummary> for ImportCounts {
    fn from(s: &crate::interactions::InteractionImportSummary) -> Self {
        Self {
            added: s.added as u64,
            updated: 0,
            unchanged: s.unchanged as u64,
            rejected: s.rejected.len() as u64,
        }
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The actor as stored: trimmed, at most [`MAX_ACTOR_CHARS`], never empty.
fn actor_name(actor: &str) -> String {
    let a: String = actor.trim().chars().take(MAX_ACTOR_CHARS).collect();
    if a.is_empty() {
        "unknown".into()
    } else {
        a
    }
}

impl Store {
    /// Records an import that ran; returns its row id.
    pub async fn record_import(
        &self,
        via: ImportVia,
        actor: &str,
        kind: ImportKind,
        counts: ImportCounts,
    ) -> Result<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO import_history (via, actor, kind, added, updated, unchanged, rejected)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(via.as_str())
        .bind(actor_name(actor))
        .bind(kind.as_str())
        .bind(clamp(counts.added))
        .bind(clamp(counts.updated))
        .bind(clamp(counts.unchanged))
        .bind(clamp(counts.rejected))
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// [`Store::record_import`] for callers whose import already happened: a
    /// failure to record is logged, never turned into a failed import.
    pub async fn note_import(
        &self,
        via: ImportVia,
        actor: &str,
        kind: ImportKind,
        counts: impl Into<ImportCounts>,
    ) -> Option<i64> {
        match self.record_import(via, actor, kind, counts.into()).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, "recording an import in the history failed");
                None
            }
        }
    }

    /// Adds a further part of a browser import to its row (`id` from the first
    /// part). A row that is not a recent browser catalogue import gets a new row
    /// instead, so a client cannot rewrite older history; returns the row used.
    pub async fn add_import_part(
        &self,
        id: Option<i64>,
        actor: &str,
        counts: ImportCounts,
    ) -> Result<i64> {
        if let Some(id) = id {
            let updated: Option<(i64,)> = sqlx::query_as(
                "UPDATE import_history SET added = added + $2, updated = updated + $3,
                     unchanged = unchanged + $4, rejected = rejected + $5
                 WHERE id = $1 AND via = 'web' AND kind = 'catalogue'
                   AND at > now() - make_interval(mins => $6::int)
                 RETURNING id",
            )
            .bind(id)
            .bind(clamp(counts.added))
            .bind(clamp(counts.updated))
            .bind(clamp(counts.unchanged))
            .bind(clamp(counts.rejected))
            .bind(PART_WINDOW_MINUTES as i32)
            .fetch_optional(self.pool())
            .await?;
            if let Some((id,)) = updated {
                return Ok(id);
            }
        }
        self.record_import(ImportVia::Web, actor, ImportKind::Catalogue, counts)
            .await
    }

    /// Imports newest first: `limit` (1–[`MAX_PAGE`]) from `offset`.
    pub async fn list_imports(&self, offset: i64, limit: i64) -> Result<ImportPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let offset = offset.max(0);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, via, actor, kind, added, updated, unchanged, rejected
             FROM import_history ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM import_history")
            .fetch_one(self.pool())
            .await?;
        Ok(ImportPage {
            records: rows.into_iter().map(from_row).collect::<Result<_>>()?,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_trimmed_bounded_and_never_empty() {
        assert_eq!(actor_name("  admin "), "admin");
        assert_eq!(actor_name("   "), "unknown");
        assert_eq!(
            actor_name(&"x".repeat(10_000)).chars().count(),
            MAX_ACTOR_CHARS
        );
    }
}
