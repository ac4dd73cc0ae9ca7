//! Fitting the ranker's weights (`fusion::FusionWeights`) to ranked lists with known
//! relevant items: coordinate ascent on mean nDCG@10 (Metzler & Croft 2007). The
//! offline evaluation trains the shipped model with it (`semrec-eval --write-ranker`),
//! and `semrec train` the online ones from logged impressions and clicks.

use super::fusion::{fuse, Features, FusionWeights};

/// Values a weight may take (the engine accepts 0–2 for each feature).
pub const ASCENT_GRID: [f32; 12] = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.3, 1.6, 2.0];
/// Most rounds of coordinate ascent.
const ASCENT_ROUNDS: usize = 5;
/// The cut-off of the metric.
pub const NDCG_AT: usize = 10;

/// One list: its candidates' features, in the order they were found (ties keep it),
/// and which of them are relevant (clicked, or the held-out item).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingList {
    pub features: Vec<Features>,
    pub relevant: Vec<bool>,
}

impl TrainingList {
    /// nDCG@10 of this list ordered by `w` (binary gains; 0 without a relevant item).
    pub fn ndcg(&self, w: &FusionWeights) -> f64 {
        let mut order: Vec<(f32, usize)> = self
            .features
            .iter()
            .enumerate()
            .map(|(n, f)| (fuse(f, w), n))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let gain = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
        let dcg: f64 = order
            .iter()
            .take(NDCG_AT)
            .enumerate()
            .filter(|(_, (_, n))| self.relevant.get(*n).copied().unwrap_or(false))
            .map(|(rank, _)| gain(rank))
            .sum();
        let relevant = self.relevant.iter().filter(|&&r| r).count().min(NDCG_AT);
        let ideal: f64 = (0..relevant).map(gain).sum();
        if ideal > 0.0 {
            dcg / ideal
        } else {
            0.0
        }
    }
}

/// Mean nDCG@10 of `lists` under `w`.
pub fn mean_ndcg(lists: &[TrainingList], w: &FusionWeights) -> f64 {
    if lists.is_empty() {
        return 0.0;
    }
    lists.iter().map(|l| l.ndcg(w)).sum::<f64>() / lists.len() as f64
}

/// Coordinate ascent from all weights 0: each weight in turn takes the best value of
/// [`ASCENT_GRID`] for the mean nDCG@10 of `lists`, until a round changes nothing.
pub fn coordinate_ascent(lists: &[TrainingList]) -> FusionWeights {
    let score = |w: &FusionWeights| lists.iter().map(|l| l.ndcg(w)).sum::<f64>();
    let mut w = FusionWeights::default();
    let mut best = score(&w);
    for _ in 0..ASCENT_ROUNDS {
        let mut changed = false;
        for coord in 0..5 {
            for v in ASCENT_GRID {
                let mut c = w;
                *match coord {
                    0 => &mut c.semantic_mean,
                    1 => &mut c.lexical,
                    2 => &mut c.collaborative,
                    3 => &mut c.popularity,
                    _ => &mut c.scarcity,
                } = v;
                let s = score(&c);
                if s > best + 1e-9 {
                    (best, w, changed) = (s, c, true);
                }
            }
        }
        if !changed {
            break;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(semantic: f32, collaborative: f32) -> Features {
        Features {
            semantic,
            collaborative,
            ..Default::default()
        }
    }

    #[test]
    fn ndcg_counts_every_relevant_item_against_the_ideal_order() {
        let list = TrainingList {
            features: vec![f(0.9, 0.0), f(0.8, 1.0), f(0.1, 0.0)],
            relevant: vec![false, true, false],
        };
        let semantic = FusionWeights::default();
        assert!((list.ndcg(&semantic) - 1.0 / 3f64.log2()).abs() < 1e-9);
        let collab = FusionWeights {
            collaborative: 1.0,
            ..Default::default()
        };
        assert!((list.ndcg(&collab) - 1.0).abs() < 1e-9);
        let none = TrainingList {
            relevant: vec![false; 3],
            ..list
        };
        assert_eq!(none.ndcg(&collab), 0.0);
    }

    #[test]
    fn ascent_finds_the_feature_the_clicks_follow() {
        // Clicks always go to the item with the best collaborative score, which the
        // semantic score ranks last.
        let lists: Vec<TrainingList> = (0..20)
            .map(|i| {
                let c = (i % 5) as f32 / 10.0;
                TrainingList {
                    features: vec![f(0.9, c), f(0.8, c), f(0.5, 0.9)],
                    relevant: vec![false, false, true],
                }
            })
            .collect();
        let w = coordinate_ascent(&lists);
        assert!(w.collaborative > 0.0, "{w:?}");
        assert!((mean_ndcg(&lists, &w) - 1.0).abs() < 1e-9);
        assert!(mean_ndcg(&lists, &FusionWeights::default()) < 0.6);
    }
}
