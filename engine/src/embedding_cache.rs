//! An in-process LRU of query embeddings in front of the embedding service:
//! profile elements ("jazz", "science fiction") and search phrases repeat across
//! users and requests, and a hit costs a hash lookup instead of a forward pass.
//!
//! Keyed by (model id, text kind, text), bounded by memory: each entry counts its
//! text, its vector and a fixed overhead against the byte budget
//! (`SEMREC_EMBED_CACHE_MB`), and the least recently used entries go first. Hits
//! and misses are counted for the logs and the admin dashboard.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashlink::LruCache;
use serde::{Deserialize, Serialize};

use crate::embed::{EmbedError, TextKind};
use crate::Engine;

/// Default of the byte budget (`SEMREC_EMBED_CACHE_MB`).
pub const DEFAULT_BUDGET_MB: usize = 64;
/// What an entry costs beyond its text and vector: the map slot, the list links,
/// the key's and vector's headers (an estimate on the safe side).
const ENTRY_OVERHEAD: usize = 128;
/// Lookups between two log lines with the hit rate.
const LOG_EVERY: u64 = 1_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    model: Arc<str>,
    kind: TextKind,
    text: String,
}

impl Key {
    fn bytes(&self, dims: usize) -> usize {
        self.text.len() + dims * std::mem::size_of::<f32>() + ENTRY_OVERHEAD
    }
}

struct Lru {
    entries: LruCache<Key, Arc<[f32]>>,
    bytes: usize,
}

/// Hits, misses and size since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    pub bytes: usize,
    pub budget_bytes: usize,
}

impl CacheStats {
    /// Hits / lookups; `None` before the first lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }
}

struct Inner {
    lru: Mutex<Lru>,
    budget: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The cache an [`Engine`] and its clones share.
#[derive(Clone)]
pub struct EmbeddingCache {
    inner: Arc<Inner>,
}

impl Default for EmbeddingCache {
    fn default() -> Self {
        Self::with_budget_mb(DEFAULT_BUDGET_MB)
    }
}

impl std::fmt::Debug for EmbeddingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EmbeddingCache")
            .field(&self.stats())
            .finish()
    }
}

impl EmbeddingCache {
    /// A cache of at most `bytes`; 0 = off (every lookup misses, nothing is kept).
    pub fn with_budget(bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                lru: Mutex::new(Lru {
                    entries: LruCache::new_unbounded(),
                    bytes: 0,
                }),
                budget: bytes,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
            }),
        }
    }

    pub fn with_budget_mb(mb: usize) -> Self {
        Self::with_budget(mb.saturating_mul(1 << 20))
    }

    fn lru(&self) -> MutexGuard<'_, Lru> {
        self.inner.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The vector of `text`, marking it most recently used; counts a hit or a miss.
    pub fn get(&self, model: &Arc<str>, kind: TextKind, text: &str) -> Option<Arc<[f32]>> {
        let key = Key {
            model: model.clone(),
            kind,
            text: text.to_string(),
        };
        let found = self.lru().entries.get(&key).cloned();
        let counter = if found.is_some() {
            &self.inner.hits
        } else {
            &self.inner.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let s = self.counts();
        if (s.0 + s.1).is_multiple_of(LOG_EVERY) {
            let s = self.stats();
            tracing::info!(
                hit_rate = s.hit_rate().unwrap_or(0.0),
                hits = s.hits,
                misses = s.misses,
                entries = s.entries,
                mib = s.bytes >> 20,
                "embedding cache"
            );
        }
        found
    }

    /// Keeps `vector` for `text`, evicting the least recently used entries beyond
    /// the budget. An entry larger than the whole budget is not kept.
    pub fn insert(&self, model: &Arc<str>, kind: TextKind, text: &str, vector: Arc<[f32]>) {
        let key = Key {
            model: model.clone(),
            kind,
            text: text.to_string(),
        };
        let size = key.bytes(vector.len());
        if size > self.inner.budget {
            return;
        }
        let mut lru = self.lru();
        if let Some(old) = lru.entries.insert(key.clone(), vector) {
            lru.bytes -= key.bytes(old.len());
        }
        lru.bytes += size;
        while lru.bytes > self.inner.budget {
            match lru.entries.remove_lru() {
                Some((k, v)) => lru.bytes -= k.bytes(v.len()),
                None => break,
            }
        }
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.inner.hits.load(Ordering::Relaxed),
            self.inner.misses.load(Ordering::Relaxed),
        )
    }

    pub fn stats(&self) -> CacheStats {
        let (hits, misses) = self.counts();
        let lru = self.lru();
        CacheStats {
            hits,
            misses,
            entries: lru.entries.len(),
            bytes: lru.bytes,
            budget_bytes: self.inner.budget,
        }
    }
}

