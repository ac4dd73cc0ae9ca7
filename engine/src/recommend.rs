//! Nearest-neighbour recommendation in SQL: cosine distance ascending over the
//! HNSW index, with filters, exclusions, MMR diversity and explanations.

use serde::{Deserialize, Serialize};

use crate::catalog::Item;
use crate::error::{EngineError, Result};
use crate::events::{ImpressionContext, ShownItem};
use crate::profile::{dot, ElementKind, Profile, ProfileQuery};
use crate::Engine;

pub const MAX_K: usize = 100;
pub const MAX_OFFSET: usize = 1000;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Filters {
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Items carrying at least one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendOptions {
    pub k: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub filters: Filters,
    /// MMR trade-off: 1.0 = pure relevance, lower = more diverse. None = off.
    #[serde(default)]
    pub diversity_lambda: Option<f32>,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        Self {
            k: 10,
            offset: 0,
            filters: Filters::default(),
            diversity_lambda: None,
        }
    }
}

impl RecommendOptions {
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_K).contains(&self.k) {
            return Err(EngineError::Invalid(format!(
                "k must be between 1 and {MAX_K}, got {}",
                self.k
            )));
        }
        if self.offset > MAX_OFFSET {
            return Err(EngineError::Invalid(format!(
                "offset must be at most {MAX_OFFSET}"
            )));
        }
        if let Some(l) = self.diversity_lambda {
            if !(0.0..=1.0).contains(&l) {
                return Err(EngineError::Invalid(
                    "diversity_lambda must be between 0 and 1".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Why an item was recommended: the profile element it is closest to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Explanation {
    pub kind: ElementKind,
    pub label: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Recommendation {
    pub rank: usize,
    /// Cosine similarity (1 − cosine distance).
    pub score: f32,
    pub item: Item,
    pub explanation: Option<Explanation>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendationList {
    pub impression_id: uuid::Uuid,
    pub model_id: String,
    pub items: Vec<Recommendation>,
}

/// A candidate from the index with its vector (for MMR and explanations).
struct Candidate {
    item: Item,
    distance: f64,
    vector: Vec<f32>,
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    #[sqlx(flatten)]
    item: Item,
    embedding: pgvector::Vector,
    distance: f64,
}

/// Whether serving a list stores an impression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recording {
    Record(ImpressionContext),
    DryRun,
}

/// What to leave out of a list.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    /// Exclude items this user consumed, clicked or dismissed.
    pub user_id: Option<i64>,
    pub item_ids: Vec<i64>,
}

impl Engine {
    /// Nearest items to `query` by cosine distance, smallest first.
    async fn nearest(
        &self,
        query: &[f32],
        limit: usize,
        offset: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<Vec<Candidate>> {
        let mut tx = self.pool().begin().await?;
        // iterative_scan keeps filtered HNSW queries from returning fewer than LIMIT rows.
        sqlx::query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)")
            .bind(self.settings.ef_search.max((limit + offset) as u32).min(1000).to_string())
            .execute(&mut *tx)
            .await?;
        let none_if_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let rows: Vec<CandidateRow> =
            sqlx::query_as(
                "SELECT id, external_id, title, description, language, source, tags, url, embedding,
                        embedding <=> $1 AS distance
                 FROM items
                 WHERE embedding IS NOT NULL AND model_id = $2
                   AND ($3::text[] IS NULL OR language = ANY($3))
                   AND ($4::text[] IS NULL OR source = ANY($4))
                   AND ($5::text[] IS NULL OR tags && $5)
                   AND NOT (id = ANY($6))
                   AND ($7::bigint IS NULL OR NOT EXISTS (
                        SELECT 1 FROM profile_history h WHERE h.user_id = $7 AND h.item_id = items.id
                        UNION ALL SELECT 1 FROM dismissals d WHERE d.user_id = $7 AND d.item_id = items.id
                        UNION ALL SELECT 1 FROM clicks c JOIN impressions i ON i.id = c.impression_id
                                  WHERE i.user_id = $7 AND c.item_id = items.id))
                 ORDER BY embedding <=> $1 ASC
                 LIMIT $8 OFFSET $9",
            )
            .bind(pgvector::Vector::from(query.to_vec()))
            .bind(self.model_id())
            .bind(none_if_empty(&filters.languages))
            .bind(none_if_empty(&filters.sources))
            .bind(none_if_empty(&filters.tags))
            .bind(&exclusions.item_ids)
            .bind(exclusions.user_id)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut out: Vec<Candidate> = rows
            .into_iter()
            .map(|r| Candidate {
                item: r.item,
                distance: r.distance,
                vector: r.embedding.to_vec(),
            })
            .collect();
        // relaxed_order may return near-ties slightly out of order.
        out.sort_by(|a, b| {
            a.distance
                .total_cmp(&b.distance)
                .then(a.item.id.cmp(&b.item.id))
        });
        Ok(out)
    }

    async fn rank(
        &self,
        query: &[f32],
        opts: &RecommendOptions,
        exclusions: &Exclusions,
    ) -> Result<Vec<Candidate>> {
        opts.validate()?;
        match opts.diversity_lambda {
            Some(lambda) if lambda < 1.0 => {
                let pool = self
                    .nearest(
                        query,
                        (opts.offset + opts.k) * 4,
                        0,
                        &opts.filters,
                        exclusions,
                    )
                    .await?;
                let mut picked = mmr(pool, lambda, opts.offset + opts.k);
                Ok(picked.split_off(opts.offset.min(picked.len())))
            }
            _ => {
                self.nearest(query, opts.k, opts.offset, &opts.filters, exclusions)
                    .await
            }
        }
    }

    /// Recommendations for a stored user's profile; records the impression.
    pub async fn recommend_for_user(
        &self,
        user_id: i64,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        let profile = self.load_profile(user_id).await?;
        self.recommend_for_profile(Some(user_id), &profile, opts, ImpressionContext::Profile)
            .await
    }

    /// Recommendations for any profile (the user may be anonymous); records the impression.
    pub async fn recommend_for_profile(
        &self,
        user_id: Option<i64>,
        profile: &Profile,
        opts: &RecommendOptions,
        context: ImpressionContext,
    ) -> Result<RecommendationList> {
        self.recommend_profile(user_id, profile, opts, Recording::Record(context))
            .await
    }

    /// Exactly what [`Engine::recommend_for_user`] would serve, without recording an
    /// impression (offline evaluation must not write events). `impression_id` is nil.
    pub async fn preview_for_user(
        &self,
        user_id: i64,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        let profile = self.load_profile(user_id).await?;
        self.recommend_profile(Some(user_id), &profile, opts, Recording::DryRun)
            .await
    }

    async fn recommend_profile(
        &self,
        user_id: Option<i64>,
        profile: &Profile,
        opts: &RecommendOptions,
        recording: Recording,
    ) -> Result<RecommendationList> {
        opts.validate()?;
        let query = self.profile_query(profile).await?;
        let exclusions = Exclusions {
            user_id,
            item_ids: query
                .elements
                .iter()
                .filter_map(|(e, _)| e.item_id)
                .collect(),
        };
        let candidates = self.rank(&query.vector, opts, &exclusions).await?;
        self.serve(
            user_id,
            recording,
            &query.vector,
            candidates,
            opts.offset,
            Some(&query),
        )
        .await
    }

    /// "More like this": nearest items to a catalog item, itself excluded.
    pub async fn similar_items(
        &self,
        user_id: Option<i64>,
        external_id: &str,
        opts: &RecommendOptions,
    ) -> Result<RecommendationList> {
        opts.validate()?;
        let row: Option<(i64, Option<pgvector::Vector>, String)> =
            sqlx::query_as("SELECT id, embedding, title FROM items WHERE external_id = $1")
                .bind(external_id)
                .fetch_optional(self.pool())
                .await?;
        let (id, vector, _title) =
            row.ok_or_else(|| EngineError::NotFound(format!("item '{external_id}'")))?;
        let vector = vector
            .ok_or_else(|| {
                EngineError::Conflict(format!(
                    "item '{external_id}' has no embedding yet: run reindex"
                ))
            })?
            .to_vec();
        let exclusions = Exclusions {
            user_id,
            item_ids: vec![id],
        };
        let candidates = self.rank(&vector, opts, &exclusions).await?;
        self.serve(
            user_id,
            Recording::Record(ImpressionContext::Similar),
            &vector,
            candidates,
            opts.offset,
            None,
        )
        .await
    }

    async fn serve(
        &self,
        user_id: Option<i64>,
        recording: Recording,
        query: &[f32],
        candidates: Vec<Candidate>,
        offset: usize,
        profile: Option<&ProfileQuery>,
    ) -> Result<RecommendationList> {
        let items: Vec<Recommendation> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| Recommendation {
                rank: offset + i + 1,
                score: (1.0 - c.distance) as f32,
                explanation: profile
                    .and_then(|p| p.explain(&c.vector))
                    .map(|e| Explanation {
                        kind: e.kind,
                        label: e.label,
                    }),
                item: c.item,
            })
            .collect();
        let shown: Vec<ShownItem> = items
            .iter()
            .map(|r| ShownItem {
                item_id: r.item.id,
                rank: r.rank,
                score: r.score,
            })
            .collect();
        let impression_id = match recording {
            Recording::Record(context) => {
                self.record_impression(user_id, context, Some(query), &shown)
                    .await?
            }
            Recording::DryRun => uuid::Uuid::nil(),
        };
        Ok(RecommendationList {
            impression_id,
            model_id: self.model_id().to_string(),
            items,
        })
    }
}

/// Maximal marginal relevance: greedily trades similarity to the query against
/// similarity to what is already picked. Input sorted by distance.
fn mmr(mut pool: Vec<Candidate>, lambda: f32, k: usize) -> Vec<Candidate> {
    let mut picked: Vec<Candidate> = Vec::with_capacity(k);
    while picked.len() < k && !pool.is_empty() {
        let best = pool
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let relevance = 1.0 - c.distance as f32;
                let redundancy = picked
                    .iter()
                    .map(|p| dot(&p.vector, &c.vector))
                    .fold(f32::MIN, f32::max);
                let redundancy = if picked.is_empty() { 0.0 } else { redundancy };
                (i, lambda * relevance - (1.0 - lambda) * redundancy)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        picked.push(pool.remove(best));
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i64, v: [f32; 2], q: [f32; 2]) -> Candidate {
        Candidate {
            item: Item {
                id,
                external_id: id.to_string(),
                title: String::new(),
                description: String::new(),
                language: "en".into(),
                source: String::new(),
                tags: vec![],
                url: None,
            },
            distance: (1.0 - dot(&v, &q)) as f64,
            vector: v.to_vec(),
        }
    }

    #[test]
    fn mmr_with_lambda_one_keeps_relevance_order_and_low_lambda_diversifies() {
        let q = [1.0, 0.0];
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let pool = || {
            vec![
                cand(1, [1.0, 0.0], q),
                cand(2, [0.999, 0.0447], q),
                cand(3, [s, s], q),
            ]
        };
        let ids = |v: Vec<Candidate>| v.into_iter().map(|c| c.item.id).collect::<Vec<_>>();
        assert_eq!(ids(mmr(pool(), 1.0, 3)), vec![1, 2, 3]);
        // Item 2 is a near-copy of item 1: diversity moves item 3 ahead of it.
        assert_eq!(ids(mmr(pool(), 0.3, 2)), vec![1, 3]);
    }

    #[test]
    fn options_are_validated() {
        let ok = RecommendOptions::default();
        assert!(ok.validate().is_ok());
        assert!(RecommendOptions { k: 0, ..ok.clone() }.validate().is_err());
        assert!(RecommendOptions {
            k: 101,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(RecommendOptions {
            diversity_lambda: Some(1.5),
            ..ok
        }
        .validate()
        .is_err());
    }
}
