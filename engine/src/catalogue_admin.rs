//! The admin's catalogue browser: items found by title or id with their
//! embedding state, and edits of an item's text that go through the normal
//! import path (`Engine::import_items`), so an item is re-embedded exactly when
//! its title, description or tags changed, as `PUT /api/v1/items/{id}` does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{ItemInput, ParsedImport};
use crate::error::{EngineError, Result};
use crate::Engine;

/// Longest search text (an item id has at most 200 characters).
pub const MAX_CATALOGUE_QUERY_CHARS: usize = 200;
/// Most items one page lists.
pub const MAX_CATALOGUE_PAGE: i64 = 100;

/// Whether an item's vector is one the recommend path can use now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "model")]
pub enum EmbeddingState {
    /// Embedded by the model in use.
    Current,
    /// Embedded by another model: `semrec reindex` re-embeds it.
    OtherModel(String),
    /// No vector (yet).
    Missing,
}

/// One item as the browser lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    pub external_id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub language: String,
    pub source: String,
    pub updated_at: DateTime<Utc>,
    pub embedded_at: Option<DateTime<Utc>>,
    pub embedding: EmbeddingState,
}

/// One page of matches and how many match in all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CataloguePage {
    pub entries: Vec<CatalogueEntry>,
    pub total: i64,
    /// Items of the whole catalogue not embedded by the model in use.
    pub needing_reindex: i64,
}

/// What an edit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditOutcome {
    /// Something changed.
    pub changed: bool,
    /// The item was embedded again (its title, description or tags changed).
    pub re_embedded: bool,
}

type Row = (
    String,
    String,
    String,
    Vec<String>,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);

const ENTRY_COLUMNS: &str =
    "external_id, title, description, tags, language, source, updated_at, embedded_at, model_id";

fn entry(model: &str, row: Row) -> CatalogueEntry {
    let (
        external_id,
        title,
        description,
        tags,
        language,
        source,
        updated_at,
        embedded_at,
        model_id,
    ) = row;
    CatalogueEntry {
        external_id,
        title,
        description,
        tags,
        language,
        source,
        updated_at,
        embedded_at,
        embedding: match model_id {
            Some(m) if m == model => EmbeddingState::Current,
            Some(m) => EmbeddingState::OtherModel(m),
            None => EmbeddingState::Missing,
        },
    }
}

impl Engine {
    /// One item with its embedding state.
    pub async fn catalogue_entry(&self, external_id: &str) -> Result<CatalogueEntry> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {ENTRY_COLUMNS} FROM items WHERE external_id = $1"
        ))
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| entry(self.model_id(), r))
            .ok_or_else(|| EngineError::NotFound(format!("item '{external_id}'")))
    }

    /// Items whose title contains `query` (any case) or whose id is `query`,
    /// by title; every item for an empty query.
    pub async fn browse_catalogue(
        &self,
        query: &str,
        offset: i64,
        limit: i64,
    ) -> Result<CataloguePage> {
        let query = query.trim();
        if query.chars().count() > MAX_CATALOGUE_QUERY_CHARS {
            return Err(EngineError::invalid(
                "q",
                format!("search for at most {MAX_CATALOGUE_QUERY_CHARS} characters"),
            ));
        }
        let filter = "($1 = '' OR strpos(lower(title), lower($1)) > 0 OR external_id = $1)";
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {ENTRY_COLUMNS} FROM items WHERE {filter}
              ORDER BY lower(title), external_id LIMIT $2 OFFSET $3"
        ))
        .bind(query)
        .bind(limit.clamp(1, MAX_CATALOGUE_PAGE))
        .bind(offset.max(0))
        .fetch_all(self.pool())
        .await?;
        let (total,): (i64,) =
            sqlx::query_as(&format!("SELECT count(*) FROM items WHERE {filter}"))
                .bind(query)
                .fetch_one(self.pool())
                .await?;
        let (needing_reindex,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM items WHERE model_id IS DISTINCT FROM $1")
                .bind(self.model_id())
                .fetch_one(self.pool())
                .await?;
        let entries = rows
            .into_iter()
            .map(|r| entry(self.model_id(), r))
            .collect();
        Ok(CataloguePage {
            entries,
            total,
            needing_reindex,
        })
    }

    /// Replaces an item's title, description and tags, keeping everything else
    /// (language, source, url, metadata), through the import path: the same
    /// validation as an import line, and a new vector only when the text changed.
    pub async fn edit_item_text(
        &self,
        external_id: &str,
        title: &str,
        description: &str,
        tags: Vec<String>,
    ) -> Result<EditOutcome> {
        let row: Option<(String, String, String, Option<String>, serde_json::Value)> = sqlx::query_as(
            "SELECT external_id, language, source, url, metadata FROM items WHERE external_id = $1",
        )
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?;
        let Some((id, language, source, url, metadata)) = row else {
            return Err(EngineError::NotFound(format!("item '{external_id}'")));
        };
        let item = ItemInput {
            id,
            title: title.to_string(),
            description: description.to_string(),
            language: Some(language),
            source: Some(source),
            tags,
            url,
            metadata: Some(metadata),
        }
        .validate()
        .map_err(|reason| EngineError::invalid("", reason))?;
        let mut embedded = 0;
        let summary = self
            .import_items(
                ParsedImport {
                    items: vec![(1, item)],
                    rejected: Vec::new(),
                },
                |p| embedded = p.embedded,
            )
            .await?;
        if let Some(r) = summary.rejected.first() {
            return Err(EngineError::invalid("", r.reason.clone()));
        }
        Ok(EditOutcome {
            changed: summary.updated > 0,
            re_embedded: embedded > 0,
        })
    }
}
