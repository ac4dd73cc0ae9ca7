//! The ranker: gathers the channels' candidates into one pool, gives every
//! candidate every feature, and orders the pool by the fused score.

use std::collections::{HashMap, HashSet};

use super::fusion::{fuse, scale_per_list, scarcity, Features, FusionWeights};
use super::options::{Exclusions, RecommendOptions};
use super::popularity::prior;
use super::semantic::Candidate;
use super::serving::mmr;
use crate::error::{EngineError, Result};
use crate::profile::{dot, ProfileQuery};
use crate::Engine;

/// A candidate with the scores the list is ordered by.
pub(super) struct Scored {
    pub(super) candidate: Candidate,
    /// What `Recommendation::score` shows.
    pub(super) similarity: f32,
    /// Similarity plus the popularity prior: the ranking key.
    pub(super) score: f32,
    /// Index of the profile element that explains it, when scoring picked one.
    pub(super) element: Option<usize>,
    /// What each channel says about it (the score is their fusion).
    pub(super) features: Features,
}

// rules hook: what the business rules (`crate::rules`) see of a candidate.
impl crate::rules::Ranked for Scored {
    fn item_id(&self) -> i64 {
        self.candidate.item.id
    }
    fn vector(&self) -> &[f32] {
        &self.candidate.vector
    }
    fn score(&self) -> f32 {
        self.score
    }
    fn semantic(&self) -> f32 {
        self.features.semantic
    }
    fn penalise(&mut self, by: f32) {
        self.score -= by;
        self.features.semantic -= by;
    }
    fn element(&self) -> Option<usize> {
        self.element
    }
    fn shown(&self) -> f32 {
        self.similarity
    }
    fn set_shown(&mut self, shown: f32) {
        self.similarity = shown;
    }
}

