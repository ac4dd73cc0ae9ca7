//! Collaborative baselines (EASE, item-kNN) and BM25 with the popularity prior, each
//! tuned on the validation split like the product default. They run the engine's own
//! code: `engine::collaborative` fits the models and `engine::recommend::prior` is the
//! prior, so a baseline here is what the engine would compute, not a copy of it.

use std::collections::HashSet;

use engine::collaborative::{ease, knn, CollaborativeError, Interactions};

use crate::baselines::{popularity, rank_by_scores, TextIndex};
use crate::metrics::UserResult;
use crate::split::{Target, UserSplit};

/// EASE's ridge λ tried on validation (a first run's best, 50, was the grid's edge:
/// the grid reaches below it so the baseline's optimum is inside).
pub const EASE_LAMBDAS: [f64; 8] = [5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0];
/// The λ tried on catalogues above [`LARGE_CATALOGUE`] items, where each fit is a
/// dense Cholesky of tens of seconds.
pub const EASE_LAMBDAS_LARGE: [f64; 4] = [50.0, 200.0, 500.0, 1000.0];
/// Catalogue size above which the smaller EASE grid is used.
pub const LARGE_CATALOGUE: usize = 2000;
/// Neighbours per item the engine may store (`SEMREC_COLLABORATIVE_NEIGHBOURS`): the
/// validation table shows what EASE loses by keeping only these, against dense EASE.
pub const STORED_NEIGHBOURS: [usize; 3] = [50, 100, 200];
/// item-kNN neighbourhood sizes tried on validation.
pub const KNN_KS: [usize; 4] = [50, 100, 200, 400];
/// item-kNN shrinkage values tried on validation.
pub const KNN_SHRINKAGE: [f64; 3] = [0.0, 10.0, 50.0];
/// Popularity prior weights tried for BM25 + prior (BM25 scaled to [0, 1] per user first).
pub const BM25_PRIOR_WEIGHTS: [f64; 10] = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0];

/// A baseline with its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline {
    Ease {
        lambda: f64,
    },
    /// EASE as the engine serves it: each item's `n` strongest neighbours only
    /// (`ease::EaseModel::top_neighbours`), as stored in PostgreSQL.
    EaseStored {
        lambda: f64,
        n: usize,
    },
    Knn {
        k: usize,
        shrinkage: f64,
    },
    Bm25Prior {
        weight: f64,
    },
}

impl Baseline {
    pub fn label(&self) -> String {
        match self {
            Baseline::Ease { lambda } => format!("EASE (λ = {lambda})"),
            Baseline::EaseStored { lambda, n } => {
                format!("EASE (λ = {lambda}), top {n} neighbours per item (as stored)")
            }
            Baseline::Knn { k, shrinkage } => {
                format!("item-kNN (k = {k}, shrinkage = {shrinkage})")
            }
            Baseline::Bm25Prior { weight } => format!("BM25 + popularity prior {weight}"),
        }
    }

    /// Every hyperparameter setting validation compares on a catalogue of `n_items`.
    pub fn grid(n_items: usize) -> Vec<Baseline> {
        let lambdas: &[f64] = if n_items > LARGE_CATALOGUE {
            &EASE_LAMBDAS_LARGE
        } else {
            &EASE_LAMBDAS
        };
        let mut g: Vec<Baseline> = Vec::new();
        for &lambda in lambdas {
            g.push(Baseline::Ease { lambda });
            g.extend(
                STORED_NEIGHBOURS
                    .iter()
                    .filter(|&&n| n < n_items)
                    .map(|&n| Baseline::EaseStored { lambda, n }),
            );
        }
        for &k in &KNN_KS {
            for &shrinkage in &KNN_SHRINKAGE {
                g.push(Baseline::Knn { k, shrinkage });
            }
        }
        g.extend(
            BM25_PRIOR_WEIGHTS
                .iter()
                .map(|&weight| Baseline::Bm25Prior { weight }),
        );
        g
    }

    /// Which family it belongs to (validation picks the best of each family).
    pub fn family(&self) -> &'static str {
        match self {
            Baseline::Ease { .. } => "EASE",
            Baseline::EaseStored { .. } => "EASE with stored neighbours",
            Baseline::Knn { .. } => "item-kNN",
            Baseline::Bm25Prior { .. } => "BM25 + popularity prior",
        }
    }
}

