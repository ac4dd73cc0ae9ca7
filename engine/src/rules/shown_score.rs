//! The score shown to users ("% match"): each item's cosine similarity to the
//! profile, capped by the shown score of the item above it, so it never rises down
//! the list. Fusion (collaborative, popularity), negative elements, fair share and
//! exploration order a list by more than similarity; without the cap the list would
//! show 45 % above 48 %. It is computed from the first item of the whole list, so
//! every page of it agrees with the pages before.

use super::Ranked;

/// Caps every item's shown score by the one above it.
pub fn apply<T: Ranked>(list: &mut [T]) {
    let mut above = f32::INFINITY;
    for c in list.iter_mut() {
        let shown = c.shown().min(above);
        c.set_shown(shown);
        above = shown;
    }
}

/// Whether shown scores never rise down the list.
pub fn is_non_increasing(scores: &[f32]) -> bool {
    scores.windows(2).all(|w| w[1] <= w[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::Cand;
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_higher_similarity_below_is_capped_by_the_one_above() {
        let mut list = vec![
            Cand::new(1, 0.9, None),
            Cand::new(2, 0.8, None),
            Cand::new(3, 0.8, None),
        ];
        list[0].shown = 0.45;
        list[1].shown = 0.48;
        list[2].shown = 0.30;
        apply(&mut list);
        let shown: Vec<f32> = list.iter().map(|c| c.shown).collect();
        assert_eq!(shown, vec![0.45, 0.45, 0.30]);
    }

    /// Property: for any list (random similarities, random order), the shown scores
    /// are non-increasing, never above the item's own similarity, and the first
    /// item's is its own. A seeded loop, so a failure reproduces.
    #[test]
    fn shown_scores_never_rise_for_any_list() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        for case in 0..2_000 {
            let n = rng.gen_range(0..60);
            let mut list: Vec<Cand> = (0..n)
                .map(|i| {
                    let mut c = Cand::new(i, rng.gen_range(-1.0..2.0), None);
                    c.shown = rng.gen_range(-1.0..1.0);
                    c
                })
                .collect();
            let own: Vec<f32> = list.iter().map(|c| c.shown).collect();
            apply(&mut list);
            let shown: Vec<f32> = list.iter().map(|c| c.shown).collect();
            assert!(is_non_increasing(&shown), "case {case}: {shown:?}");
            assert!(shown.iter().zip(&own).all(|(s, o)| s <= o), "case {case}");
            if let (Some(s), Some(o)) = (shown.first(), own.first()) {
                assert_eq!(s, o, "case {case}");
            }
        }
    }

    #[test]
    fn the_check_sees_a_rise() {
        assert!(is_non_increasing(&[0.5, 0.5, 0.2]));
        assert!(!is_non_increasing(&[0.45, 0.48]));
    }
}
