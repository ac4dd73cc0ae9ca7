//! The learned ranker: a linear model over the engine's candidate
//! features (`engine::fusion::Features`), trained on the validation split.
//!
//! - Rows: every user whose validation item is in their candidate pool (the union
//!   of the engine's channels, `Engine::candidate_features_for_user`); each other
//!   pool item is a negative, so negatives come from the candidate union.
//! - Cold masking: a seeded share of the items ([`COLD_SHARE`]) has its
//!   collaborative and popularity features zeroed in training, so "no
//!   collaborative signal" is not learned as "bad item".
//! - The model is the engine's: score = semantic + Σ w_j·f_j (`fusion::fuse`), each
//!   w_j in the engine's range [0, 2]. Two ways to fit it: a pairwise logistic
//!   regression (Newton's method, L2 penalty λ; scaled to semantic weight 1 and
//!   clipped), or coordinate ascent on nDCG@10 directly. 5-fold cross-validation
//!   over users (nDCG@10 of the held-out users' pools ordered by `fusion::fuse`)
//!   chooses the method and λ; the choice is then fitted on every user.

// Index loops read as the formulas of a 5×5 Newton step.
#![allow(clippy::needless_range_loop)]

use engine::fusion::{fuse, Features, FusionWeights};
use engine::recommend::training::{coordinate_ascent, TrainingList};

use crate::metrics::UserResult;
use crate::split::{Target, UserSplit};

/// Every user's candidate pool (catalogue index, features), one rating mode.
pub type FeaturePools = Vec<Vec<(usize, Features)>>;
/// One rating mode's pools with its splits (the validation targets).
pub type TrainingSet = (FeaturePools, Vec<UserSplit>);

/// Share of items masked as cold in training.
pub const COLD_SHARE: f64 = 0.1;
/// L2 strengths tried.
pub const LAMBDAS: [f64; 5] = [0.01, 0.1, 1.0, 10.0, 100.0];
/// Cross-validation folds over users.
pub const FOLDS: usize = 5;
/// Largest weight the engine accepts for a feature.
const MAX_WEIGHT: f32 = 2.0;

const DIM: usize = 6;

fn vector(f: &Features) -> [f64; DIM] {
    [
        f64::from(f.semantic),
        f64::from(f.semantic_mean),
        f64::from(f.lexical),
        f64::from(f.collaborative),
        f64::from(f.popularity),
        f64::from(f.scarcity),
    ]
}

/// One user's pool: catalogue indices with features, and the validation target.
pub struct Pool<'a> {
    pub items: &'a [(usize, Features)],
    pub target: usize,
}

/// What training found: the weights, the method, and each method's cross-validated
/// mean nDCG@10.
pub struct Trained {
    pub weights: FusionWeights,
    pub method: Method,
    /// Mean held-out nDCG@10 of each method.
    pub cv: Vec<(Method, f64)>,
    /// Users with the target in their pool / all users.
    pub users_with_target: (usize, usize),
    pub pairs: usize,
}