/// The values used when validation tuning is skipped (`--no-tuning`).
pub const UNTUNED: [Baseline; 3] = [
    Baseline::Ease { lambda: 250.0 },
    Baseline::Knn {
        k: 100,
        shrinkage: 10.0,
    },
    Baseline::Bm25Prior { weight: 0.5 },
];

/// X of the split's histories for `target` (one row per user in split order, weight 1):
/// exactly what a recommender may learn from, never a held-out item.
pub fn interactions(
    splits: &[UserSplit],
    target: Target,
    n_items: usize,
) -> Result<Interactions, CollaborativeError> {
    Interactions::new(
        splits.len(),
        n_items,
        splits.iter().enumerate().flat_map(|(u, s)| {
            s.history(target)
                .into_iter()
                .map(move |(i, _)| (u as u32, i as u32, 1.0))
        }),
    )
}

/// A model's score of every item for one history.
type HistoryScores<'a> = &'a dyn Fn(&[(u32, f32)]) -> Vec<f64>;

/// The data the baselines of one split are computed from.
pub struct Context<'a> {
    pub splits: &'a [UserSplit],
    pub target: Target,
    pub n_items: usize,
    /// Plain-token text index of the items (for BM25).
    pub text: &'a TextIndex,
}

/// EASE at `lambda`, fitted unless `cache` holds that fit (one dense model at a time).
fn ease_fit<'a>(
    cache: &'a mut Option<(f64, ease::EaseModel)>,
    x: &Interactions,
    lambda: f64,
) -> Result<&'a ease::EaseModel, CollaborativeError> {
    if cache.as_ref().map(|(l, _)| *l) != Some(lambda) {
        *cache = None;
        *cache = Some((lambda, ease::fit(x, lambda, ease::DEFAULT_MAX_ITEMS)?));
    }
    Ok(&cache.as_ref().expect("just fitted").1)
}

