//! Business rules over a ranked candidate list, applied after the channels' scores
//! are fused: negative elements ("not interested in", dismissals) lower the score of
//! candidates near them, fair share keeps one profile element from filling the list,
//! exploration gives a few slots to under-exposed items, the shown score never rises
//! down the list, and a list whose profile the model cannot serve well says so.
//!
//! Each rule is a pure function over [`Ranked`] candidates, unit-tested on hand-made
//! data; `recommend.rs` calls them at hooks marked `// rules hook:`.

pub mod confidence;
pub mod dismissals;
pub mod exploration;
pub mod exposure;
pub mod fair_share;
pub mod negative;
pub mod pipeline;
pub mod shown_score;

/// What the rules need to see of a ranked candidate.
pub trait Ranked {
    fn item_id(&self) -> i64;
    /// The item's unit vector.
    fn vector(&self) -> &[f32];
    /// The ranking key (higher first).
    fn score(&self) -> f32;
    /// The semantic channel's score: exploration picks by it.
    fn semantic(&self) -> f32;
    /// Lowers both the ranking key and the semantic score (a negative element's
    /// penalty holds for exploration's choice too).
    fn penalise(&mut self, by: f32);
    /// The profile element that supplied the candidate, when one did.
    fn element(&self) -> Option<usize>;
    /// The score shown to users.
    fn shown(&self) -> f32;
    fn set_shown(&mut self, shown: f32);
}

/// Which rules run, and their settings (`EngineSettings::rules`).
#[derive(Clone, Debug, PartialEq)]
pub struct RulesSettings {
    pub negative: negative::NegativeSettings,
    /// Fair share across profile elements (see [`fair_share`]).
    pub fair_share: bool,
    pub exploration: exploration::ExplorationSettings,
    pub confidence: confidence::ConfidenceSettings,
}

impl Default for RulesSettings {
    fn default() -> Self {
        Self {
            negative: negative::NegativeSettings::default(),
            fair_share: true,
            exploration: exploration::ExplorationSettings::default(),
            confidence: confidence::ConfidenceSettings::default(),
        }
    }
}

/// Moves the items of `list` to the order of `order` (indices into `list`, each at
/// most once); items not named are dropped.
pub fn reorder<T>(list: Vec<T>, order: &[usize]) -> Vec<T> {
    let mut slots: Vec<Option<T>> = list.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::Ranked;

    /// A hand-made candidate for the rules' unit tests.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Cand {
        pub id: i64,
        pub vector: Vec<f32>,
        pub score: f32,
        pub semantic: f32,
        pub element: Option<usize>,
        pub shown: f32,
    }

    impl Cand {
        pub fn new(id: i64, score: f32, element: Option<usize>) -> Self {
            Self {
                id,
                vector: vec![1.0, 0.0],
                score,
                semantic: score,
                element,
                shown: score,
            }
        }
    }

    impl Ranked for Cand {
        fn item_id(&self) -> i64 {
            self.id
        }
        fn vector(&self) -> &[f32] {
            &self.vector
        }
        fn score(&self) -> f32 {
            self.score
        }
        fn penalise(&mut self, by: f32) {
            self.score -= by;
            self.semantic -= by;
        }
        fn semantic(&self) -> f32 {
            self.semantic
        }
        fn element(&self) -> Option<usize> {
            self.element
        }
        fn shown(&self) -> f32 {
            self.shown
        }
        fn set_shown(&mut self, shown: f32) {
            self.shown = shown;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reorder_takes_each_index_once() {
        assert_eq!(
            super::reorder(vec!['a', 'b', 'c'], &[2, 0, 2, 9]),
            vec!['c', 'a']
        );
    }
}
