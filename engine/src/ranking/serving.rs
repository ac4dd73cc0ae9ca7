//! Serving a ranked list: MMR diversity when asked, explanations, and the impression
//! that records what was shown.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::fusion::Features;
use super::ranker::Scored;
use crate::catalog::Item;
use crate::error::Result;
use crate::events::{ImpressionContext, ShownItem};
use crate::profile::{dot, ElementKind, ProfileQuery};
use crate::Engine;

/// Why an item was recommended: the profile element it is closest to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Explanation {
    pub kind: ElementKind,
    pub label: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Recommendation {
    pub rank: usize,
    /// Cosine similarity to the query (max-similarity profiles: to the profile element
    /// that explains the item). The order also counts the collaborative channel and the
    /// popularity prior (`EngineSettings::collaborative_weight`, `popularity_weight`),
    /// so it may not decrease down the list.
    pub score: f32,
    pub item: Item,
    pub explanation: Option<Explanation>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendationList {
    pub impression_id: uuid::Uuid,
    pub model_id: String,
    pub items: Vec<Recommendation>,
    /// Why the list may be poor (a language the model does not cover, a weak best
    /// match), for profile lists' first page (`crate::rules::confidence`).
    #[serde(default)]
    pub warning: Option<crate::rules::confidence::ListWarning>,
}

/// Where the time of one profile recommendation went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathTimings {
    /// Embedding the profile's texts (queueing for the model included).
    pub embed: Duration,
    /// Loading the stored vectors of the profile's history items (SQL).
    pub profile_vectors: Duration,
    /// Finding and ranking candidates: the HNSW query (one scan per profile element
    /// for max-sim), the popularity lookup (SQL) and the scoring.
    pub rank: Duration,
    /// Writing the impression (SQL) and building the list.
    pub record: Duration,
    pub total: Duration,
}

/// Whether serving a list stores an impression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Recording {
    Record(ImpressionContext),
    /// Stored with the request's key and the cards' notes, so the same request
    /// within a while gets this list back (`crate::resume`).
    Resumable {
        context: ImpressionContext,
        key: String,
        warning: Option<crate::rules::confidence::ListWarning>,
    },
    DryRun,
}

impl Engine {
    pub(super) async fn serve(
        &self,
        user_id: Option<i64>,
        recording: Recording,
        query: &[f32],
        candidates: Vec<Scored>,
        offset: usize,
        ranked_for: Option<(&ProfileQuery, Option<i32>)>,
    ) -> Result<RecommendationList> {
        // A profile's list was ranked by the ranker: its features are logged for
        // training, with the model's version.
        let (profile, ranker_version) = match ranked_for {
            Some((p, v)) => (Some(p), v),
            None => (None, None),
        };
        let features: Vec<Option<Features>> = candidates
            .iter()
            .map(|s| profile.map(|_| s.features))
            .collect();
        let items: Vec<Recommendation> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, s)| Recommendation {
                rank: offset + i + 1,
                score: s.similarity,
                explanation: profile
                    .and_then(|p| match s.element {
                        Some(e) => p.elements.get(e).map(|(e, _)| e.clone()),
                        None => p.explain(&s.candidate.vector),
                    })
                    .map(|e| Explanation {
                        kind: e.kind,
                        label: e.label,
                    }),
                item: s.candidate.item,
            })
            .collect();
        let shown: Vec<ShownItem> = items
            .iter()
            .zip(features)
            .map(|(r, features)| ShownItem {
                item_id: r.item.id,
                rank: r.rank,
                score: r.score,
                features,
            })
            .collect();
        let impression_id = match recording {
            Recording::Record(context) => {
                self.record_ranked_impression(user_id, context, Some(query), &shown, ranker_version)
                    .await?
            }
            Recording::Resumable {
                context,
                key,
                warning,
            } => {
                let notes = crate::resume::ListNotes::of(&items, warning);
                self.record_resumable_impression(
                    user_id,
                    context,
                    Some(query),
                    &shown,
                    ranker_version,
                    (key, notes),
                )
                .await?
            }
            Recording::DryRun => uuid::Uuid::nil(),
        };
        Ok(RecommendationList {
            impression_id,
            model_id: self.model_id().to_string(),
            items,
            warning: None,
        })
    }
}

/// Maximal marginal relevance: greedily trades the ranking score against similarity
/// to what is already picked. Input sorted by score, best first.
///
/// Each candidate keeps its running maximum similarity to the picked items, so a pick
/// costs one dot product per remaining candidate: pool × k in all, not pool × k².
pub(super) fn mmr(pool: Vec<Scored>, lambda: f32, k: usize) -> Vec<Scored> {
    let mut remaining: Vec<(Scored, f32)> = pool.into_iter().map(|c| (c, f32::MIN)).collect();
    let mut picked: Vec<Scored> = Vec::with_capacity(k.min(remaining.len()));
    while picked.len() < k && !remaining.is_empty() {
        let best = remaining
            .iter()
            .enumerate()
            .map(|(i, (c, redundancy))| {
                let redundancy = if picked.is_empty() { 0.0 } else { *redundancy };
                (i, lambda * c.score - (1.0 - lambda) * redundancy)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i);
        // `remove`, not `swap_remove`: ties go to the earlier (better-scored) candidate.
        let (chosen, _) = remaining.remove(best);
        for (c, redundancy) in &mut remaining {
            *redundancy = redundancy.max(dot(&chosen.candidate.vector, &c.candidate.vector));
        }
        picked.push(chosen);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::fusion::Features;
    use crate::ranking::semantic::Candidate;

    fn cand(id: i64, v: [f32; 2], q: [f32; 2]) -> Scored {
        let similarity = dot(&v, &q);
        Scored {
            candidate: Candidate {
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
                distance: (1.0 - similarity) as f64,
                vector: v.to_vec(),
                popularity: 0,
            },
            similarity,
            score: similarity,
            element: None,
            features: Features::default(),
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
        let ids = |v: Vec<Scored>| {
            v.into_iter()
                .map(|c| c.candidate.item.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(mmr(pool(), 1.0, 3)), vec![1, 2, 3]);
        // Item 2 is a near-copy of item 1: diversity moves item 3 ahead of it.
        assert_eq!(ids(mmr(pool(), 0.3, 2)), vec![1, 3]);
    }
}
