//! Synthetic interactions with a realistic long tail, from a seed: item popularity is
//! Zipf-like over a shuffled item order (the popular items are spread over the ids),
//! users' history lengths are heavy-tailed (many short histories, a few long ones),
//! and every user has a taste cluster that half their items come from, so items
//! co-occur the way real catalogues' do instead of only through popularity.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Zipf exponent of item popularity (MovieLens' rating counts fall off about so).
const ZIPF_S: f64 = 1.0;
/// Taste clusters the items are spread over.
const CLUSTERS: usize = 200;
/// Share of a user's items drawn from their taste cluster (the rest: whole catalogue).
const TASTE_SHARE: f64 = 0.5;
/// Shortest history, and the Pareto tail index of history lengths (mean ≈ 15).
const MIN_HISTORY: f64 = 5.0;
const HISTORY_TAIL: f64 = 1.5;
/// Longest history: MovieLens' heaviest users rate a few thousand films.
const MAX_HISTORY: usize = 2_000;
/// Zipf draws tried for an unused item before a uniform one is taken.
const ZIPF_TRIES: usize = 32;
/// The first interaction's time (2024-01-01 UTC, Unix seconds); users act an hour apart.
const START_UNIX: i64 = 1_704_067_200;

/// One generated interaction: user number, item number (0-based, an index into the
/// caller's item ids) and its Unix time in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Generated {
    pub user: u32,
    pub item: u32,
    pub unix: i64,
}

/// Cumulative Zipf weights 1/rᵖ over `n` ranks, for sampling by binary search.
fn zipf_cdf(n: usize) -> Vec<f64> {
    let mut acc = 0.0;
    (1..=n)
        .map(|r| {
            acc += 1.0 / (r as f64).powf(ZIPF_S);
            acc
        })
        .collect()
}

fn draw_rank(cdf: &[f64], rng: &mut StdRng) -> usize {
    let total = cdf.last().copied().unwrap_or(0.0);
    let x = rng.gen::<f64>() * total;
    cdf.partition_point(|&c| c <= x).min(cdf.len() - 1)
}

/// `interactions` distinct (user, item) pairs over `items` items, the same for the
/// same seed. Users are numbered in order; each has at least one interaction.
pub fn generate(items: usize, interactions: usize, seed: u64) -> Vec<Generated> {
    if items == 0 || interactions == 0 {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    // order[r] = the item of popularity rank r.
    let mut order: Vec<u32> = (0..items as u32).collect();
    order.shuffle(&mut rng);
    let global = zipf_cdf(items);
    let clusters = CLUSTERS.min(items);
    // Cluster c holds the ranks c, c + clusters, c + 2·clusters, …: popularity
    // within a cluster follows the global order.
    let per_cluster = zipf_cdf(items.div_ceil(clusters));
    let max_history = MAX_HISTORY.min(items.div_ceil(4)).max(1);

    let mut out = Vec::with_capacity(interactions);
    let mut taken: HashSet<u32> = HashSet::new();
    let mut user: u32 = 0;
    while out.len() < interactions {
        let u: f64 = rng.gen_range(f64::EPSILON..1.0);
        let wanted = (MIN_HISTORY * u.powf(-1.0 / HISTORY_TAIL)) as usize;
        let len = wanted.clamp(1, max_history).min(interactions - out.len());
        let cluster = rng.gen_range(0..clusters);
        let start = START_UNIX + i64::from(user) * 3_600;
        taken.clear();
        for step in 0..len {
            let mut item = None;
            for _ in 0..ZIPF_TRIES {
                let rank = if rng.gen_bool(TASTE_SHARE) {
                    let r = draw_rank(&per_cluster, &mut rng) * clusters + cluster;
                    if r >= items {
                        continue;
                    }
                    r
                } else {
                    draw_rank(&global, &mut rng)
                };
                if !taken.contains(&order[rank]) {
                    item = Some(order[rank]);
                    break;
                }
            }
            // The popular head is used up for this user: any unused item (a history
            // is at most a quarter of the catalogue, so this ends quickly).
            let item = item.unwrap_or_else(|| loop {
                let i = rng.gen_range(0..items as u32);
                if !taken.contains(&i) {
                    break i;
                }
            });
            taken.insert(item);
            out.push(Generated {
                user,
                item,
                unix: start + step as i64 * 60,
            });
        }
        user += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(g: &[Generated], items: usize) -> Vec<usize> {
        let mut c = vec![0; items];
        for x in g {
            c[x.item as usize] += 1;
        }
        c
    }

    #[test]
    fn same_seed_same_interactions_and_another_seed_differs() {
        let a = generate(5_000, 40_000, 7);
        assert_eq!(a, generate(5_000, 40_000, 7));
        assert_ne!(a, generate(5_000, 40_000, 8));
    }

    #[test]
    fn exactly_the_requested_count_of_distinct_pairs_over_the_items() {
        for (items, n) in [(1, 1), (3, 10), (50, 1_000), (10_000, 100_000)] {
            let g = generate(items, n, 42);
            assert_eq!(g.len(), n, "{items} items, {n} interactions");
            assert!(g.iter().all(|x| (x.item as usize) < items));
            let pairs: HashSet<(u32, u32)> = g.iter().map(|x| (x.user, x.item)).collect();
            assert_eq!(pairs.len(), n, "duplicate (user, item) pairs");
            let users: HashSet<u32> = g.iter().map(|x| x.user).collect();
            let last = g.iter().map(|x| x.user).max().unwrap_or(0);
            assert_eq!(
                users.len() as u32,
                last + 1,
                "users are numbered without gaps"
            );
        }
        assert!(generate(0, 10, 1).is_empty());
        assert!(generate(10, 0, 1).is_empty());
    }

    #[test]
    fn popularity_has_a_long_tail_and_history_lengths_vary() {
        let items = 10_000;
        let g = generate(items, 100_000, 3);
        let mut c = counts(&g, items);
        c.sort_unstable_by(|a, b| b.cmp(a));
        // The top 1 % of items take a large share; the median item is far below the top.
        let top: usize = c[..items / 100].iter().sum();
        assert!(top * 5 > g.len(), "top 1% hold only {top} of {}", g.len());
        assert!(
            c[0] > 50 * c[items / 2].max(1),
            "head {} vs median {}",
            c[0],
            c[items / 2]
        );
        let mut per_user = std::collections::HashMap::<u32, usize>::new();
        for x in &g {
            *per_user.entry(x.user).or_default() += 1;
        }
        let mut lens: Vec<usize> = per_user.into_values().collect();
        lens.sort_unstable();
        let (median, max) = (lens[lens.len() / 2], lens[lens.len() - 1]);
        assert!(median <= 15 && max >= 200, "median {median}, max {max}");
    }

    #[test]
    fn a_users_times_increase() {
        let g = generate(1_000, 5_000, 9);
        for w in g.windows(2) {
            if w[0].user == w[1].user {
                assert!(w[1].unix > w[0].unix);
            }
        }
    }
}