/// splitmix64: a seeded hash for masking and fold assignment.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(crate) fn unit(seed: u64, i: u64) -> f64 {
    (mix(seed ^ mix(i)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether item `i` is masked as cold in training.
pub fn masked(seed: u64, i: usize) -> bool {
    unit(seed ^ 0xC01D, i as u64) < COLD_SHARE
}

fn training_vector(f: &Features, item: usize, seed: u64) -> [f64; DIM] {
    let mut x = vector(f);
    if masked(seed, item) {
        x[3] = 0.0;
        x[4] = 0.0;
    }
    x
}

/// Pairwise differences (positive − negative) of the pools' users.
fn pairs(pools: &[&Pool], seed: u64) -> Vec<[f64; DIM]> {
    let mut out = Vec::new();
    for p in pools {
        let Some((_, pos)) = p.items.iter().find(|(i, _)| *i == p.target) else {
            continue;
        };
        let xp = training_vector(pos, p.target, seed);
        for (i, f) in p.items.iter() {
            if *i == p.target {
                continue;
            }
            let xn = training_vector(f, *i, seed);
            let mut d = [0.0; DIM];
            for k in 0..DIM {
                d[k] = xp[k] - xn[k];
            }
            out.push(d);
        }
    }
    out
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Solves `a x = b` (symmetric positive definite, small) by Gaussian elimination.
fn solve(mut a: [[f64; DIM]; DIM], mut b: [f64; DIM]) -> [f64; DIM] {
    for c in 0..DIM {
        let p = (c..DIM)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        b.swap(c, p);
        let d = a[c][c];
        if d.abs() < 1e-12 {
            continue;
        }
        for r in 0..DIM {
            if r != c {
                let f = a[r][c] / d;
                for k in 0..DIM {
                    a[r][k] -= f * a[c][k];
                }
                b[r] -= f * b[c];
            }
        }
    }
    let mut x = [0.0; DIM];
    for i in 0..DIM {
        x[i] = if a[i][i].abs() < 1e-12 {
            0.0
        } else {
            b[i] / a[i][i]
        };
    }
    x
}

/// Minimises Σ ln(1 + e^(−w·d)) / n + λ/2 · |w|² by Newton's method.
fn fit(d: &[[f64; DIM]], lambda: f64) -> [f64; DIM] {
    let mut w = [0.0; DIM];
    w[0] = 1.0;
    if d.is_empty() {
        return w;
    }
    let n = d.len() as f64;
    for _ in 0..30 {
        let mut g = [0.0; DIM];
        let mut h = [[0.0; DIM]; DIM];
        for x in d {
            let z: f64 = (0..DIM).map(|k| w[k] * x[k]).sum();
            let p = sigmoid(-z);
            let s = p * (1.0 - p);
            for i in 0..DIM {
                g[i] -= p * x[i] / n;
                for j in 0..DIM {
                    h[i][j] += s * x[i] * x[j] / n;
                }
            }
        }
        for i in 0..DIM {
            g[i] += lambda * w[i];
            h[i][i] += lambda;
        }
        let step = solve(h, g);
        let mut moved = 0.0f64;
        for i in 0..DIM {
            w[i] -= step[i];
            moved = moved.max(step[i].abs());
        }
        if moved < 1e-7 {
            break;
        }
    }
    w
}

/// The engine's weights for a fitted model: semantic weight 1, each other weight in
/// [0, 2]; a model that does not weigh the semantic score positively keeps the
/// others' ratios at the largest scale the range allows.
fn engine_weights(w: &[f64; DIM]) -> FusionWeights {
    let scale = if w[0] > 1e-9 { w[0] } else { 1.0 };
    let c = |x: f64| ((x / scale) as f32).clamp(0.0, MAX_WEIGHT);
    FusionWeights {
        semantic_mean: c(w[1]),
        lexical: c(w[2]),
        collaborative: c(w[3]),
        popularity: c(w[4]),
        scarcity: c(w[5]),
    }
}

/// The pool ordered by `fuse` (ties to the engine's order), scored against `target`.
pub fn result(pool: &[(usize, Features)], target: usize, w: &FusionWeights) -> UserResult {
    let mut scored: Vec<(usize, f32, usize)> = pool
        .iter()
        .enumerate()
        .map(|(n, (i, f))| (*i, fuse(f, w), n))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    let ranking: Vec<usize> = scored.into_iter().map(|(i, _, _)| i).collect();
    UserResult::from_ranking(&ranking, target)
}

/// A way to fit the weights; cross-validation chooses among them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Pairwise logistic regression with this L2 strength.
    Logistic(f64),
    /// Coordinate ascent on the mean nDCG@10 of the training pools
    /// (`engine::recommend::training::coordinate_ascent`).
    Ascent,
}

impl Method {
    pub fn label(&self) -> String {
        match self {
            Method::Logistic(l) => format!("pairwise logistic λ {l}"),
            Method::Ascent => "coordinate ascent on nDCG@10".into(),
        }
    }

    fn fit(&self, pools: &[&Pool], seed: u64) -> FusionWeights {
        match self {
            Method::Logistic(l) => engine_weights(&fit(&pairs(pools, seed), *l)),
            Method::Ascent => ascend(pools, seed),
        }
    }
}

/// The pools as training sees them: masked items lose their collaborative and
/// popularity features and look as scarce as an item nobody had.
fn masked_pools(pools: &[&Pool], seed: u64) -> Vec<(Vec<(usize, Features)>, usize)> {
    pools
        .iter()
        .map(|p| {
            let items = p
                .items
                .iter()
                .map(|(i, f)| {
                    let mut f = *f;
                    if masked(seed, *i) {
                        f.collaborative = 0.0;
                        f.popularity = 0.0;
                        f.scarcity = engine::fusion::scarcity(0);
                    }
                    (*i, f)
                })
                .collect();
            (items, p.target)
        })
        .collect()
}

fn ascend(pools: &[&Pool], seed: u64) -> FusionWeights {
    let lists: Vec<TrainingList> = masked_pools(pools, seed)
        .into_iter()
        .map(|(items, target)| TrainingList {
            relevant: items.iter().map(|(i, _)| *i == target).collect(),
            features: items.into_iter().map(|(_, f)| f).collect(),
        })
        .collect();
    coordinate_ascent(&lists)
}

/// Trains on `pools` (one per user, across rating modes); the method (and the
/// logistic L2 strength) is chosen by cross-validation over users.
pub fn train(pools: &[Pool], seed: u64) -> Trained {
    let fold = |u: usize| (mix(seed ^ 0xF01D ^ mix(u as u64)) % FOLDS as u64) as usize;
    let methods: Vec<Method> = LAMBDAS
        .iter()
        .map(|&l| Method::Logistic(l))
        .chain([Method::Ascent])
        .collect();
    let mut cv = Vec::new();
    for m in &methods {
        let mut sum = 0.0;
        for f in 0..FOLDS {
            let train: Vec<&Pool> = (0..pools.len())
                .filter(|&u| fold(u) != f)
                .map(|u| &pools[u])
                .collect();
            let w = m.fit(&train, seed);
            for u in (0..pools.len()).filter(|&u| fold(u) == f) {
                sum += result(pools[u].items, pools[u].target, &w).ndcg();
            }
        }
        cv.push((*m, sum / pools.len().max(1) as f64));
    }
    let (method, _) = cv.iter().copied().fold((methods[0], f64::MIN), |a, b| {
        if b.1 > a.1 + 1e-12 {
            b
        } else {
            a
        }
    });
    let all: Vec<&Pool> = pools.iter().collect();
    let weights = method.fit(&all, seed);
    Trained {
        weights,
        method,
        cv,
        users_with_target: (
            pools
                .iter()
                .filter(|p| p.items.iter().any(|(i, _)| *i == p.target))
                .count(),
            pools.len(),
        ),
        pairs: pairs(&all, seed).len(),
    }
}

/// Pools of one rating mode's users for the validation target.
pub fn pools<'a>(features: &'a [Vec<(usize, Features)>], splits: &[UserSplit]) -> Vec<Pool<'a>> {
    features
        .iter()
        .zip(splits)
        .map(|(items, s)| Pool {
            items,
            target: s.target(Target::Validation),
        })
        .collect()
}

