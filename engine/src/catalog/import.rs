//! Importing parsed items: re-embed only what changed, chunk by chunk, each
//! chunk in one transaction, pipelined with the embedder.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::item::ValidItem;
use super::parse::{ParsedImport, Rejection};
use crate::bulk_load::rebuild_pays;
use crate::embed::TextKind;
use crate::error::Result;
use crate::Engine;

/// Items embedded and written per transaction during an import.
pub const IMPORT_CHUNK: usize = 64;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportSummary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<Rejection>,
    /// Whether the import was a bulk load that ended by building the HNSW index.
    #[serde(default)]
    pub vector_index_rebuilt: bool,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ImportProgress {
    pub done: usize,
    pub total: usize,
    pub embedded: usize,
}

/// A chunk ready to be written: the items whose text (or model) changed with
/// their new vectors, and the items whose embedded text is unchanged.
struct EmbeddedChunk<'a> {
    fresh: Vec<(&'a ValidItem, Vec<f32>)>,
    same: Vec<&'a ValidItem>,
}

/// What writing one chunk changed.
#[derive(Default)]
struct ChunkCounts {
    added: usize,
    updated: usize,
    unchanged: usize,
    embedded: usize,
    items: usize,
}

impl Engine {
    /// Imports parsed items: unchanged ones (same text hash and model) are not
    /// re-embedded; each chunk is written in one transaction, so an interrupted
    /// import keeps what was reported done and a re-run resumes.
    ///
    /// Pipelined: chunk n+1 is looked up and embedded (on the embedding thread)
    /// while chunk n is written, so the embedder does not idle during writes.
    /// This relies on the external ids being unique within `parsed`, which
    /// [`parse_import`] guarantees: a chunk's lookup never depends on the
    /// write of the chunk before it.
    ///
    /// An import that brings many new vectors compared with the catalog's size is a
    /// bulk load ([`crate::bulk_load`]): the HNSW index is built once at the end.
    pub async fn import_items(
        &self,
        parsed: ParsedImport,
        on_progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let model_id = self.model_id().to_string();
        let bulk = if parsed.items.len() >= self.settings.bulk_load_min.max(1) {
            let fresh = self.count_fresh(&parsed, &model_id).await?;
            let existing = self.catalog_size().await?.max(0) as usize;
            rebuild_pays(fresh, existing, self.settings.bulk_load_min)
        } else {
            false
        };
        let load = if bulk {
            Some(self.begin_bulk_load().await?)
        } else {
            None
        };
        let mut languages: Vec<String> = parsed
            .items
            .iter()
            .map(|(_, i)| i.language.clone())
            .collect();
        languages.sort_unstable();
        languages.dedup();
        let imported = self.import_chunks(parsed, &model_id, on_progress).await;
        // Build the index even after a failure: what was committed stays and is searched.
        let rebuilt = match load {
            Some(load) => self.end_bulk_load(load).await,
            None => self.rebuild_deferred_indexes().await,
        };
        let mut summary = imported?;
        summary.vector_index_rebuilt = rebuilt? > 0;
        if summary.added + summary.updated > 0 {
            self.refresh_lexical_terms_after_import(&languages).await;
        }
        tracing::info!(
            added = summary.added,
            updated = summary.updated,
            unchanged = summary.unchanged,
            rejected = summary.rejected.len(),
            vector_index_rebuilt = summary.vector_index_rebuilt,
            "catalog import finished"
        );
        Ok(summary)
    }

