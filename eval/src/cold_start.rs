//! The cold-start table: a seeded share of the items loses every training
//! interaction (their text stays), and the users whose test item is one of them are
//! evaluated. Collaborative models and popularity know nothing of those items, so
//! this is where the text has to carry the recommendation.

use crate::learned::unit;
use crate::split::UserSplit;

/// Share of the items made cold.
pub const COLD_SHARE: f64 = 0.1;
/// Mixed into the seed so the cold items are not the ranker's training mask.
const SALT: u64 = 0x636f_6c64_7461_626c;

/// Which of `n_items` items are cold for `seed`.
pub fn cold_items(n_items: usize, seed: u64) -> Vec<bool> {
    (0..n_items)
        .map(|i| unit(seed ^ SALT, i as u64) < COLD_SHARE)
        .collect()
}

/// Every split without the cold items in its history (for the test target: training
/// items and the validation item), and the indices (into the returned splits) of the
/// users whose test item is cold. A user left with no history is dropped: there is
/// nothing to recommend from.
pub fn without_cold(splits: &[UserSplit], cold: &[bool]) -> (Vec<UserSplit>, Vec<usize>) {
    let mut out = Vec::with_capacity(splits.len());
    let mut targets = Vec::new();
    for s in splits {
        let mut history: Vec<(usize, i64)> = s
            .train
            .iter()
            .chain(std::iter::once(&s.validation))
            .copied()
            .filter(|&(i, _)| !cold[i])
            .collect();
        let Some(validation) = history.pop() else {
            continue;
        };
        if cold[s.test.0] {
            targets.push(out.len());
        }
        out.push(UserSplit {
            user: s.user.clone(),
            train: history,
            validation,
            test: s.test,
        });
    }
    (out, targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::Target;

    fn split(user: &str, train: &[usize], validation: usize, test: usize) -> UserSplit {
        UserSplit {
            user: user.into(),
            train: train.iter().map(|&i| (i, i as i64)).collect(),
            validation: (validation, 100),
            test: (test, 200),
        }
    }

    #[test]
    fn cold_items_lose_their_history_and_their_users_are_the_targets() {
        // Items 2 and 5 are cold.
        let cold = [false, false, true, false, false, true];
        let splits = [
            split("a", &[0, 2, 1], 3, 5), // cold test item: a target
            split("b", &[0, 1], 2, 4),    // cold validation item: dropped from history
            split("c", &[2], 5, 2),       // nothing left: dropped
        ];
        let (out, targets) = without_cold(&splits, &cold);
        assert_eq!(out.len(), 2);
        assert_eq!(targets, vec![0]);
        let items =
            |s: &UserSplit| -> Vec<usize> { s.history(Target::Test).iter().map(|h| h.0).collect() };
        assert_eq!(items(&out[0]), vec![0, 1, 3]);
        assert_eq!(items(&out[1]), vec![0, 1]);
        assert_eq!(out[0].test.0, 5);
        // No cold item is in any history.
        for s in &out {
            assert!(s.history(Target::Test).iter().all(|h| !cold[h.0]));
        }
    }

    #[test]
    fn the_cold_share_is_seeded_and_near_its_share() {
        let a = cold_items(20_000, 42);
        assert_eq!(a, cold_items(20_000, 42));
        assert_ne!(a, cold_items(20_000, 43));
        let share = a.iter().filter(|&&c| c).count() as f64 / a.len() as f64;
        assert!((share - COLD_SHARE).abs() < 0.01, "{share}");
        // Not the ranker's training mask.
        let mask: Vec<bool> = (0..20_000).map(|i| crate::learned::masked(42, i)).collect();
        assert_ne!(a, mask);
    }
}