/// Per-user results of `baselines` on the context's split, in order.
pub fn evaluate(
    ctx: &Context<'_>,
    baselines: &[Baseline],
) -> Result<Vec<Vec<UserResult>>, CollaborativeError> {
    let x = interactions(ctx.splits, ctx.target, ctx.n_items)?;
    let histories: Vec<Vec<(u32, f32)>> = (0..x.n_users()).map(|u| x.user(u).to_vec()).collect();
    let rank = |scores: HistoryScores<'_>| -> Vec<UserResult> {
        ctx.splits
            .iter()
            .zip(&histories)
            .map(|(s, h)| {
                let exclude: HashSet<usize> = h.iter().map(|&(i, _)| i as usize).collect();
                UserResult::from_ranking(
                    &rank_by_scores(&scores(h), &exclude),
                    s.target(ctx.target),
                )
            })
            .collect()
    };
    let hist_items: Vec<Vec<usize>> = histories
        .iter()
        .map(|h| h.iter().map(|&(i, _)| i as usize).collect())
        .collect();
    // The history as the text baselines read it: oldest first.
    let ordered: Vec<Vec<usize>> = ctx
        .splits
        .iter()
        .map(|s| s.history(ctx.target).iter().map(|h| h.0).collect())
        .collect();
    let pop = popularity(ctx.n_items, hist_items.iter().map(Vec::as_slice));
    let max_pop = pop.iter().copied().fold(0.0, f64::max) as i64;
    let prior: Vec<f64> = pop
        .iter()
        .map(|&p| f64::from(engine::recommend::prior(p as i64, max_pop)))
        .collect();
    let mut bm25: Option<Vec<Vec<f64>>> = None;
    // The last EASE fit: its stored-neighbour variants follow it in the grid.
    let mut fitted: Option<(f64, ease::EaseModel)> = None;
    let mut out = Vec::with_capacity(baselines.len());
    for b in baselines {
        let t0 = std::time::Instant::now();
        let results = match *b {
            Baseline::Ease { lambda } => {
                let model = ease_fit(&mut fitted, &x, lambda)?;
                rank(&|h| model.scores(h))
            }
            Baseline::EaseStored { lambda, n } => {
                let stored = ease_fit(&mut fitted, &x, lambda)?.top_neighbours(n);
                rank(&|h| stored.scores(h))
            }
            Baseline::Knn { k, shrinkage } => {
                let model = knn::fit(&x, k, shrinkage);
                rank(&|h| model.scores(h))
            }
            Baseline::Bm25Prior { weight } => {
                // BM25 scaled to [0, 1] per user, so the prior weighs the same as it
                // does against cosine similarities in the engine.
                let per_user = bm25.get_or_insert_with(|| {
                    ordered
                        .iter()
                        .map(|h| {
                            let s = ctx.text.bm25_scores(h);
                            let max = s.iter().copied().fold(0.0, f64::max);
                            s.into_iter()
                                .map(|v| if max > 0.0 { v / max } else { 0.0 })
                                .collect()
                        })
                        .collect()
                });
                ctx.splits
                    .iter()
                    .zip(per_user.iter())
                    .zip(&hist_items)
                    .map(|((s, scores), h)| {
                        let exclude: HashSet<usize> = h.iter().copied().collect();
                        let fused: Vec<f64> = scores
                            .iter()
                            .zip(&prior)
                            .map(|(b, p)| b + weight * p)
                            .collect();
                        UserResult::from_ranking(
                            &rank_by_scores(&fused, &exclude),
                            s.target(ctx.target),
                        )
                    })
                    .collect()
            }
        };
        tracing::debug!(
            baseline = b.label(),
            secs = t0.elapsed().as_secs_f32(),
            "baseline"
        );
        out.push(results);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(user: &str, train: &[usize], validation: usize, test: usize) -> UserSplit {
        UserSplit {
            user: user.into(),
            train: train.iter().map(|&i| (i, 0)).collect(),
            validation: (validation, 1),
            test: (test, 2),
        }
    }

    #[test]
    fn interactions_hold_the_history_and_never_the_target() {
        let splits = vec![split("a", &[0, 1], 2, 3), split("b", &[1], 3, 0)];
        let v = interactions(&splits, Target::Validation, 4).unwrap();
        assert_eq!(v.user(0), &[(0, 1.0), (1, 1.0)]);
        assert_eq!(v.user(1), &[(1, 1.0)]);
        let t = interactions(&splits, Target::Test, 4).unwrap();
        assert_eq!(t.user(0), &[(0, 1.0), (1, 1.0), (2, 1.0)]);
        assert_eq!(t.user(1), &[(1, 1.0), (3, 1.0)]);
    }

    #[test]
    fn collaborative_baselines_find_the_co_consumed_item() {
        // Items 0 and 1 always go together; the last user had 0 and must get 1.
        let mut splits: Vec<UserSplit> = (0..6)
            .map(|u| split(&format!("u{u}"), &[0, 1], 2 + u % 2, 4))
            .collect();
        splits.push(split("z", &[0], 1, 4));
        let texts: Vec<String> = (0..5).map(|i| format!("item {i}")).collect();
        let index = TextIndex::new(&texts);
        let ctx = Context {
            splits: &splits,
            target: Target::Validation,
            n_items: 5,
            text: &index,
        };
        let r = evaluate(
            &ctx,
            &[
                Baseline::Ease { lambda: 1.0 },
                // One neighbour per item is enough here: item 0's best is item 1.
                Baseline::EaseStored { lambda: 1.0, n: 1 },
                Baseline::Knn {
                    k: 10,
                    shrinkage: 0.0,
                },
            ],
        )
        .unwrap();
        for results in r {
            assert_eq!(results[6].rank, Some(1));
        }
    }

    #[test]
    fn the_grid_has_each_ease_fit_with_its_stored_neighbour_counts_after_it() {
        let g = Baseline::grid(451);
        let at = g
            .iter()
            .position(|b| *b == Baseline::Ease { lambda: 50.0 })
            .unwrap();
        assert_eq!(
            g[at + 1..at + 4],
            [50, 100, 200].map(|n| Baseline::EaseStored { lambda: 50.0, n })
        );
        // A catalogue of 120 items has no "top 200".
        assert!(!Baseline::grid(120)
            .iter()
            .any(|b| matches!(b, Baseline::EaseStored { n: 200, .. })));
    }
}
