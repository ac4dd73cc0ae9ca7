//! The ranker's shipped model: a linear score over the candidate features
//! (`fusion::Features`), semantic weight 1. `semrec-eval --write-ranker` regenerates
//! this file from the validation split: pairwise logistic regression or coordinate
//! ascent on nDCG@10, whichever 5-fold cross-validation over users prefers
//! (negatives from the candidate pool, a seeded tenth of the items masked as
//! cold); see docs/EVALUATION.md.
//! The engine's defaults (`DEFAULT_*_WEIGHT`) come from here.

use super::fusion::FusionWeights;

/// Which training produced [`WEIGHTS`].
pub const VERSION: &str = "coordinate ascent on nDCG@10, plots validation, seed 42";

/// The model.
pub const WEIGHTS: FusionWeights = FusionWeights {
    popularity: 0.0,
    collaborative: 1.6,
    lexical: 0.5,
    semantic_mean: 1.0,
    scarcity: 0.4,
};
