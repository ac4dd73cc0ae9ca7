//! Limits on lists a client sends (profile interests, classes, history), checked
//! on the raw input before any per-entry work, and a linear de-duplication.
//!
//! A list of 150,000 entries once took 100 s to be refused: every entry was
//! compared with every other before the "at most 50" check.

use std::collections::HashSet;

use crate::error::{EngineError, Result};

/// How many raw entries (blank and duplicate ones included) a list may carry per
/// entry it may keep: room for duplicates and empty lines, and still a bound.
pub const RAW_ENTRIES_PER_KEPT: usize = 4;

/// The most raw entries a list that keeps at most `max` may carry.
pub fn raw_cap(max: usize) -> usize {
    max.saturating_mul(RAW_ENTRIES_PER_KEPT)
}

/// Refuses a list whose raw length is beyond [`raw_cap`], before any entry is looked at.
pub fn check_raw_len(len: usize, max: usize, plural: &str) -> Result<()> {
    if len > raw_cap(max) {
        return Err(EngineError::invalid(
            plural,
            format!("at most {max} {plural}, got {len} entries"),
        ));
    }
    Ok(())
}

/// Collects an iterator (e.g. the lines of a form field) into at most
/// [`raw_cap`]`(max)` entries, failing as soon as there are more: a huge input
/// costs no more than the cap.
pub fn collect_capped<I, T>(entries: I, max: usize, plural: &str) -> Result<Vec<T>>
where
    I: IntoIterator<Item = T>,
{
    let cap = raw_cap(max);
    let mut out = Vec::new();
    for (n, e) in entries.into_iter().enumerate() {
        if n >= cap {
            return Err(EngineError::invalid(
                plural,
                format!("at most {max} {plural}, got more than {cap} entries"),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

/// Whitespace collapsed to single spaces, ends trimmed.
pub fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keeps the first of entries equal up to ASCII case, in order, in linear time.
pub fn dedupe_ignore_ascii_case(values: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(values.len());
    values
        .into_iter()
        .filter(|v| seen.insert(v.to_ascii_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_fail_early_and_dedupe_keeps_the_first() {
        assert!(check_raw_len(200, 50, "interests").is_ok());
        let e = check_raw_len(201, 50, "interests").unwrap_err().to_string();
        assert_eq!(e, "interests: at most 50 interests, got 201 entries");
        // An endless input is refused after the cap, not read to its end.
        let e = collect_capped(std::iter::repeat("x"), 50, "interests").unwrap_err();
        assert!(e.to_string().contains("more than 200"), "{e}");
        assert_eq!(collect_capped(["a", "b"], 50, "x").unwrap(), vec!["a", "b"]);
        assert_eq!(
            dedupe_ignore_ascii_case(vec!["Jazz".into(), "jazz".into(), "maths".into()]),
            vec!["Jazz", "maths"]
        );
        assert_eq!(collapse_whitespace("  a \t b\n"), "a b");
    }

    #[test]
    fn dedupe_is_linear() {
        // 150,000 distinct entries: quadratic comparison took minutes, this takes milliseconds.
        let values: Vec<String> = (0..150_000).map(|i| format!("interest {i}")).collect();
        let started = std::time::Instant::now();
        assert_eq!(dedupe_ignore_ascii_case(values).len(), 150_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