    /// How many of `parsed`'s items need a new vector (new, changed text, other model).
    async fn count_fresh(&self, parsed: &ParsedImport, model_id: &str) -> Result<usize> {
        let (ids, hashes): (Vec<&str>, Vec<&str>) = parsed
            .items
            .iter()
            .map(|(_, i)| (i.external_id.as_str(), i.content_hash.as_str()))
            .unzip();
        let unchanged: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM unnest($1::text[], $2::text[]) AS t(external_id, content_hash)
               JOIN items ON items.external_id = t.external_id
              WHERE items.content_hash = t.content_hash AND items.model_id = $3",
        )
        .bind(&ids)
        .bind(&hashes)
        .bind(model_id)
        .fetch_one(self.jobs_pool())
        .await?;
        Ok(parsed.items.len().saturating_sub(unchanged.max(0) as usize))
    }

    /// The chunk loop of [`Engine::import_items`].
    async fn import_chunks(
        &self,
        parsed: ParsedImport,
        model_id: &str,
        mut on_progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let model_id = model_id.to_string();
        let mut summary = ImportSummary {
            rejected: parsed.rejected,
            ..Default::default()
        };
        let mut progress = ImportProgress {
            done: 0,
            total: parsed.items.len(),
            embedded: 0,
        };
        let mut record = |counts: ChunkCounts| {
            summary.added += counts.added;
            summary.updated += counts.updated;
            summary.unchanged += counts.unchanged;
            progress.done += counts.items;
            progress.embedded += counts.embedded;
            on_progress(progress);
        };
        let mut pending: Option<EmbeddedChunk> = None;
        for chunk in parsed.items.chunks(IMPORT_CHUNK) {
            let previous = pending.take();
            let write = async {
                match previous {
                    Some(ready) => self.write_chunk(ready, &model_id).await.map(Some),
                    None => Ok(None),
                }
            };
            let (written, embedded) = tokio::join!(write, self.embed_chunk(chunk, &model_id));
            // Report a committed chunk even when the next one failed to embed.
            if let Some(counts) = written? {
                record(counts);
            }
            pending = Some(embedded?);
        }
        if let Some(ready) = pending {
            record(self.write_chunk(ready, &model_id).await?);
        }
        Ok(summary)
    }

    /// Looks up which items of a chunk need a new vector and embeds those.
    async fn embed_chunk<'a>(
        &self,
        chunk: &'a [(usize, ValidItem)],
        model_id: &str,
    ) -> Result<EmbeddedChunk<'a>> {
        let ids: Vec<&str> = chunk.iter().map(|(_, i)| i.external_id.as_str()).collect();
        let existing: HashMap<String, (String, Option<String>)> =
            sqlx::query_as::<_, (String, String, Option<String>)>(
                "SELECT external_id, content_hash, model_id FROM items WHERE external_id = ANY($1)",
            )
            .bind(&ids)
            .fetch_all(self.jobs_pool())
            .await?
            .into_iter()
            .map(|(id, hash, model)| (id, (hash, model)))
            .collect();
        let (fresh, same): (Vec<&ValidItem>, Vec<&ValidItem>) =
            chunk.iter().map(|(_, i)| i).partition(|item| {
                existing.get(&item.external_id).is_none_or(|(hash, model)| {
                    *hash != item.content_hash || model.as_deref() != Some(model_id)
                })
            });
        let texts: Vec<String> = fresh.iter().map(|i| i.embedding_text()).collect();
        let vectors = self
            .embedder
            .embed_when_free(texts, TextKind::Passage)
            .await?;
        Ok(EmbeddedChunk {
            fresh: fresh.into_iter().zip(vectors).collect(),
            same,
        })
    }

    /// Writes one embedded chunk in one transaction.
    async fn write_chunk(&self, chunk: EmbeddedChunk<'_>, model_id: &str) -> Result<ChunkCounts> {
        let mut counts = ChunkCounts {
            embedded: chunk.fresh.len(),
            items: chunk.fresh.len() + chunk.same.len(),
            ..Default::default()
        };
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        for (item, vector) in chunk.fresh {
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO items (external_id, title, description, language, source, tags, url, metadata,
                                    embedding, model_id, content_hash, embedded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
                 ON CONFLICT (external_id) DO UPDATE SET
                    title = EXCLUDED.title, description = EXCLUDED.description, language = EXCLUDED.language,
                    source = EXCLUDED.source, tags = EXCLUDED.tags, url = EXCLUDED.url, metadata = EXCLUDED.metadata,
                    embedding = EXCLUDED.embedding, model_id = EXCLUDED.model_id,
                    content_hash = EXCLUDED.content_hash, embedded_at = now(), updated_at = now()
                 RETURNING (xmax = 0)",
            )
            .bind(&item.external_id)
            .bind(&item.title)
            .bind(&item.description)
            .bind(&item.language)
            .bind(&item.source)
            .bind(&item.tags)
            .bind(&item.url)
            .bind(&item.metadata)
            .bind(pgvector::Vector::from(vector))
            .bind(model_id)
            .bind(&item.content_hash)
            .fetch_one(&mut *tx)
            .await?;
            if inserted {
                counts.added += 1;
            } else {
                counts.updated += 1;
            }
        }
        for item in chunk.same {
            // Same embedded text, so the vector stands; the fields may still differ
            // (title "Heat" + tag "crime" and title "Heat" + description "crime" embed
            // the same text), so every field is written when any changed.
            let changed = sqlx::query(
                "UPDATE items SET title = $2, description = $3, tags = $4, language = $5, source = $6,
                                  url = $7, metadata = $8, updated_at = now()
                 WHERE external_id = $1
                   AND (title, description, tags, language, source, url, metadata)
                       IS DISTINCT FROM ($2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&item.external_id)
            .bind(&item.title)
            .bind(&item.description)
            .bind(&item.tags)
            .bind(&item.language)
            .bind(&item.source)
            .bind(&item.url)
            .bind(&item.metadata)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                counts.updated += 1;
            } else {
                counts.unchanged += 1;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }
}
