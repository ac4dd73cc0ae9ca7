//! How the candidate channels' scores become one ranking score.
//!
//! Every candidate, whichever channel found it, gets every feature: its semantic
//! score (max-sim: best recency-weighted cosine to a profile element), its
//! collaborative score (Σ of the stored neighbour weights from the user's history,
//! scaled per list so the best candidate has 1; negative where the history's
//! neighbours speak against it), its lexical score (`ts_rank_cd`, scaled the same
//! way), the popularity prior in [0, 1], and its scarcity (1 for an item nobody has
//! had yet, falling with the users who had it).
//! The ranking score is a weighted sum with the semantic score as the unit.

use serde::{Deserialize, Serialize};

/// What each channel says about one candidate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Max-sim: the best recency-weighted cosine to a profile element; one query
    /// vector: its cosine.
    pub semantic: f32,
    /// Max-sim: the mean recency-weighted cosine over the profile's elements (how
    /// much of the whole profile the item matches); one query vector: its cosine.
    #[serde(default)]
    pub semantic_mean: f32,
    /// In [-1, 1] within one list (0 when no history item lists it as a neighbour;
    /// negative when the history's stored neighbour weights sum below 0).
    pub collaborative: f32,
    /// The popularity prior in [0, 1] (`recommend::prior`).
    pub popularity: f32,
    /// The lexical channel's `ts_rank_cd`, scaled per list like the collaborative
    /// score (0 when the item does not match the profile's terms).
    #[serde(default)]
    pub lexical: f32,
    /// 1 / (1 + users who had the item): 1 for an item with no interactions yet; 0
    /// when the collaborative channel has no history to read. It tells "no
    /// collaborative signal yet" from "a weak one", so the ranker need not learn that
    /// a new item is a bad one (training masks items as cold for that).
    #[serde(default)]
    pub scarcity: f32,
}

/// `Features::scarcity` of an item `users` distinct users had.
pub fn scarcity(users: i64) -> f32 {
    1.0 / (1.0 + users.max(0) as f32)
}

/// Weights of the features other than the semantic score (whose weight is 1): the
/// learned ranker's model (`ranking::trained`), or set by hand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FusionWeights {
    pub popularity: f32,
    pub collaborative: f32,
    #[serde(default)]
    pub lexical: f32,
    #[serde(default)]
    pub semantic_mean: f32,
    #[serde(default)]
    pub scarcity: f32,
}

/// The ranking score: semantic + w_mean · semantic_mean + w_pop · popularity +
/// w_col · collaborative + w_lex · lexical + w_scarcity · scarcity.
pub fn fuse(f: &Features, w: &FusionWeights) -> f32 {
    f.semantic
        + w.semantic_mean * f.semantic_mean
        + w.popularity * f.popularity
        + w.collaborative * f.collaborative
        + w.lexical * f.lexical
        + w.scarcity * f.scarcity
}

/// Raw scores of one list scaled by the largest positive one, so the best has 1;
/// negative scores keep their sign, at most -1. All 0 when no score is positive.
pub fn scale_per_list(raw: &[f64]) -> Vec<f32> {
    let max = raw.iter().copied().fold(0.0, f64::max);
    raw.iter()
        .map(|&r| {
            if max > 0.0 {
                (r / max).clamp(-1.0, 1.0) as f32
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_is_a_weighted_sum_with_the_semantic_score_as_unit() {
        let f = Features {
            semantic: 0.5,
            collaborative: 1.0,
            popularity: 0.25,
            lexical: 0.0,
            semantic_mean: 0.0,
            scarcity: 0.0,
        };
        let w = FusionWeights {
            popularity: 0.4,
            collaborative: 0.2,
            lexical: 0.0,
            semantic_mean: 0.0,
            scarcity: 0.0,
        };
        assert!((fuse(&f, &w) - (0.5 + 0.1 + 0.2)).abs() < 1e-6);
        assert_eq!(fuse(&f, &FusionWeights::default()), 0.5);
        let new = Features {
            scarcity: scarcity(0),
            ..f
        };
        let lift = FusionWeights { scarcity: 0.3, ..w };
        assert!((fuse(&new, &lift) - fuse(&f, &w) - 0.3).abs() < 1e-6);
    }

    #[test]
    fn scarcity_is_one_for_an_item_nobody_had_and_falls_with_users() {
        assert_eq!(scarcity(0), 1.0);
        assert_eq!(scarcity(1), 0.5);
        assert!(scarcity(1000) < 0.001);
        assert_eq!(scarcity(-3), 1.0);
    }

    #[test]
    fn collaborative_scores_are_scaled_per_list() {
        assert_eq!(
            scale_per_list(&[2.0, 1.0, 0.0, -1.0, -9.0]),
            vec![1.0, 0.5, 0.0, -0.5, -1.0]
        );
        assert_eq!(scale_per_list(&[0.0, -1.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn a_strong_collaborative_signal_outranks_a_slightly_closer_text() {
        // A: a bit closer in text, no one who had the history had it; B: the history's
        // strongest neighbour. With weight 0.2 B wins; with weight 0 the order is A, B.
        let a = Features {
            semantic: 0.60,
            collaborative: 0.0,
            popularity: 0.5,
            lexical: 0.0,
            semantic_mean: 0.0,
            scarcity: 0.0,
        };
        let b = Features {
            semantic: 0.55,
            collaborative: 1.0,
            popularity: 0.5,
            lexical: 0.0,
            semantic_mean: 0.0,
            scarcity: 0.0,
        };
        let on = FusionWeights {
            popularity: 0.5,
            collaborative: 0.2,
            lexical: 0.0,
            semantic_mean: 0.0,
            scarcity: 0.0,
        };
        let off = FusionWeights {
            collaborative: 0.0,
            ..on
        };
        assert!(fuse(&b, &on) > fuse(&a, &on));
        assert!(fuse(&a, &off) > fuse(&b, &off));
    }
}
