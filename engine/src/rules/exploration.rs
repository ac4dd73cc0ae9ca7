//! Exploration: a share of the list's slots goes to under-exposed items (fewer than
//! M interactions and fewer than S impressions), so that new imports are not buried
//! under items with history. Which slots is seeded by (user, day), so two server
//! instances serve the same list all day; which item fills a slot is not random:
//! the under-exposed candidate with the best semantic score not yet in the list.

/// Defaults of [`ExplorationSettings`] (`SEMREC_EXPLORATION_SHARE`,
/// `SEMREC_EXPLORATION_MAX_INTERACTIONS`, `SEMREC_EXPLORATION_MAX_IMPRESSIONS`).
/// One slot in ten until the offline evaluation chooses the share.
pub const DEFAULT_SHARE: f32 = 0.1;
pub const DEFAULT_MAX_INTERACTIONS: i64 = 5;
pub const DEFAULT_MAX_IMPRESSIONS: i64 = 50;

#[derive(Clone, Debug, PartialEq)]
pub struct ExplorationSettings {
    /// Share of the slots given to under-exposed items, 0–0.5; 0 = off.
    pub share: f32,
    /// An item with fewer stored interactions than this is under-exposed…
    pub max_interactions: i64,
    /// …if it was also shown in fewer impressions than this.
    pub max_impressions: i64,
}

impl Default for ExplorationSettings {
    fn default() -> Self {
        Self {
            share: DEFAULT_SHARE,
            max_interactions: DEFAULT_MAX_INTERACTIONS,
            max_impressions: DEFAULT_MAX_IMPRESSIONS,
        }
    }
}

impl ExplorationSettings {
    pub fn is_on(&self) -> bool {
        self.share > 0.0 && self.max_interactions > 0 && self.max_impressions > 0
    }
}

/// FNV-1a: stable across processes and builds (std's hasher is randomly keyed).
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The seed of one user's lists on one day (days since the Unix epoch, UTC).
/// `user` is the user's id, or for anonymous lists any stable text of the profile.
pub fn seed(user: &str, day: i64) -> u64 {
    fnv(
        &day.to_le_bytes(),
        fnv(user.as_bytes(), 0xcbf2_9ce4_8422_2325),
    )
}

/// The 0-based positions among the first `want` that go to exploration: one in each
/// block of round(1 / share) positions, at a seeded place in the block's lower half.
/// The head of a list is what people look at most, so an exploratory pick there costs
/// the most; lower in the block it still gets seen.
pub fn slots(seed: u64, want: usize, share: f32) -> Vec<usize> {
    // NaN too: `share > 0.0` is false for it.
    if share.is_nan() || share <= 0.0 {
        return Vec::new();
    }
    let period = ((1.0 / share.min(0.5)).round() as usize).max(2);
    let upper = period / 2;
    let lower = (period - upper) as u64;
    (0..want.div_ceil(period))
        .map(|block| {
            block * period + upper + (fnv(&(block as u64).to_le_bytes(), seed) % lower) as usize
        })
        .filter(|&p| p < want)
        .collect()
}

/// Puts under-exposed candidates at the `slots` of `order` (indices into a candidate
/// list of `semantic` scores): each slot gets the eligible candidate with the best
/// semantic score not already placed above it (moved up if it was further down), and
/// the items from there on move down one. Returns the first `want`.
/// `fits(order, slot, candidate)`: whether another rule (fair share) lets the
/// candidate in at that slot; a slot no eligible candidate fits stays as it was.
pub fn place(
    mut order: Vec<usize>,
    semantic: &[f32],
    eligible: &[bool],
    slots: &[usize],
    want: usize,
    fits: impl Fn(&[usize], usize, usize) -> bool,
) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..semantic.len()).filter(|&i| eligible[i]).collect();
    pool.sort_by(|&a, &b| semantic[b].total_cmp(&semantic[a]).then(a.cmp(&b)));
    for &slot in slots {
        if slot > order.len() {
            break;
        }
        let above = &order[..slot];
        let Some(&pick) = pool
            .iter()
            .find(|&&i| !above.contains(&i) && fits(&order, slot, i))
        else {
            continue;
        };
        if let Some(at) = order.iter().position(|&i| i == pick) {
            order.remove(at);
        }
        order.insert(slot.min(order.len()), pick);
    }
    order.truncate(want);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_block_at_a_seeded_place_the_same_every_time() {
        let s = seed("42", 20_000);
        let a = slots(s, 10, 0.1);
        assert_eq!(a.len(), 1);
        assert!((5..10).contains(&a[0]), "{a:?}");
        assert_eq!(slots(seed("42", 20_000), 10, 0.1), a);
        // 30 items at a share of 0.1: one slot in each of three blocks of ten.
        let three = slots(s, 30, 0.1);
        assert_eq!(three.len(), 3);
        for (b, p) in three.iter().enumerate() {
            assert!((b * 10 + 5..(b + 1) * 10).contains(p), "{three:?}");
        }
        assert!(slots(s, 10, 0.0).is_empty());
        // Users and days move the slot around the lower half (20 users over 5 places).
        let places: std::collections::HashSet<usize> = (0..20)
            .map(|u| slots(seed(&u.to_string(), 20_000), 10, 0.1)[0])
            .collect();
        assert!(places.len() >= 3, "{places:?}");
        // The largest share: every other place, always the second of each pair.
        assert_eq!(slots(s, 6, 0.5), vec![1, 3, 5]);
        assert_ne!(seed("42", 20_000), seed("42", 20_001));
    }

    #[test]
    fn a_slot_gets_the_best_under_exposed_item_by_semantic_score() {
        let any = |_: &[usize], _: usize, _: usize| true;
        // Ranked order 0..6; items 4 and 5 are under-exposed, 5 the closer in meaning.
        let semantic = [0.9, 0.8, 0.7, 0.6, 0.3, 0.5];
        let eligible = [false, false, false, false, true, true];
        let order = place((0..6).collect(), &semantic, &eligible, &[1], 4, any);
        assert_eq!(order, vec![0, 5, 1, 2]);
        // An under-exposed item already above the slot is not placed twice.
        let order = place(vec![5, 0, 1, 2, 3, 4], &semantic, &eligible, &[2], 4, any);
        assert_eq!(order, vec![5, 0, 4, 1]);
        // Nothing under-exposed: the order stays.
        let none = [false; 6];
        assert_eq!(
            place((0..6).collect(), &semantic, &none, &[1], 4, any),
            vec![0, 1, 2, 3]
        );
        // The best one does not fit (another rule says no): the next best does.
        let not_5 = |_: &[usize], _: usize, i: usize| i != 5;
        assert_eq!(
            place((0..6).collect(), &semantic, &eligible, &[1], 4, not_5),
            vec![0, 4, 1, 2]
        );
        let nothing = |_: &[usize], _: usize, _: usize| false;
        assert_eq!(
            place((0..6).collect(), &semantic, &eligible, &[1], 4, nothing),
            vec![0, 1, 2, 3]
        );
    }
}
