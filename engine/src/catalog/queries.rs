//! Reading the catalog: items by id, title and meaning, its size and facets;
//! deleting an item.

use serde::{Deserialize, Serialize};

use crate::embed::TextKind;
use crate::error::{EngineError, Result};
use crate::Engine;

/// A stored catalog item as shown to users.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub external_id: String,
    pub title: String,
    pub description: String,
    pub language: String,
    pub source: String,
    pub tags: Vec<String>,
    pub url: Option<String>,
}

const ITEM_COLUMNS: &str = "id, external_id, title, description, language, source, tags, url";

impl Engine {
    pub async fn catalog_size(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn item_by_external_id(&self, external_id: &str) -> Result<Item> {
        sqlx::query_as::<_, Item>(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE external_id = $1"
        ))
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("item '{external_id}'")))
    }

    /// The items of these external ids that exist, in one query (unknown ids are left out).
    pub async fn items_by_external_ids(&self, external_ids: &[String]) -> Result<Vec<Item>> {
        Ok(sqlx::query_as::<_, Item>(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE external_id = ANY($1)"
        ))
        .bind(external_ids)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn delete_item(&self, external_id: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM items WHERE external_id = $1")
            .bind(external_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(EngineError::NotFound(format!("item '{external_id}'")));
        }
        Ok(())
    }

    /// Title search for pickers: prefix and substring matches, case-insensitive.
    pub async fn search_titles(&self, query: &str, limit: i64) -> Result<Vec<Item>> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        Ok(sqlx::query_as::<_, Item>(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE lower(title) LIKE $1
             ORDER BY (lower(title) LIKE $2) DESC, length(title), id LIMIT $3"
        ))
        .bind(&pattern)
        .bind(format!("{}%", &pattern[1..]))
        .bind(limit.clamp(1, 50))
        .fetch_all(self.pool())
        .await?)
    }

    /// Search by meaning for pickers: the items nearest to the embedded query,
    /// with their cosine similarity.
    pub async fn search_semantic(&self, query: &str, limit: i64) -> Result<Vec<(Item, f32)>> {
        let q = query.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let vector = self
            .embed_cached(vec![q.to_string()], TextKind::Query)
            .await?
            .pop()
            .unwrap_or_default();
        #[derive(sqlx::FromRow)]
        struct Scored {
            #[sqlx(flatten)]
            item: Item,
            similarity: f64,
        }
        let limit = limit.clamp(1, 50);
        let (sql, vector) = (
            &format!(
                "SELECT {ITEM_COLUMNS}, (1 - (embedding <=> $1))::float8 AS similarity FROM items
                  WHERE embedding IS NOT NULL AND model_id = $2
                  ORDER BY embedding <=> $1 LIMIT $3"
            ),
            &vector,
        );
        let rows: Vec<Scored> = self
            .on_read_pool(|pool| async move {
                let mut tx = self
                    .candidate_transaction(&pool, self.nearest_ef_search(limit as usize))
                    .await?;
                let rows = sqlx::query_as(sql)
                    .bind(pgvector::Vector::from(vector.clone()))
                    .bind(self.model_id())
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(rows)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.item, r.similarity as f32))
            .collect())
    }

    /// The languages and sources present in the catalog with their item counts,
    /// most common first (for filter menus).
    pub async fn catalog_facets(&self) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>)> {
        self.on_read_pool(|pool| async move {
            let languages = sqlx::query_as(
                "SELECT language, count(*) FROM items GROUP BY language ORDER BY count(*) DESC, language LIMIT 200",
            )
            .fetch_all(&pool)
            .await?;
            let sources = sqlx::query_as(
                "SELECT source, count(*) FROM items WHERE source <> '' GROUP BY source ORDER BY count(*) DESC, source LIMIT 200",
            )
            .fetch_all(&pool)
            .await?;
            Ok((languages, sources))
        })
        .await
    }
}