impl Engine {
    /// [`crate::embed::EmbeddingService::embed`] through the cache: cached texts are
    /// not embedded again, the others (each once) in one request to the model.
    pub(crate) async fn embed_cached(
        &self,
        texts: Vec<String>,
        kind: TextKind,
    ) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        let model: Arc<str> = Arc::from(self.model_id());
        let cache = &self.embed_cache;
        let mut found: Vec<Option<Arc<[f32]>>> =
            texts.iter().map(|t| cache.get(&model, kind, t)).collect();
        let mut missing: Vec<String> = Vec::new();
        for (text, hit) in texts.iter().zip(&found) {
            if hit.is_none() && !missing.contains(text) {
                missing.push(text.clone());
            }
        }
        if !missing.is_empty() {
            let vectors = self.embedder.embed(missing.clone(), kind).await?;
            for (text, vector) in missing.iter().zip(vectors) {
                let vector: Arc<[f32]> = vector.into();
                cache.insert(&model, kind, text, vector.clone());
                for (t, slot) in texts.iter().zip(found.iter_mut()) {
                    if slot.is_none() && t == text {
                        *slot = Some(vector.clone());
                    }
                }
            }
        }
        tracing::debug!(
            texts = texts.len(),
            embedded = missing.len(),
            "embedding cache lookups"
        );
        Ok(found
            .into_iter()
            .map(|v| v.map(|v| v.to_vec()).unwrap_or_default())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIMS: usize = 4;

    fn model() -> Arc<str> {
        Arc::from("m")
    }

    fn v(x: f32) -> Arc<[f32]> {
        vec![x; DIMS].into()
    }

    /// Room for exactly `n` entries of one-byte texts.
    fn cache_of(n: usize) -> EmbeddingCache {
        EmbeddingCache::with_budget(n * (1 + DIMS * 4 + ENTRY_OVERHEAD))
    }

    #[test]
    fn hits_and_misses_are_counted() {
        let c = cache_of(4);
        let m = model();
        assert!(c.get(&m, TextKind::Query, "a").is_none());
        c.insert(&m, TextKind::Query, "a", v(1.0));
        assert_eq!(
            c.get(&m, TextKind::Query, "a").as_deref(),
            Some(&[1.0; DIMS][..])
        );
        // Another kind or model is another key.
        assert!(c.get(&m, TextKind::Passage, "a").is_none());
        assert!(c.get(&Arc::from("other"), TextKind::Query, "a").is_none());
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries), (1, 3, 1));
        assert_eq!(s.hit_rate(), Some(0.25));
    }

    #[test]
    fn the_byte_budget_is_respected_and_the_least_recently_used_goes_first() {
        let c = cache_of(3);
        let m = model();
        for (t, x) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
            c.insert(&m, TextKind::Query, t, v(x));
        }
        // "a" is used: "b" is now the least recently used.
        assert!(c.get(&m, TextKind::Query, "a").is_some());
        c.insert(&m, TextKind::Query, "d", v(4.0));
        let s = c.stats();
        assert_eq!(s.entries, 3);
        assert!(s.bytes <= s.budget_bytes, "{s:?}");
        assert!(c.get(&m, TextKind::Query, "b").is_none());
        for t in ["a", "c", "d"] {
            assert!(c.get(&m, TextKind::Query, t).is_some(), "{t} was evicted");
        }
        // Replacing an entry does not count it twice.
        c.insert(&m, TextKind::Query, "d", v(5.0));
        assert_eq!(c.stats().entries, 3);
        assert_eq!(c.stats().bytes, c.stats().budget_bytes);
    }

    #[test]
    fn an_entry_larger_than_the_budget_and_a_zero_budget_keep_nothing() {
        let c = cache_of(1);
        let m = model();
        c.insert(&m, TextKind::Query, &"x".repeat(1000), v(1.0));
        assert_eq!(c.stats().entries, 0);
        let off = EmbeddingCache::with_budget(0);
        off.insert(&m, TextKind::Query, "a", v(1.0));
        assert!(off.get(&m, TextKind::Query, "a").is_none());
        assert_eq!(off.stats().bytes, 0);
    }
}
