//! EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): the
//! item–item weights B that minimise ‖X − XB‖² + λ‖B‖² with diag(B) = 0, in closed form:
//! G = XᵀX + λI, P = G⁻¹, B = −P / diag(P) (column-wise), diag(B) = 0.
//!
//! Dense: G and P are n × n. The factorisation and inverse run in f64 (the Cholesky of
//! a 10k-item Gram matrix in f32 loses digits the ranking can see), and at most two
//! such matrices live at once: about 2 · 8 · n² bytes at the peak, 1.6 GB at the
//! default limit of 10k items. The model keeps P only; B is read from it.

use faer::linalg::solvers::{DenseSolveCore, Llt};
use faer::{Mat, MatRef, Side};

use super::{top_n, CollaborativeError, Interactions, Neighbours};

/// Default largest catalogue EASE is fitted on (items with interactions).
pub const DEFAULT_MAX_ITEMS: usize = 10_000;

/// A fitted EASE model: P = (XᵀX + λI)⁻¹, from which B is read.
pub struct EaseModel {
    p: Mat<f64>,
}

/// Fits EASE on `x` with ridge `lambda` (> 0). Refuses catalogues above `max_items`.
pub fn fit(
    x: &Interactions,
    lambda: f64,
    max_items: usize,
) -> Result<EaseModel, CollaborativeError> {
    let n = x.n_items();
    if n > max_items {
        return Err(CollaborativeError::TooManyItems {
            items: n,
            limit: max_items,
        });
    }
    if !(lambda.is_finite() && lambda > 0.0) {
        return Err(CollaborativeError::Invalid(format!(
            "EASE's λ must be finite and above 0, got {lambda}"
        )));
    }
    // G, column-major (symmetric, so row i = column i).
    let mut g = vec![0.0f64; n * n];
    let mut touched = Vec::new();
    for (i, col) in g.chunks_mut(n.max(1)).enumerate().take(n) {
        x.add_gram_row(i, col, &mut touched);
        touched.clear();
        col[i] += lambda;
    }
    let llt = Llt::new(MatRef::from_column_major_slice(&g, n, n), Side::Lower).map_err(|e| {
        CollaborativeError::NotPositiveDefinite {
            lambda,
            reason: e.to_string(),
        }
    })?;
    drop(g);
    let p = llt.inverse();
    Ok(EaseModel { p })
}

impl EaseModel {
    pub fn n_items(&self) -> usize {
        self.p.nrows()
    }

    /// B[i, j]: how much having item `i` predicts item `j`.
    pub fn weight(&self, i: usize, j: usize) -> f64 {
        if i == j {
            0.0
        } else {
            -self.p[(i, j)] / self.p[(j, j)]
        }
    }

    /// Row `i` of B: (j, B[i, j]) for every j.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (u32, f64)> + '_ {
        (0..self.n_items()).map(move |j| (j as u32, self.weight(i, j)))
    }

    /// The dense EASE score of every item for a user whose history is `(item, weight)`:
    /// Σ_h weight(h) · B[h, j] (the model without any top-N cut).
    pub fn scores(&self, history: &[(u32, f32)]) -> Vec<f64> {
        let mut out = vec![0.0; self.n_items()];
        for &(h, wh) in history {
            for (j, b) in self.row(h as usize) {
                out[j as usize] += f64::from(wh) * b;
            }
        }
        out
    }

    /// The `n` strongest weights (by magnitude, negatives included) of each row of B.
    pub fn top_neighbours(&self, n: usize) -> Neighbours {
        Neighbours::new((0..self.n_items()).map(|i| top_n(self.row(i), n)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users {0, 1} had items 0 and 1, user 2 had items 1 and 2, λ = 1, so
    /// G + λI = [[3, 2, 0], [2, 4, 1], [0, 1, 2]]. Column j of B solves
    /// (G + λI)₋ⱼ,₋ⱼ B₋ⱼ,ⱼ = G₋ⱼ,ⱼ; by hand (Cramer's rule on each 2 × 2):
    /// B = [[0, 2/3, −1/4], [4/7, 0, 3/8], [−2/7, 1/2, 0]].
    fn hand_data() -> Interactions {
        Interactions::new(
            3,
            3,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, 1.0),
                (2, 1, 1.0),
                (2, 2, 1.0),
            ],
        )
        .unwrap()
    }

    #[test]
    fn ease_matches_the_hand_solved_three_item_case() {
        let m = fit(&hand_data(), 1.0, 10).unwrap();
        let expected = [
            [0.0, 2.0 / 3.0, -1.0 / 4.0],
            [4.0 / 7.0, 0.0, 3.0 / 8.0],
            [-2.0 / 7.0, 1.0 / 2.0, 0.0],
        ];
        for (i, row) in expected.iter().enumerate() {
            for (j, want) in row.iter().enumerate() {
                let got = m.weight(i, j);
                assert!(
                    (got - want).abs() < 1e-12,
                    "B[{i},{j}] = {got}, want {want}"
                );
            }
        }
        // Scores are X_u · B, negative weights included.
        let s = m.scores(&[(0, 1.0)]);
        assert!((s[1] - 2.0 / 3.0).abs() < 1e-12 && (s[2] + 0.25).abs() < 1e-12);
        let top = m.top_neighbours(5);
        // The negative weight is kept: it pushes item 2 down for a history with item 0.
        assert_eq!(top.of(0), &[(1, (2.0f64 / 3.0) as f32), (2, -0.25)]);
        assert_eq!(top.of(1), &[(0, (4.0f64 / 7.0) as f32), (2, 0.375)]);
        assert_eq!(top.of(2), &[(1, 0.5), (0, (-2.0f64 / 7.0) as f32)]);
    }

    #[test]
    fn two_items_reduce_to_one_ridge_regression() {
        // B[0, 1] = x₀·x₁ / (x₀·x₀ + λ): 2 shared users, item 0 seen by 3, λ = 2.
        let x = Interactions::new(
            3,
            2,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, 1.0),
                (2, 0, 1.0),
            ],
        )
        .unwrap();
        let m = fit(&x, 2.0, 10).unwrap();
        assert!((m.weight(0, 1) - 2.0 / 5.0).abs() < 1e-12);
        assert!((m.weight(1, 0) - 2.0 / 4.0).abs() < 1e-12);
    }

    #[test]
    fn ease_refuses_large_catalogues_and_bad_lambda() {
        assert!(matches!(
            fit(&hand_data(), 1.0, 2),
            Err(CollaborativeError::TooManyItems { items: 3, limit: 2 })
        ));
        assert!(fit(&hand_data(), 0.0, 10).is_err());
        assert!(fit(&hand_data(), f64::NAN, 10).is_err());
    }
}
