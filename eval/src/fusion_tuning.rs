//! Choosing the fusion weights on the validation split: every user's candidate pool
//! with its features comes from the engine (`Engine::candidate_features_for_user`),
//! and each weight pair orders it with the engine's own `fusion::fuse`.

use engine::fusion::{fuse, Features, FusionWeights};

use crate::metrics::UserResult;
use crate::split::{Target, UserSplit};

/// Collaborative channel weights tried.
pub const COLLABORATIVE_WEIGHTS: [f32; 9] = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0];
/// Popularity prior weights tried.
pub const POPULARITY_WEIGHTS: [f32; 7] = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0];

/// Every (collaborative, popularity) pair of the grid.
pub fn grid() -> Vec<FusionWeights> {
    COLLABORATIVE_WEIGHTS
        .iter()
        .flat_map(|&collaborative| {
            POPULARITY_WEIGHTS
                .iter()
                .map(move |&popularity| FusionWeights {
                    popularity,
                    collaborative,
                    lexical: 0.0,
                    semantic_mean: 0.0,
                    scarcity: 0.0,
                })
        })
        .collect()
}

/// Per-user results of each weight pair: the pool ordered by the fused score, best
/// first, ties to the earlier candidate (the engine's order).
pub fn evaluate(
    pools: &[Vec<(usize, Features)>],
    splits: &[UserSplit],
    target: Target,
    grid: &[FusionWeights],
) -> Vec<Vec<UserResult>> {
    grid.iter()
        .map(|w| {
            pools
                .iter()
                .zip(splits)
                .map(|(pool, s)| {
                    let mut scored: Vec<(usize, f32, usize)> = pool
                        .iter()
                        .enumerate()
                        .map(|(n, (i, f))| (*i, fuse(f, w), n))
                        .collect();
                    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
                    let ranking: Vec<usize> = scored.into_iter().map(|(i, _, _)| i).collect();
                    UserResult::from_ranking(&ranking, s.target(target))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_reorder_the_pool() {
        let split = UserSplit {
            user: "u".into(),
            train: vec![(0, 0)],
            validation: (2, 1),
            test: (3, 2),
        };
        let f = |semantic, collaborative| Features {
            semantic,
            collaborative,
            popularity: 0.0,
            lexical: 0.0,
            semantic_mean: 0.0,
            scarcity: 0.0,
        };
        // Item 1 is closer in text, item 2 (the target) the collaborative favourite.
        let pools = vec![vec![(1, f(0.6, 0.0)), (2, f(0.5, 1.0))]];
        let grid = [
            FusionWeights::default(),
            FusionWeights {
                popularity: 0.0,
                collaborative: 0.5,
                lexical: 0.0,
                semantic_mean: 0.0,
                scarcity: 0.0,
            },
        ];
        let r = evaluate(&pools, &[split], Target::Validation, &grid);
        assert_eq!(r[0][0].rank, Some(2));
        assert_eq!(r[1][0].rank, Some(1));
    }
}
