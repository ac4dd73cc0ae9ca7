//! Item-kNN: cosine similarity of the item columns of X, shrunk towards 0 for items
//! with little support, keeping each item's top k. Sparse: the work is Σ over users of
//! (items per user)² and the memory one dense row per thread, so it runs on catalogues
//! far above EASE's limit.

use rayon::prelude::*;

use super::{top_n, Interactions, Neighbours};

/// sim(i, j) = xᵢ·xⱼ / (‖xᵢ‖ ‖xⱼ‖ + shrinkage), the top `k` positive per item.
pub fn fit(x: &Interactions, k: usize, shrinkage: f64) -> Neighbours {
    let n = x.n_items();
    let norms = x.item_norms();
    let shrinkage = shrinkage.max(0.0);
    let per_item: Vec<Vec<(u32, f32)>> = (0..n)
        .into_par_iter()
        .map_init(
            || (vec![0.0f64; n], Vec::new()),
            |(row, touched), i| {
                x.add_gram_row(i, row, touched);
                touched.sort_unstable();
                touched.dedup();
                let sims = touched.iter().map(|&j| {
                    let denom = norms[i] * norms[j as usize] + shrinkage;
                    let s = if denom > 0.0 {
                        row[j as usize] / denom
                    } else {
                        0.0
                    };
                    (j, s)
                });
                // Similarities, not regression weights: a negative one says nothing useful.
                let best = top_n(sims.filter(|&(_, s)| s > 0.0), k);
                for &j in touched.iter() {
                    row[j as usize] = 0.0;
                }
                row[i] = 0.0;
                touched.clear();
                best
            },
        )
        .collect();
    Neighbours::new(per_item)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items 0 and 1 were had by users {0, 1}, item 2 by users {1, 2}: every norm is √2,
    /// x₀·x₁ = 2, x₀·x₂ = x₁·x₂ = 1.
    fn data() -> Interactions {
        Interactions::new(
            3,
            3,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, 1.0),
                (1, 2, 1.0),
                (2, 2, 1.0),
            ],
        )
        .unwrap()
    }

    #[test]
    fn cosine_without_shrinkage() {
        let n = fit(&data(), 5, 0.0);
        assert_eq!(n.of(0), &[(1, 1.0), (2, 0.5)]);
        assert_eq!(n.of(2), &[(0, 0.5), (1, 0.5)]);
        // k = 1 keeps the best; a tie goes to the lower item.
        let n = fit(&data(), 1, 0.0);
        assert_eq!(n.of(2), &[(0, 0.5)]);
    }

    #[test]
    fn shrinkage_discounts_small_supports() {
        // sim(0, 1) = 2 / (2 + 2), sim(0, 2) = 1 / (2 + 2).
        let n = fit(&data(), 5, 2.0);
        assert_eq!(n.of(0), &[(1, 0.5), (2, 0.25)]);
    }

    #[test]
    fn repeated_pairs_count_once_and_bad_input_is_refused() {
        let x = Interactions::new(1, 2, [(0, 0, 1.0), (0, 0, 1.0), (0, 1, 1.0)]).unwrap();
        assert_eq!(x.len(), 2);
        assert_eq!(fit(&x, 5, 0.0).of(0), &[(1, 1.0)]);
        assert!(Interactions::new(1, 2, [(0, 2, 1.0)]).is_err());
        assert!(Interactions::new(1, 2, [(0, 1, -1.0)]).is_err());
        assert!(Interactions::new(1, 2, [(0, 1, f32::NAN)]).is_err());
    }
}
