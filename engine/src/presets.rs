//! Named settings for before/after comparisons.

use crate::EngineSettings;

/// The popularity prior's weight before the hybrid pipeline.
pub const BEFORE_HYBRID_POPULARITY_WEIGHT: f32 = 0.7;

/// The ranking before the hybrid pipeline: each item's best similarity to a profile
/// element (max-sim) plus the popularity prior at 0.7; no lexical, collaborative or
/// mean-similarity feature, no fair share, no exploration. `semrec recommend
/// --before` lists with it, beside the current settings.
pub fn before_hybrid(base: &EngineSettings) -> EngineSettings {
    let mut s = base.clone();
    s.profile_strategy = crate::profile::ProfileStrategy::MaxSim;
    s.popularity_weight = BEFORE_HYBRID_POPULARITY_WEIGHT;
    s.collaborative_weight = 0.0;
    s.lexical_weight = 0.0;
    s.semantic_mean_weight = 0.0;
    s.rules.fair_share = false;
    s.rules.exploration.share = 0.0;
    s
}