/// How candidates are found and scored.
#[derive(Clone, Copy)]
pub(super) enum Scoring<'a> {
    /// Nearest to one vector; `prior` = whether the popularity prior applies.
    Nearest { query: &'a [f32], prior: bool },
    /// Union of every profile element's neighbours, best weighted similarity wins.
    MaxSim(&'a ProfileQuery),
}

impl Engine {
    /// Candidates scored and ordered: the first `offset + k` (after MMR when asked),
    /// or with `whole_pool` every candidate found, best first. `inputs`: what the
    /// channels other than the semantic one start from.
    pub(super) async fn rank(
        &self,
        scoring: Scoring<'_>,
        opts: &RecommendOptions,
        exclusions: &Exclusions,
        inputs: &ChannelInputs,
        whole_pool: bool,
    ) -> Result<Vec<Scored>> {
        let history = inputs.history.as_slice();
        opts.validate()?;
        let weight = self.settings.popularity_weight.max(0.0);
        let want = opts.offset + opts.k;
        let diversify = matches!(opts.diversity_lambda, Some(l) if l < 1.0);
        let with_prior = weight > 0.0
            && match scoring {
                Scoring::Nearest { prior, .. } => prior,
                Scoring::MaxSim(_) => true,
            };
        let similarity_only = |c: Candidate| {
            let similarity = (1.0 - c.distance) as f32;
            Scored {
                candidate: c,
                similarity,
                score: similarity,
                element: None,
                features: Features::default(),
            }
        };
        let col_weight = self.settings.collaborative_weight.max(0.0);
        let channel = !history.is_empty() && (col_weight > 0.0 || whole_pool);
        let lex_weight = self.settings.lexical_weight.max(0.0);
        let lexical_query = if (lex_weight > 0.0 || whole_pool)
            && !(inputs.lexical_texts.is_empty() && inputs.lexical_history.is_empty())
        {
            self.lexical_query(&inputs.lexical_texts, &inputs.lexical_history)
                .await?
        } else {
            None
        };
        if let Scoring::Nearest { query, .. } = scoring {
            if !with_prior && !diversify && !channel && lexical_query.is_none() && !whole_pool {
                // The index order is the answer: let SQL cut the page.
                let page = self
                    .nearest(query, opts.k, opts.offset, &opts.filters, exclusions)
                    .await?;
                return Ok(page.into_iter().map(similarity_only).collect());
            }
        }
        // Re-ranking can only reorder what the index returns: fetch a pool that
        // covers the page (and MMR's choice) with room for the prior to act.
        let pool_size = self
            .settings
            .candidate_pool
            .max(if diversify { want * 4 } else { want });
        let pool = match scoring {
            Scoring::Nearest { query, .. } => {
                self.nearest(query, pool_size, 0, &opts.filters, exclusions)
                    .await?
            }
            Scoring::MaxSim(profile) => {
                let queries: Vec<&[f32]> =
                    profile.elements.iter().map(|(_, v)| v.as_slice()).collect();
                // Every item of the exact max-sim top `want` is among its best
                // element's `want` nearest, so per-element lists of `want` lose
                // nothing before the prior; the pool size adds room for the prior.
                let per_query = (pool_size / queries.len().max(1)).max(want);
                self.nearest_each_concurrently(&queries, per_query, &opts.filters, exclusions)
                    .await?
            }
        };
        let mut pool = pool;
        let mut known: HashSet<i64> = pool.iter().map(|c| c.item.id).collect();
        // The other channels: their candidates join the pool, then every candidate
        // gets each channel's score.
        let mut raw_collab: HashMap<i64, f64> = HashMap::new();
        if channel {
            let found = self
                .collaborative_candidates(history, pool_size, &opts.filters, exclusions)
                .await?;
            join_channel(&mut pool, &mut known, found, &mut raw_collab);
        }
        let mut raw_lexical: HashMap<i64, f64> = HashMap::new();
        if let Some(q) = &lexical_query {
            if let Some(channel_query) = &q.channel {
                let found = self
                    .lexical_candidates(channel_query, pool_size, &opts.filters, exclusions)
                    .await?;
                join_channel(&mut pool, &mut known, found, &mut raw_lexical);
                if *channel_query != q.all {
                    // Found by the rarest terms; scored, like every candidate, by all.
                    raw_lexical.clear();
                }
            }
        }
        let ids: Vec<i64> = pool.iter().map(|c| c.item.id).collect();
        if channel {
            let missing = unscored(&ids, &raw_collab);
            raw_collab.extend(self.collaborative_scores(history, &missing).await?);
        }
        if let Some(q) = &lexical_query {
            let missing = unscored(&ids, &raw_lexical);
            raw_lexical.extend(self.lexical_scores(&q.all, &missing).await?);
        }
        let raw: Vec<f64> = pool
            .iter()
            .map(|c| raw_lexical.get(&c.item.id).copied().unwrap_or(0.0))
            .collect();
        let lexical = scale_per_list(&raw);
        let raw: Vec<f64> = pool
            .iter()
            .map(|c| raw_collab.get(&c.item.id).copied().unwrap_or(0.0))
            .collect();
        let collab = scale_per_list(&raw);
        let weights = FusionWeights {
            popularity: if with_prior { weight } else { 0.0 },
            collaborative: if channel { col_weight } else { 0.0 },
            lexical: if lexical_query.is_some() {
                lex_weight
            } else {
                0.0
            },
            semantic_mean: self.settings.semantic_mean_weight,
            scarcity: self.settings.scarcity_weight,
        };
        let max_pop = if with_prior || whole_pool {
            self.max_popularity().await?
        } else {
            0
        };
        let mut scored: Vec<Scored> = pool
            .into_iter()
            .zip(collab.into_iter().zip(lexical))
            .map(|(c, (collaborative, lexical))| {
                let mut s = match scoring {
                    // The other channels' candidates carry no distance: the cosine
                    // comes from the vectors (unit length), as max-sim's does.
                    Scoring::Nearest { query, .. } => {
                        let similarity = dot(query, &c.vector);
                        Scored {
                            candidate: c,
                            similarity,
                            score: similarity,
                            element: None,
                            features: Features::default(),
                        }
                    }
                    Scoring::MaxSim(profile) => {
                        let (score, element) =
                            profile.max_sim(&c.vector).unwrap_or((f32::MIN, usize::MAX));
                        let similarity = profile
                            .elements
                            .get(element)
                            .map_or(score, |(_, v)| dot(v, &c.vector));
                        Scored {
                            candidate: c,
                            similarity,
                            score,
                            element: Some(element).filter(|&e| e != usize::MAX),
                            features: Features::default(),
                        }
                    }
                };
                let semantic_mean = match scoring {
                    Scoring::Nearest { .. } => s.score,
                    Scoring::MaxSim(profile) => profile.mean_sim(&s.candidate.vector),
                };
                s.features = Features {
                    semantic: s.score,
                    semantic_mean,
                    collaborative,
                    popularity: prior(s.candidate.popularity, max_pop),
                    lexical,
                    // What scarcity stands in for is the collaborative signal a new
                    // item cannot have yet: without a history there is none for any.
                    scarcity: if channel {
                        scarcity(s.candidate.popularity)
                    } else {
                        0.0
                    },
                };
                s.score = fuse(&s.features, &weights);
                // Carried more by the collaborative channel (the whole history's
                // neighbours) than by its best element's similarity: no one element
                // supplied it, so fair share does not count it against one. Its
                // explanation still names the closest element.
                if weights.collaborative * s.features.collaborative > s.features.semantic {
                    s.element = None;
                }
                s
            })
            .collect();
        // rules hook: negative elements ("not interested in", dismissals) lower the
        // score of candidates near them. The penalty is in units of similarity, and
        // the fused score counts similarity 1 + semantic_mean_weight times (best and
        // mean): scaled so, it weighs against the fused score as it was set to.
        if let Scoring::MaxSim(profile) = scoring {
            let base = &self.settings.rules.negative;
            let negative = crate::rules::negative::NegativeSettings {
                weight: base.weight * (1.0 + weights.semantic_mean.max(0.0)),
                ..base.clone()
            };
            crate::rules::negative::apply(&mut scored, &profile.negatives, &negative);
        }
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.candidate.item.id.cmp(&b.candidate.item.id))
        });
        if whole_pool {
            return Ok(scored);
        }
        // rules hook: fair share and exploration order the first `want` items of a
        // profile's list (MMR orders a diversified one by itself).
        if let (Scoring::MaxSim(profile), false) = (scoring, diversify) {
            let seed_user = user_key(exclusions.user_id, profile);
            scored = self
                .arrange_by_rules(
                    scored,
                    want,
                    profile.elements.len(),
                    &profile.negatives,
                    &seed_user,
                )
                .await?;
        }
        let mut picked = match opts.diversity_lambda {
            // A deep diversified page is CPU work (pool × offset+k dot products):
            // keep it off the async workers.
            Some(lambda) if diversify => {
                tokio::task::spawn_blocking(move || mmr(scored, lambda, want))
                    .await
                    .map_err(|e| EngineError::Internal(format!("diversity re-ranking: {e}")))?
            }
            _ => {
                scored.truncate(want);
                scored
            }
        };
        // rules hook: the shown score never rises down the list (from rank 1, so
        // pages agree).
        crate::rules::shown_score::apply(&mut picked);
        Ok(picked.split_off(opts.offset.min(picked.len())))
    }
}

