//! Fair share: with `e` profile elements, no element supplies more than ⌈n/e⌉ + 1 of
//! the first n items of a list (for every n), while another element still has
//! candidates. A profile of six interests is six tastes, not one taste and five
//! afterthoughts. Being a bound on every prefix, it holds for any page size, and the
//! order does not depend on the page asked for.

/// Most of the first `n` items one of `elements` profile elements may supply.
pub fn cap(n: usize, elements: usize) -> usize {
    n.div_ceil(elements.max(1)) + 1
}

/// The order of the first `want` items, as indices into a best-first list whose
/// items came from `elements[i]` (`None`: no element, never held back). Best first,
/// except that an item whose element already has its share of the prefix waits
/// while an item of another element is left; when none is, the best waiting one
/// comes next.
pub fn order(elements: &[Option<usize>], n_elements: usize, want: usize) -> Vec<usize> {
    let want = want.min(elements.len());
    let mut counts = vec![0usize; n_elements];
    let count = |counts: &[usize], e: Option<usize>| e.and_then(|e| counts.get(e).copied());
    let mut out = Vec::with_capacity(want);
    // Held-back items, best first: each is better than every item after `next`.
    let mut waiting: Vec<usize> = Vec::new();
    let mut next = 0;
    while out.len() < want {
        let limit = cap(out.len() + 1, n_elements);
        let fits =
            |counts: &[usize], i: usize| count(counts, elements[i]).is_none_or(|c| c < limit);
        let pick = if let Some(w) = waiting.iter().position(|&i| fits(&counts, i)) {
            waiting.remove(w)
        } else {
            let mut found = None;
            while next < elements.len() {
                let i = next;
                next += 1;
                if fits(&counts, i) {
                    found = Some(i);
                    break;
                }
                waiting.push(i);
            }
            match found {
                Some(i) => i,
                // Every element left is at its share: the best waiting item.
                None => waiting.remove(0),
            }
        };
        if let Some(c) = elements[pick].and_then(|e| counts.get_mut(e)) {
            *c += 1;
        }
        out.push(pick);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Most items any one element supplies among the first `n` of `order`.
    fn most(elements: &[Option<usize>], order: &[usize], n: usize) -> usize {
        let mut counts = std::collections::HashMap::new();
        for &i in order.iter().take(n) {
            if let Some(e) = elements[i] {
                *counts.entry(e).or_insert(0) += 1;
            }
        }
        counts.into_values().max().unwrap_or(0)
    }

    #[test]
    fn caps_follow_the_formula() {
        assert_eq!(cap(10, 6), 3);
        assert_eq!(cap(10, 3), 5);
        assert_eq!(cap(10, 1), 11);
        assert_eq!(cap(1, 6), 2);
        assert_eq!(cap(10, 0), 11);
    }

    #[test]
    fn one_dominant_element_gives_way_while_others_have_candidates() {
        // Six elements; element 0 supplies the 8 best candidates, then two each
        // from elements 1–5, then more of element 0.
        let mut elements: Vec<Option<usize>> = vec![Some(0); 8];
        elements.extend((1..=5).flat_map(|e| [Some(e), Some(e)]));
        elements.extend(vec![Some(0); 5]);
        let order = order(&elements, 6, 10);
        assert_eq!(order.len(), 10);
        // ⌈10/6⌉ + 1 = 3 from element 0, and every prefix is within its own cap.
        assert_eq!(most(&elements, &order, 10), 3);
        for n in 1..=10 {
            assert!(
                most(&elements, &order, n) <= cap(n, 6),
                "prefix {n}: {order:?}"
            );
        }
        // Without the rule, 8 of 10 would come from element 0 (the example).
        assert_eq!(most(&elements, &(0..10).collect::<Vec<_>>(), 10), 8);
        // Best first among what may come next: element 0's third item waits until
        // 7 items allow it 3 (⌈7/6⌉ + 1).
        assert_eq!(order, vec![0, 1, 8, 9, 10, 11, 2, 12, 13, 14]);
    }

    #[test]
    fn when_the_others_run_out_the_best_remaining_fill_the_list() {
        // Two elements; element 1 has a single candidate, sixth best.
        let elements = vec![
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(0),
            Some(1),
            Some(0),
            Some(0),
        ];
        // At 4 items element 0 may have 3 (⌈4/2⌉ + 1): element 1's item moves up
        // to 4th; once it is used, element 0 fills the rest in order.
        assert_eq!(order(&elements, 2, 8), vec![0, 1, 2, 5, 3, 4, 6, 7]);
        // A list shorter than asked is all there is.
        assert_eq!(super::order(&elements, 2, 50).len(), 8);
    }

    #[test]
    fn items_without_an_element_and_single_element_profiles_keep_their_order() {
        let elements = vec![None, Some(0), None, Some(0), Some(0)];
        assert_eq!(order(&elements, 1, 5), vec![0, 1, 2, 3, 4]);
        let elements = vec![None; 4];
        assert_eq!(order(&elements, 3, 4), vec![0, 1, 2, 3]);
    }
}
