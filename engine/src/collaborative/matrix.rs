//! The user–item matrix X, sparse, read by user and by item.

use super::CollaborativeError;

/// X with one entry per (user, item): the interaction's weight (1 for "consumed").
#[derive(Clone, Debug)]
pub struct Interactions {
    n_items: usize,
    /// Per user: (item, weight), sorted by item.
    by_user: Vec<Vec<(u32, f32)>>,
    /// Per item: (user, weight), sorted by user.
    by_item: Vec<Vec<(u32, f32)>>,
}

impl Interactions {
    /// Builds X from `(user, item, weight)` triples with `user < n_users` and
    /// `item < n_items`. A pair seen twice keeps its largest weight: rating a film twice
    /// is still one film seen. Weights must be finite and positive.
    pub fn new(
        n_users: usize,
        n_items: usize,
        triples: impl IntoIterator<Item = (u32, u32, f32)>,
    ) -> Result<Self, CollaborativeError> {
        if n_items > u32::MAX as usize || n_users > u32::MAX as usize {
            return Err(CollaborativeError::Invalid(
                "at most 2^32 users and items".into(),
            ));
        }
        let mut by_user: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_users];
        for (u, i, w) in triples {
            if u as usize >= n_users || i as usize >= n_items {
                return Err(CollaborativeError::Invalid(format!(
                    "interaction ({u}, {i}) is outside {n_users} users x {n_items} items"
                )));
            }
            if !(w.is_finite() && w > 0.0) {
                return Err(CollaborativeError::Invalid(format!(
                    "interaction ({u}, {i}) has weight {w}: weights must be finite and positive"
                )));
            }
            by_user[u as usize].push((i, w));
        }
        let mut by_item: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_items];
        for (u, row) in by_user.iter_mut().enumerate() {
            row.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
            row.dedup_by_key(|e| e.0);
            for &(i, w) in row.iter() {
                by_item[i as usize].push((u as u32, w));
            }
        }
        Ok(Self {
            n_items,
            by_user,
            by_item,
        })
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    pub fn n_users(&self) -> usize {
        self.by_user.len()
    }

    /// Stored (user, item) entries.
    pub fn len(&self) -> usize {
        self.by_user.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items of user `u` with their weights, sorted by item.
    pub fn user(&self, u: usize) -> &[(u32, f32)] {
        &self.by_user[u]
    }

    /// Column norms ‖x_i‖ of X.
    pub fn item_norms(&self) -> Vec<f64> {
        self.by_item
            .iter()
            .map(|col| {
                col.iter()
                    .map(|&(_, w)| f64::from(w).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    }

    /// Row `i` of XᵀX added into `row` (length `n_items`); the items it touched
    /// (other than `i` itself, possibly repeated) are pushed to `touched`.
    pub(crate) fn add_gram_row(&self, i: usize, row: &mut [f64], touched: &mut Vec<u32>) {
        for &(u, wu) in &self.by_item[i] {
            for &(j, wj) in &self.by_user[u as usize] {
                if row[j as usize] == 0.0 && j as usize != i {
                    touched.push(j);
                }
                row[j as usize] += f64::from(wu) * f64::from(wj);
            }
        }
    }
}
