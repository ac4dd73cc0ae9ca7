//! The engine configurations the evaluation compares: the product default (the
//! shipped ranker and rules), its ablations, and the earlier defaults, with their labels.

use engine::profile::ProfileStrategy;
use engine::EngineSettings;
use eval::tuning::{Construction, Variant};

/// An ablation row's weight for a channel the shipped model weighs 0.
pub(crate) const ABLATION_WEIGHT: f32 = 0.3;
/// The popularity prior weight of the default before the collaborative channel.
pub(crate) const PREVIOUS_POPULARITY_WEIGHT: f64 =
    engine::presets::BEFORE_HYBRID_POPULARITY_WEIGHT as f64;

/// The product's settings as an in-process variant (what validation scores).
pub(crate) fn product_variant(s: &EngineSettings) -> Variant {
    Variant {
        construction: match s.profile_strategy {
            ProfileStrategy::MaxSim => Construction::MaxSim,
            ProfileStrategy::Centroid | ProfileStrategy::Concat => Construction::Centroid,
        },
        window: Some(s.history_window),
        // f32 settings printed as their short decimal, not 0.30000001192092896.
        half_life: s.recency_half_life.map(|h| round3(f64::from(h))),
        popularity: round3(f64::from(s.popularity_weight)),
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Engine settings for an in-process variant.
pub(crate) fn engine_settings(v: &Variant) -> EngineSettings {
    EngineSettings {
        profile_strategy: match v.construction {
            Construction::MaxSim => ProfileStrategy::MaxSim,
            Construction::Centroid => ProfileStrategy::Centroid,
        },
        history_window: v.window.unwrap_or(10_000),
        recency_half_life: v.half_life.map(|h| h as f32),
        popularity_weight: v.popularity as f32,
        collaborative_weight: 0.0,
        lexical_weight: 0.0,
        semantic_mean_weight: 0.0,
        ..EngineSettings::default()
    }
}

/// The product's full label: profile construction, popularity and collaborative weights.
pub(crate) fn product_label(s: &EngineSettings) -> String {
    let mut label = product_variant(s).label();
    for (name, w) in [
        ("lexical", s.lexical_weight),
        ("collaborative", s.collaborative_weight),
        ("semantic mean", s.semantic_mean_weight),
    ] {
        if w > 0.0 {
            label.push_str(&format!(", {name} {}", round3(f64::from(w))));
        }
    }
    label
}

/// The engine configurations compared on test: the product default, then the
/// ablation (semantic only, + collaborative, + popularity) and the previous default.
pub(crate) fn engine_rows() -> Vec<(String, EngineSettings)> {
    let default = EngineSettings::default();
    let v = product_variant(&default);
    let mut rows = vec![(
        format!("semrec (default: {})", product_label(&default)),
        default.clone(),
    )];
    // The business rules, switched off one at a time and together: what they cost in
    // accuracy (they are there for other reasons: variety and new items' exposure).
    let mut no_fair = default.clone();
    no_fair.rules.fair_share = false;
    let mut no_exploration = default.clone();
    no_exploration.rules.exploration.share = 0.0;
    let mut no_rules = no_exploration.clone();
    no_rules.rules.fair_share = false;
    for (what, settings) in [
        ("without fair share", no_fair),
        ("without exploration", no_exploration),
        ("without fair share and exploration", no_rules),
    ] {
        rows.push((format!("semrec default {what}"), settings));
    }
    let semantic = EngineSettings {
        collaborative_weight: 0.0,
        ..engine_settings(&Variant {
            popularity: 0.0,
            ..v
        })
    };
    rows.push((
        format!("semrec semantic only: {}", product_label(&semantic)),
        semantic.clone(),
    ));
    // The ablation adds one channel at a time at the shipped model's weight (or, where
    // the model gives it none, at ABLATION_WEIGHT, so the row still says what it adds).
    let or = |w: f32| if w > 0.0 { w } else { ABLATION_WEIGHT };
    let lexical = EngineSettings {
        lexical_weight: or(default.lexical_weight),
        ..semantic.clone()
    };
    let collab = EngineSettings {
        collaborative_weight: or(default.collaborative_weight),
        ..lexical.clone()
    };
    let popular = EngineSettings {
        popularity_weight: or(default.popularity_weight),
        ..collab.clone()
    };
    for (what, settings) in [
        ("+ lexical", lexical),
        ("+ lexical + collaborative", collab),
        ("+ lexical + collaborative + popularity", popular),
    ] {
        rows.push((
            format!("semrec {what}: {}", product_label(&settings)),
            settings,
        ));
    }
    // Semantic + popularity prior, no collaborative channel: the default before it.
    let prior = EngineSettings {
        collaborative_weight: 0.0,
        ..engine_settings(&Variant {
            popularity: PREVIOUS_POPULARITY_WEIGHT,
            ..v
        })
    };
    rows.push((
        format!(
            "semrec + popularity (the default before the collaborative channel): {}",
            product_label(&prior)
        ),
        prior,
    ));
    // The previous default: recency-weighted centroid of the last 20, no prior.
    let old = EngineSettings {
        profile_strategy: ProfileStrategy::Centroid,
        history_window: 20,
        recency_half_life: Some(5.0),
        popularity_weight: 0.0,
        collaborative_weight: 0.0,
        lexical_weight: 0.0,
        semantic_mean_weight: 0.0,
        ..EngineSettings::default()
    };
    rows.push((
        format!(
            "semrec {} (previous default)",
            product_variant(&old).label()
        ),
        old,
    ));
    rows
}
