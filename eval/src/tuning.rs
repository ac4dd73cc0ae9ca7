//! Profile-construction variants scored in process on the vectors the engine
//! stored, so many settings can be compared on the validation split quickly.
//! The chosen one is then run through the engine itself.

use std::collections::HashSet;

use crate::baselines::rank_by_scores;
use crate::metrics::UserResult;
use crate::split::{Target, UserSplit};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Construction {
    /// Normalised (optionally recency-weighted) mean of the history vectors.
    Centroid,
    /// Each candidate scored by its best cosine to any history item.
    MaxSim,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    pub construction: Construction,
    /// Most recent history items used; None = all.
    pub window: Option<usize>,
    /// Weight halves every this many items back in the history; None = equal weights.
    pub half_life: Option<f64>,
    /// Weight of the popularity prior: score += w · ln(1 + count) / ln(1 + max count).
    pub popularity: f64,
}

impl Variant {
    pub fn label(&self) -> String {
        let c = match self.construction {
            Construction::Centroid => "centroid",
            Construction::MaxSim => "max-sim",
        };
        let w = self
            .window
            .map_or("all".to_string(), |w| format!("last {w}"));
        let h = self
            .half_life
            .map_or(String::new(), |h| format!(", half-life {h}"));
        let p = if self.popularity > 0.0 {
            format!(", popularity {}", self.popularity)
        } else {
            String::new()
        };
        format!("{c}, {w}{h}{p}")
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Cosine scores of every item for one history (oldest first).
pub fn scores(
    variant: &Variant,
    vectors: &[Vec<f32>],
    history: &[usize],
    prior: &[f64],
) -> Vec<f64> {
    let take = variant.window.unwrap_or(history.len()).min(history.len());
    // Most recent first.
    let recent: Vec<usize> = history.iter().rev().take(take).copied().collect();
    let weight = |age: usize| {
        variant
            .half_life
            .map_or(1.0, |h| 0.5f64.powf(age as f64 / h))
    };
    let mut out: Vec<f64> = match variant.construction {
        Construction::Centroid => {
            let dim = vectors[0].len();
            let mut mean = vec![0f32; dim];
            for (age, &i) in recent.iter().enumerate() {
                let w = weight(age) as f32;
                mean.iter_mut()
                    .zip(&vectors[i])
                    .for_each(|(m, x)| *m += w * x);
            }
            let norm = dot(&mean, &mean).sqrt().max(f32::MIN_POSITIVE);
            mean.iter_mut().for_each(|m| *m /= norm);
            vectors.iter().map(|v| dot(v, &mean) as f64).collect()
        }
        Construction::MaxSim => vectors
            .iter()
            .map(|v| {
                recent
                    .iter()
                    .enumerate()
                    .map(|(age, &i)| weight(age) * dot(v, &vectors[i]) as f64)
                    .fold(f64::MIN, f64::max)
            })
            .collect(),
    };
    if variant.popularity > 0.0 {
        out.iter_mut()
            .zip(prior)
            .for_each(|(s, p)| *s += variant.popularity * p);
    }
    out
}

/// ln(1 + count) / ln(1 + max count): a popularity prior in [0, 1].
pub fn prior(popularity: &[f64]) -> Vec<f64> {
    let max = popularity.iter().copied().fold(0.0, f64::max);
    let denom = (1.0 + max).ln().max(f64::MIN_POSITIVE);
    popularity.iter().map(|p| (1.0 + p).ln() / denom).collect()
}

/// Per-user results of a variant (history excluded from the ranking).
pub fn evaluate(
    variant: &Variant,
    vectors: &[Vec<f32>],
    splits: &[UserSplit],
    target: Target,
    prior: &[f64],
) -> Vec<UserResult> {
    splits
        .iter()
        .map(|s| {
            let history: Vec<usize> = s.history(target).iter().map(|h| h.0).collect();
            let exclude: HashSet<usize> = history.iter().copied().collect();
            let ranking = rank_by_scores(&scores(variant, vectors, &history, prior), &exclude);
            UserResult::from_ranking(&ranking, s.target(target))
        })
        .collect()
}

/// The grid searched on the validation split.
pub fn grid() -> Vec<Variant> {
    let mut out = Vec::new();
    for window in [Some(5), Some(10), Some(20), Some(50), None] {
        for half_life in [None, Some(5.0), Some(10.0)] {
            out.push(Variant {
                construction: Construction::Centroid,
                window,
                half_life,
                popularity: 0.0,
            });
        }
    }
    for window in [Some(5), Some(10), Some(20), Some(50)] {
        out.push(Variant {
            construction: Construction::MaxSim,
            window,
            half_life: None,
            popularity: 0.0,
        });
    }
    out
}
