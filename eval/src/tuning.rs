//! Profile-construction variants scored in process on the vectors the engine
//! stored, so many settings can be compared on the validation split quickly.
//! The scoring mirrors the engine's recommend path (candidate pool from the
//! nearest neighbours, then similarity + popularity prior); the chosen variant is
//! then run through the engine itself.

use std::collections::HashSet;

use crate::metrics::{UserResult, MRR_CUTOFF};
use crate::split::{Target, UserSplit};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Construction {
    /// Normalised (optionally recency-weighted) mean of the history vectors.
    Centroid,
    /// Each candidate scored by its best (optionally recency-weighted) cosine to any history item.
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
    /// The construction part of the label (without the prior).
    pub fn profile_label(&self) -> String {
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
        format!("{c}, {w}{h}")
    }

    pub fn label(&self) -> String {
        if self.popularity > 0.0 {
            format!("{}, popularity {}", self.profile_label(), self.popularity)
        } else {
            self.profile_label()
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The popularity prior in [0, 1] of each item: the engine's own function
/// (`engine::recommend::prior`, evidence floor included) on the counts.
pub fn prior(popularity: &[f64]) -> Vec<f64> {
    let max = popularity.iter().copied().fold(0.0, f64::max) as i64;
    popularity
        .iter()
        .map(|&p| f64::from(engine::recommend::prior(p as i64, max)))
        .collect()
}

/// The engine's candidate pool and list length: see `engine::recommend`.
#[derive(Clone, Copy, Debug)]
pub struct PoolModel {
    /// `EngineSettings::candidate_pool`.
    pub pool: usize,
    /// Items wanted (offset + k); the evaluation asks for MRR_CUTOFF.
    pub want: usize,
}

impl Default for PoolModel {
    fn default() -> Self {
        Self {
            pool: engine::DEFAULT_CANDIDATE_POOL,
            want: MRR_CUTOFF,
        }
    }
}

/// The `n` best of `scores` over the allowed items (index order breaks ties).
fn top_n(scores: &[f32], allowed: &[usize], n: usize) -> Vec<usize> {
    let mut ids: Vec<usize> = allowed.to_vec();
    let cmp = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    if ids.len() > n {
        ids.select_nth_unstable_by(n, cmp);
        ids.truncate(n);
    }
    ids.sort_by(cmp);
    ids
}

/// Per-user state shared by every variant: the similarity of each recent history
/// item to every catalogue item (most recent first), computed once.
struct UserSims {
    history: Vec<usize>,
    allowed: Vec<usize>,
    /// rows[age][item]
    rows: Vec<Vec<f32>>,
}

fn user_sims(vectors: &[Vec<f32>], history: &[usize], max_window: usize) -> UserSims {
    let exclude: HashSet<usize> = history.iter().copied().collect();
    let allowed: Vec<usize> = (0..vectors.len())
        .filter(|i| !exclude.contains(i))
        .collect();
    let rows = history
        .iter()
        .rev()
        .take(max_window)
        .map(|&h| vectors.iter().map(|v| dot(v, &vectors[h])).collect())
        .collect();
    UserSims {
        history: history.to_vec(),
        allowed,
        rows,
    }
}

/// The candidate pool one construction gives one user and the content score of each
/// candidate, modelled on the engine: nearest neighbours of the centroid, or the union
/// of every history item's nearest neighbours for max-sim.
fn candidates(
    v: &Variant,
    u: &UserSims,
    vectors: &[Vec<f32>],
    pool: PoolModel,
) -> (Vec<usize>, Vec<f32>) {
    let take = v.window.unwrap_or(u.history.len()).min(u.history.len());
    let weight = |age: usize| v.half_life.map_or(1.0, |h| 0.5f64.powf(age as f64 / h)) as f32;
    let pool_size = pool.pool.max(pool.want);
    match v.construction {
        Construction::Centroid => {
            let recent: Vec<usize> = u.history.iter().rev().take(take).copied().collect();
            let dim = vectors[0].len();
            let mut mean = vec![0f32; dim];
            for (age, &i) in recent.iter().enumerate() {
                let w = weight(age);
                mean.iter_mut()
                    .zip(&vectors[i])
                    .for_each(|(m, x)| *m += w * x);
            }
            let norm = dot(&mean, &mean).sqrt().max(f32::MIN_POSITIVE);
            let sims: Vec<f32> = if take <= u.rows.len() {
                // Linear in the rows: reuse the cached similarities.
                let mut s = vec![0f32; vectors.len()];
                for (age, row) in u.rows.iter().take(take).enumerate() {
                    let w = weight(age) / norm;
                    s.iter_mut().zip(row).for_each(|(a, b)| *a += w * b);
                }
                s
            } else {
                mean.iter_mut().for_each(|m| *m /= norm);
                vectors.iter().map(|x| dot(x, &mean)).collect()
            };
            (top_n(&sims, &u.allowed, pool_size), sims)
        }
        Construction::MaxSim => {
            let rows = &u.rows[..take.min(u.rows.len())];
            let per = (pool_size / rows.len().max(1)).max(pool.want);
            let mut cand: Vec<usize> = rows
                .iter()
                .flat_map(|r| top_n(r, &u.allowed, per))
                .collect();
            cand.sort_unstable();
            cand.dedup();
            let mut sims = vec![f32::MIN; vectors.len()];
            for &c in &cand {
                sims[c] = rows
                    .iter()
                    .enumerate()
                    .map(|(age, r)| weight(age) * r[c])
                    .fold(f32::MIN, f32::max);
            }
            (cand, sims)
        }
    }
}

/// Candidates ordered by content score + `w` · prior, cut to `want`.
fn finish(cand: &[usize], sims: &[f32], w: f64, prior: &[f64], want: usize) -> Vec<usize> {
    let mut scored: Vec<(usize, f64)> = cand
        .iter()
        .map(|&c| (c, sims[c] as f64 + w * prior[c]))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(want);
    scored.into_iter().map(|(c, _)| c).collect()
}

/// Per-variant, per-user results of many variants at once (history excluded). A
/// user's similarity rows and each construction's candidates are computed once for
/// every prior weight; users run on two threads.
pub fn evaluate_many(
    variants: &[Variant],
    vectors: &[Vec<f32>],
    splits: &[UserSplit],
    target: Target,
    prior: &[f64],
    pool: PoolModel,
) -> Vec<Vec<UserResult>> {
    // A centroid over the whole history is computed from its mean instead of rows.
    let max_window = variants
        .iter()
        .filter_map(|v| match (v.construction, v.window) {
            (Construction::Centroid, None) => None,
            (_, w) => Some(w.unwrap_or(usize::MAX)),
        })
        .max()
        .unwrap_or(0);
    // Variants grouped by construction: (construction, [(variant index, weight)]).
    let mut groups: Vec<(Variant, Vec<(usize, f64)>)> = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let base = Variant {
            popularity: 0.0,
            ..*v
        };
        match groups.iter_mut().find(|(b, _)| *b == base) {
            Some((_, members)) => members.push((i, v.popularity)),
            None => groups.push((base, vec![(i, v.popularity)])),
        }
    }
    let per_user = |s: &UserSplit| -> Vec<UserResult> {
        let history: Vec<usize> = s.history(target).iter().map(|h| h.0).collect();
        let u = user_sims(vectors, &history, max_window);
        let mut out = vec![None; variants.len()];
        for (base, members) in &groups {
            let (cand, sims) = candidates(base, &u, vectors, pool);
            for &(i, w) in members {
                out[i] = Some(UserResult::from_ranking(
                    &finish(&cand, &sims, w, prior, pool.want),
                    s.target(target),
                ));
            }
        }
        out.into_iter().map(|r| r.expect("every variant")).collect()
    };
    let half = splits.len().div_ceil(2);
    let (a, b) = splits.split_at(half);
    let (ra, rb) = std::thread::scope(|scope| {
        let h = scope.spawn(|| a.iter().map(per_user).collect::<Vec<_>>());
        let rb: Vec<Vec<UserResult>> = b.iter().map(per_user).collect();
        (h.join().expect("tuning thread"), rb)
    });
    let mut out = vec![Vec::with_capacity(splits.len()); variants.len()];
    for user in ra.into_iter().chain(rb) {
        for (o, r) in out.iter_mut().zip(user) {
            o.push(r);
        }
    }
    out
}

/// Profile constructions searched on the validation split.
pub fn constructions() -> Vec<Variant> {
    let mut out = Vec::new();
    for window in [Some(5), Some(10), Some(20), None] {
        for half_life in [None, Some(5.0)] {
            out.push(Variant {
                construction: Construction::Centroid,
                window,
                half_life,
                popularity: 0.0,
            });
        }
    }
    for window in [Some(5), Some(10), Some(20), Some(50)] {
        for half_life in [None, Some(10.0)] {
            out.push(Variant {
                construction: Construction::MaxSim,
                window,
                half_life,
                popularity: 0.0,
            });
        }
    }
    out
}

/// Popularity prior weights searched with every construction.
pub const POPULARITY_WEIGHTS: [f64; 7] = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7];

/// Every construction with every prior weight.
pub fn grid() -> Vec<Variant> {
    constructions()
        .into_iter()
        .flat_map(|c| {
            POPULARITY_WEIGHTS
                .iter()
                .map(move |&w| Variant { popularity: w, ..c })
        })
        .collect()
}
