//! The ranker's shipped model: a linear score over the candidate features
//! (`fusion::Features`), semantic weight 1. `semrec-eval --write-ranker` regenerates
//! this file from a pairwise logistic regression on the validation split (5-fold
//! cross-validation over users for its L2 strength, negatives from the candidate
//! pool, a seeded tenth of the items masked as cold); see docs/EVALUATION.md.
//! The engine's defaults (`DEFAULT_*_WEIGHT`) come from here.

use super::fusion::FusionWeights;

/// Which training produced [`WEIGHTS`].
pub const VERSION: &str = "coordinate ascent on nDCG@10, plots validation, seed 42";

/// The model.
pub const WEIGHTS: FusionWeights = FusionWeights {
    popularity: 0.05,
    collaborative: 0.7,
    lexical: 0.1,
    semantic_mean: 0.5,
};