/// The Rust source of `engine/src/ranking/trained.rs` for a trained model.
pub fn source(t: &Trained, version: &str) -> String {
    let w = &t.weights;
    format!(
        "//! The ranker's shipped model: a linear score over the candidate features\n\
         //! (`fusion::Features`), semantic weight 1. `semrec-eval --write-ranker` regenerates\n\
         //! this file from the validation split: pairwise logistic regression or coordinate\n\
         //! ascent on nDCG@10, whichever 5-fold cross-validation over users prefers\n\
         //! (negatives from the candidate pool, a seeded tenth of the items masked as\n\
         //! cold); see docs/EVALUATION.md.\n\
         //! The engine's defaults (`DEFAULT_*_WEIGHT`) come from here.\n\
         \n\
         use super::fusion::FusionWeights;\n\
         \n\
         /// Which training produced [`WEIGHTS`].\n\
         pub const VERSION: &str = \"{version}\";\n\
         \n\
         /// The model.\n\
         pub const WEIGHTS: FusionWeights = FusionWeights {{\n    \
             popularity: {:?},\n    \
             collaborative: {:?},\n    \
             lexical: {:?},\n    \
             semantic_mean: {:?},\n    \
             scarcity: {:?},\n\
         }};\n",
        round(w.popularity),
        round(w.collaborative),
        round(w.lexical),
        round(w.semantic_mean),
        round(w.scarcity),
    )
}

/// Three decimals: what the report shows is what ships.
fn round(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(semantic: f32, collaborative: f32) -> Features {
        Features {
            semantic,
            collaborative,
            ..Default::default()
        }
    }

    #[test]
    fn training_learns_the_feature_that_separates_the_targets() {
        // In every pool the target has the strongest collaborative score and a middling
        // semantic one: the model must weigh the collaborative feature.
        let data: Vec<Vec<(usize, Features)>> = (0..40)
            .map(|u| {
                let base = u * 10;
                vec![
                    (base, f(0.9, 0.1)),
                    (base + 1, f(0.5, 1.0)),
                    (base + 2, f(0.8, 0.2)),
                    (base + 3, f(0.7, 0.0)),
                ]
            })
            .collect();
        let pools: Vec<Pool> = data
            .iter()
            .enumerate()
            .map(|(u, items)| Pool {
                items,
                target: u * 10 + 1,
            })
            .collect();
        let t = train(&pools, 7);
        assert!(t.weights.collaborative > 0.5, "{:?}", t.weights);
        let r = result(pools[0].items, pools[0].target, &t.weights);
        assert_eq!(r.ndcg(), 1.0);
        // With semantic weight 1 alone the target would be third.
        let plain = result(pools[0].items, pools[0].target, &FusionWeights::default());
        assert!(plain.ndcg() < 1.0);
    }

    #[test]
    fn masking_is_seeded_and_near_its_share() {
        let n = (0..10_000).filter(|&i| masked(42, i)).count();
        assert!((800..1200).contains(&n), "{n}");
        assert_eq!(masked(42, 17), masked(42, 17));
    }

    #[test]
    fn the_generated_source_names_every_weight() {
        let t = Trained {
            weights: FusionWeights {
                popularity: 0.1,
                collaborative: 0.5,
                lexical: 0.25,
                semantic_mean: 0.0,
                scarcity: 0.3,
            },
            method: Method::Ascent,
            cv: vec![],
            users_with_target: (1, 1),
            pairs: 1,
        };
        let s = source(&t, "v");
        assert!(s.contains("collaborative: 0.5,"));
        assert!(s.contains("lexical: 0.25,"));
        assert!(s.contains("scarcity: 0.3,"));
        assert!(s.contains("pub const VERSION: &str = \"v\";"));
    }
}
