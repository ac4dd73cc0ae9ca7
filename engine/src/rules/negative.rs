//! Negative elements: the profile's "not interested in" lines and the items the user
//! dismissed. A candidate close to any of them loses score in proportion to how far
//! its cosine to the nearest one rises above a floor:
//! `penalty = weight · max(0, max_n cos(item, n) − floor)`.
//!
//! The floor keeps unrelated items untouched (two random catalogue texts sit around
//! cosine 0.1–0.3 with all-MiniLM-L6-v2); the weight is large enough that an item
//! about the disliked topic (cosine ≳ 0.5) falls below merely related ones, and a
//! near-duplicate of a dismissed item (cosine ≳ 0.8) falls far.

use super::Ranked;
use crate::profile::dot;

/// Defaults of [`NegativeSettings`] (`SEMREC_NEGATIVE_WEIGHT`, `SEMREC_NEGATIVE_FLOOR`).
pub const DEFAULT_WEIGHT: f32 = 2.0;
pub const DEFAULT_FLOOR: f32 = 0.3;
/// Most recent dismissals used as negative elements (older ones stay excluded).
pub const DEFAULT_MAX_DISMISSALS: usize = 50;

#[derive(Clone, Debug, PartialEq)]
pub struct NegativeSettings {
    /// Score lost per unit of cosine above the floor; 0 = negative elements off.
    pub weight: f32,
    /// Cosine to a negative element below which nothing is lost.
    pub floor: f32,
    /// Most recent dismissed items used as negative elements.
    pub max_dismissals: usize,
}

impl Default for NegativeSettings {
    fn default() -> Self {
        Self {
            weight: DEFAULT_WEIGHT,
            floor: DEFAULT_FLOOR,
            max_dismissals: DEFAULT_MAX_DISMISSALS,
        }
    }
}

/// What one item loses for being near the negative elements.
pub fn penalty(item: &[f32], negatives: &[Vec<f32>], s: &NegativeSettings) -> f32 {
    if s.weight <= 0.0 {
        return 0.0;
    }
    let nearest = negatives
        .iter()
        .map(|n| dot(n, item))
        .fold(f32::NEG_INFINITY, f32::max);
    s.weight * (nearest - s.floor).max(0.0)
}

/// Lowers every candidate's ranking (and semantic) score by its [`penalty`]; the
/// caller sorts after.
pub fn apply<T: Ranked>(list: &mut [T], negatives: &[Vec<f32>], s: &NegativeSettings) {
    if negatives.is_empty() || s.weight <= 0.0 {
        return;
    }
    for c in list.iter_mut() {
        let p = penalty(c.vector(), negatives, s);
        if p > 0.0 {
            c.penalise(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::Cand;

    fn unit(angle_deg: f32) -> Vec<f32> {
        let a = angle_deg.to_radians();
        vec![a.cos(), a.sin()]
    }

    fn ranked_ids(mut list: Vec<Cand>) -> Vec<i64> {
        list.sort_by(|a, b| b.score.total_cmp(&a.score));
        list.into_iter().map(|c| c.id).collect()
    }

    #[test]
    fn penalty_is_zero_below_the_floor_and_grows_linearly_above() {
        let s = NegativeSettings {
            weight: 2.0,
            floor: 0.5,
            max_dismissals: 10,
        };
        let neg = vec![vec![1.0, 0.0]];
        // cos 60° = 0.5: at the floor, nothing.
        assert_eq!(penalty(&unit(60.0), &neg, &s), 0.0);
        assert_eq!(penalty(&unit(90.0), &neg, &s), 0.0);
        // cos 0° = 1: 2 · (1 − 0.5) = 1.
        assert!((penalty(&unit(0.0), &neg, &s) - 1.0).abs() < 1e-6);
        // The nearest negative counts, not the sum.
        let two = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        assert!((penalty(&unit(0.0), &two, &s) - 1.0).abs() < 1e-6);
        // Weight 0 switches the rule off.
        let off = NegativeSettings { weight: 0.0, ..s };
        assert_eq!(penalty(&unit(0.0), &neg, &off), 0.0);
    }

    #[test]
    fn an_item_near_a_negative_element_falls_below_unrelated_ones() {
        // Query direction 0°; the user is not interested in the 20° direction.
        // Item 1 (10°) is the best match but close to the negative; items 2 and 3
        // lie on the other side, a little further from the query.
        let query = unit(0.0);
        let cand = |id: i64, deg: f32| {
            let v = unit(deg);
            let mut c = Cand::new(id, dot(&v, &query), Some(0));
            c.vector = v;
            c
        };
        let list = vec![cand(1, 10.0), cand(2, -25.0), cand(3, -30.0), cand(4, 40.0)];
        assert_eq!(ranked_ids(list.clone()), vec![1, 2, 3, 4]);
        let mut penalised = list;
        apply(&mut penalised, &[unit(20.0)], &NegativeSettings::default());
        // Scores minus penalties: item 1 0.985 − 2 · (0.985 − 0.3) = −0.39, item 2
        // 0.906 − 2 · (0.707 − 0.3) = 0.09, item 3 0.866 − 2 · (0.643 − 0.3) = 0.18,
        // item 4 0.766 − 2 · (0.940 − 0.3) = −0.51.
        assert_eq!(ranked_ids(penalised), vec![3, 2, 1, 4]);
    }

    #[test]
    fn no_negatives_change_nothing() {
        let mut list = vec![Cand::new(1, 0.9, None), Cand::new(2, 0.1, None)];
        let before = list.clone();
        apply(&mut list, &[], &NegativeSettings::default());
        assert_eq!(list, before);
    }
}
