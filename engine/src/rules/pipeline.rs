//! The order of the rules on one ranked list, as the recommend path calls them.

use std::collections::HashSet;

use super::{exploration, fair_share, negative, reorder, Ranked};
use crate::error::Result;
use crate::Engine;

/// Today's day number (UTC days since the Unix epoch): exploration's seed changes daily.
pub fn today() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(86_400)
}

/// Fair share then exploration over a best-first list, for its first `want` items.
/// `eligible[i]`: whether candidate `i` is under-exposed.
pub fn arrange_order(
    elements: &[Option<usize>],
    semantic: &[f32],
    eligible: &[bool],
    n_elements: usize,
    want: usize,
    fair: bool,
    slots: &[usize],
) -> Vec<usize> {
    let n = elements.len();
    let mut order = if fair {
        // The whole list in fair order: exploration may push items down past `want`.
        fair_share::order(elements, n_elements, (want + slots.len()).min(n))
    } else {
        (0..(want + slots.len()).min(n)).collect()
    };
    if !slots.is_empty() {
        // With fair share on, an explored item must not take its element past its
        // share of any prefix: inserting it at `slot` moves everything below down one.
        // Only the prefixes that end inside the slot's block are checked, so page 1
        // (want 10) and page 2 (want 20) pick the same item for the same slot.
        let block = want.div_ceil(slots.len().max(1)).max(1);
        let fits = |order: &[usize], slot: usize, candidate: usize| {
            let Some(element) = elements[candidate].filter(|_| fair) else {
                return true;
            };
            let block_end = (slot / block + 1) * block;
            let mut count = 0;
            for (n, &i) in order.iter().take(want.min(block_end)).enumerate() {
                if n == slot && count + 1 > fair_share::cap(n + 1, n_elements) {
                    return false;
                }
                if i != candidate && elements[i] == Some(element) {
                    count += 1;
                }
                if n >= slot && n + 1 < block_end && count + 1 > fair_share::cap(n + 2, n_elements)
                {
                    return false;
                }
            }
            // A slot at the end of the list: the prefix it closes.
            slot < order.len().min(want).min(block_end)
                || count < fair_share::cap(slot + 1, n_elements)
        };
        order = exploration::place(order, semantic, eligible, slots, want, fits);
    }
    order.truncate(want);
    order
}

/// Whether exploration may pick an item: under-exposed, and not near anything the
/// user said no to (no negative-element penalty).
pub fn explorable(
    under_exposed: bool,
    vector: &[f32],
    negatives: &[Vec<f32>],
    rules: &super::RulesSettings,
) -> bool {
    under_exposed && negative::penalty(vector, negatives, &rules.negative) == 0.0
}

impl Engine {
    /// Reorders the first `want` items of a best-first list by fair share (across
    /// `n_elements` profile elements) and exploration (seeded by `seed_user` and the
    /// day); the rest of the list is dropped. Items near a negative element are
    /// never explored: the user said no to them.
    pub(crate) async fn arrange_by_rules<T: Ranked>(
        &self,
        list: Vec<T>,
        want: usize,
        n_elements: usize,
        negatives: &[Vec<f32>],
        seed_user: &str,
    ) -> Result<Vec<T>> {
        let rules = &self.settings.rules;
        let slots = if rules.exploration.is_on() {
            exploration::slots(
                exploration::seed(seed_user, today()),
                want,
                rules.exploration.share,
            )
        } else {
            Vec::new()
        };
        if !rules.fair_share && slots.is_empty() {
            let mut list = list;
            list.truncate(want);
            return Ok(list);
        }
        let eligible: HashSet<i64> = if slots.is_empty() {
            HashSet::new()
        } else {
            let ids: Vec<i64> = list.iter().map(Ranked::item_id).collect();
            self.under_exposed(&ids, &rules.exploration).await?
        };
        let elements: Vec<Option<usize>> = list.iter().map(Ranked::element).collect();
        let semantic: Vec<f32> = list.iter().map(Ranked::semantic).collect();
        let eligible: Vec<bool> = list
            .iter()
            .map(|c| {
                explorable(
                    eligible.contains(&c.item_id()),
                    c.vector(),
                    negatives,
                    rules,
                )
            })
            .collect();
        let order = arrange_order(
            &elements,
            &semantic,
            &eligible,
            n_elements,
            want,
            rules.fair_share,
            &slots,
        );
        Ok(reorder(list, &order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_near_a_negative_element_are_not_explored() {
        let rules = super::super::RulesSettings::default();
        let negatives = vec![vec![1.0, 0.0]];
        assert!(explorable(true, &[0.0, 1.0], &negatives, &rules));
        assert!(!explorable(true, &[1.0, 0.0], &negatives, &rules));
        assert!(!explorable(false, &[0.0, 1.0], &negatives, &rules));
        assert!(explorable(true, &[1.0, 0.0], &[], &rules));
    }

    #[test]
    fn fair_share_then_an_exploration_slot() {
        // Two elements; element 0 has the four best; item 5 is the only new one.
        let elements = [Some(0), Some(0), Some(0), Some(0), Some(1), Some(1)];
        let semantic = [0.9, 0.85, 0.8, 0.75, 0.6, 0.4];
        let mut eligible = [false; 6];
        eligible[5] = true;
        let fair = arrange_order(&elements, &semantic, &eligible, 2, 4, true, &[]);
        // Element 0 may have ⌈n/2⌉ + 1 of the first n: 3 of 3, but 3 of 4, so
        // element 1's best takes the 4th place.
        assert_eq!(fair, vec![0, 1, 2, 4]);
        let explored = arrange_order(&elements, &semantic, &eligible, 2, 4, true, &[1]);
        assert_eq!(explored, vec![0, 5, 1, 2]);
        // The best under-exposed item (3) belongs to element 0, which would then have
        // 4 of the first 4 (its share is 3): the slot takes item 5 of element 1.
        let mut eligible2 = [false; 6];
        eligible2[3] = true;
        eligible2[5] = true;
        let semantic2 = [0.9, 0.85, 0.8, 0.75, 0.6, 0.4];
        let fair2 = arrange_order(&elements, &semantic2, &eligible2, 2, 4, true, &[3]);
        assert_eq!(fair2, vec![0, 1, 2, 5]);
        let plain = arrange_order(&elements, &semantic, &eligible, 2, 4, false, &[]);
        assert_eq!(plain, vec![0, 1, 2, 3]);
    }
}
