//! Re-embedding the items whose vector another model made.

use super::import::{ImportProgress, IMPORT_CHUNK};
use super::item::embedding_text;
use crate::bulk_load::rebuild_pays;
use crate::embed::TextKind;
use crate::error::Result;
use crate::Engine;

impl Engine {
    /// Re-embeds every item whose vector was made by another model (or none),
    /// in chunks committed one by one (an interrupted reindex resumes where it
    /// stopped), embedding chunk n+1 while chunk n is written.
    /// Re-embedding most of the catalog is a bulk load ([`crate::bulk_load`]).
    pub async fn reindex(&self, on_progress: impl FnMut(ImportProgress)) -> Result<usize> {
        let model_id = self.model_id().to_string();
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM items WHERE model_id IS DISTINCT FROM $1")
                .bind(&model_id)
                .fetch_one(self.jobs_pool())
                .await?;
        let existing = self.catalog_size().await?.max(0) as usize;
        let load = if rebuild_pays(total.max(0) as usize, existing, self.settings.bulk_load_min) {
            Some(self.begin_bulk_load().await?)
        } else {
            None
        };
        let reindexed = self.reindex_chunks(total, &model_id, on_progress).await;
        match load {
            Some(load) => self.end_bulk_load(load).await?,
            None => self.rebuild_deferred_indexes().await?,
        };
        reindexed
    }

    /// The chunk loop of [`Engine::reindex`] over `total` items to re-embed.
    async fn reindex_chunks(
        &self,
        total: i64,
        model_id: &str,
        mut on_progress: impl FnMut(ImportProgress),
    ) -> Result<usize> {
        let model_id = model_id.to_string();
        let mut progress = ImportProgress {
            done: 0,
            total: total as usize,
            embedded: 0,
        };
        // Keyset pagination: the next chunk can be read before the previous one
        // is committed without reading the same rows twice.
        let mut after = 0i64;
        // (item id, content hash it was embedded from) and the new vectors.
        type Reembedded = (Vec<(i64, String)>, Vec<Vec<f32>>);
        let mut pending: Option<Reembedded> = None;
        loop {
            let rows: Vec<(i64, String, String, Vec<String>, String)> = sqlx::query_as(
                "SELECT id, title, description, tags, content_hash FROM items
                  WHERE model_id IS DISTINCT FROM $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(&model_id)
            .bind(after)
            .bind(IMPORT_CHUNK as i64)
            .fetch_all(self.jobs_pool())
            .await?;
            if let Some(last) = rows.last() {
                after = last.0;
            }
            let previous = pending.take();
            let write = async {
                match previous {
                    Some((keys, vectors)) => self
                        .write_reindexed(&keys, vectors, &model_id)
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            };
            let keys: Vec<(i64, String)> = rows.iter().map(|r| (r.0, r.4.clone())).collect();
            let texts: Vec<String> = rows
                .iter()
                .map(|(_, t, d, tags, _)| embedding_text(t, d, tags))
                .collect();
            let (written, vectors) = tokio::join!(
                write,
                self.embedder.embed_when_free(texts, TextKind::Passage)
            );
            if let Some(n) = written? {
                progress.done += n;
                progress.embedded += n;
                on_progress(progress);
            }
            if rows.is_empty() {
                break;
            }
            pending = Some((keys, vectors?));
        }
        Ok(progress.done)
    }

    /// Stores re-embedded vectors in one transaction. An item whose text
    /// changed meanwhile (another content hash) keeps the vector its new text
    /// got from the import; it is not counted.
    async fn write_reindexed(
        &self,
        keys: &[(i64, String)],
        vectors: Vec<Vec<f32>>,
        model_id: &str,
    ) -> Result<usize> {
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        let mut n = 0;
        for ((id, hash), vector) in keys.iter().zip(vectors) {
            n += sqlx::query(
                "UPDATE items SET embedding = $2, model_id = $3, embedded_at = now()
                  WHERE id = $1 AND content_hash = $4",
            )
            .bind(id)
            .bind(pgvector::Vector::from(vector))
            .bind(model_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected() as usize;
        }
        tx.commit().await?;
        Ok(n)
    }
}
