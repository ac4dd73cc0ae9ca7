//! Leave-last-out split by time: per user, the last interaction is the test
//! target, the one before it the validation target, the rest is training history.

use std::collections::BTreeMap;

use crate::dataset::Dataset;

#[derive(Clone, Debug)]
pub struct SplitOptions {
    /// Keep only interactions rated at least this (unrated ones are dropped too).
    pub min_rating: Option<f64>,
    /// Users with fewer interactions (after the rating filter) are left out; at least 3
    /// so that one training item remains.
    pub min_interactions: usize,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            min_rating: None,
            min_interactions: 5,
        }
    }
}

/// Which held-out item a run predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// History = training items; predict the validation item. Used for tuning.
    Validation,
    /// History = training items + validation item; predict the test item.
    Test,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Validation => "validation",
            Target::Test => "test",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserSplit {
    pub user: String,
    /// Item indices, oldest first, with their timestamps.
    pub train: Vec<(usize, i64)>,
    pub validation: (usize, i64),
    pub test: (usize, i64),
}

impl UserSplit {
    /// The history a recommender sees for `target`, oldest first.
    pub fn history(&self, target: Target) -> Vec<(usize, i64)> {
        let mut h = self.train.clone();
        if target == Target::Test {
            h.push(self.validation);
        }
        h
    }

    pub fn target(&self, target: Target) -> usize {
        match target {
            Target::Validation => self.validation.0,
            Target::Test => self.test.0,
        }
    }
}

/// Splits every user with enough interactions; users sorted by id. Within a user,
/// interactions are ordered by timestamp, ties broken by item id (byte order), and
/// a repeated item keeps only its latest interaction.
pub fn leave_last_out(data: &Dataset, opts: &SplitOptions) -> Vec<UserSplit> {
    let min = opts.min_interactions.max(3);
    let mut per_user: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
    for x in &data.interactions {
        if let Some(min_rating) = opts.min_rating {
            if x.rating.is_none_or(|r| r < min_rating) {
                continue;
            }
        }
        per_user.entry(&x.user).or_default().push((x.ts, &x.item));
    }
    let mut out = Vec::new();
    for (user, mut events) in per_user {
        events.sort();
        // Keep the latest interaction with each item.
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<(i64, &str)> = events
            .into_iter()
            .rev()
            .filter(|(_, item)| seen.insert(*item))
            .collect();
        kept.reverse();
        if kept.len() < min {
            continue;
        }
        let idx = |(ts, item): (i64, &str)| (data.index[item], ts);
        let test = idx(kept.pop().expect("len >= 3"));
        let validation = idx(kept.pop().expect("len >= 3"));
        out.push(UserSplit {
            user: user.to_string(),
            train: kept.into_iter().map(idx).collect(),
            validation,
            test,
        });
    }
    out
}