/// What keys a user's lists where a stable per-user choice is made (exploration's
/// slots, the canary share): the user's id, or for anonymous lists the profile's
/// element labels.
pub(super) fn user_key(user_id: Option<i64>, profile: &ProfileQuery) -> String {
    match user_id {
        Some(id) => id.to_string(),
        None => profile
            .elements
            .iter()
            .map(|(e, _)| e.label.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// What the channels other than the semantic one start from.
#[derive(Clone, Debug, Default)]
pub(super) struct ChannelInputs {
    /// Collaborative: the user's consumed item ids.
    pub history: Vec<i64>,
    /// Lexical: the profile's texts (interests, classes, about, typed history)…
    pub lexical_texts: Vec<String>,
    /// …and the history items in its window.
    pub lexical_history: Vec<i64>,
}

impl ChannelInputs {
    /// A profile's inputs: `consumed` for the collaborative channel, the query's
    /// elements for the lexical one.
    pub(super) fn of_profile(query: &ProfileQuery, consumed: &[i64]) -> Self {
        let (items, texts): (Vec<_>, Vec<_>) = query
            .elements
            .iter()
            .partition(|(e, _)| e.item_id.is_some());
        Self {
            history: consumed.to_vec(),
            lexical_texts: texts.into_iter().map(|(e, _)| e.label.clone()).collect(),
            lexical_history: items.into_iter().filter_map(|(e, _)| e.item_id).collect(),
        }
    }
}

/// Adds a channel's candidates to the pool (each item once) and their raw scores.
fn join_channel(
    pool: &mut Vec<Candidate>,
    known: &mut HashSet<i64>,
    found: Vec<(Candidate, f64)>,
    raw: &mut HashMap<i64, f64>,
) {
    for (c, score) in found {
        raw.insert(c.item.id, score);
        if known.insert(c.item.id) {
            pool.push(c);
        }
    }
}

/// The ids of `ids` that a channel has not scored yet.
fn unscored(ids: &[i64], raw: &HashMap<i64, f64>) -> Vec<i64> {
    ids.iter()
        .copied()
        .filter(|id| !raw.contains_key(id))
        .collect()
}
