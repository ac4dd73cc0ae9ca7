//! What a request asks for: page size and offset, filters, diversity, exclusions,
//! and the limits they are checked against before any database work.

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

pub const MAX_K: usize = 100;
/// Deepest rank served: ranks are stored up to 1000 (`impression_items.rank`), so
/// `offset + k` may not go past it.
pub const MAX_RANK: usize = 1000;

/// Most values one filter list (languages, sources, tags) may hold.
pub const MAX_FILTER_VALUES: usize = 100;
/// Longest filter value (the longest id, title or tag a catalog stores is shorter).
pub const MAX_FILTER_VALUE_CHARS: usize = 200;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Filters {
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Items carrying at least one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Filters {
    /// Refuses filter lists beyond [`MAX_FILTER_VALUES`] values of at most
    /// [`MAX_FILTER_VALUE_CHARS`]: every candidate row is compared with every value.
    pub fn check_sizes(&self) -> Result<()> {
        for (what, values) in [
            ("languages", &self.languages),
            ("sources", &self.sources),
            ("tags", &self.tags),
        ] {
            if values.len() > MAX_FILTER_VALUES {
                return Err(EngineError::invalid(
                    format!("filters.{what}"),
                    format!("has {} values: at most {MAX_FILTER_VALUES}", values.len()),
                ));
            }
            if values
                .iter()
                .any(|v| v.chars().count() > MAX_FILTER_VALUE_CHARS)
            {
                return Err(EngineError::invalid(
                    format!("filters.{what}"),
                    format!("a value is longer than {MAX_FILTER_VALUE_CHARS} characters"),
                ));
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.languages.is_empty() && self.sources.is_empty() && self.tags.is_empty()
    }

    /// Filter values in the form import stores them (lower-case languages and tags,
    /// single spaces), so `EN` or `Sci-Fi` match what `en` and `sci-fi` match.
    pub fn normalized(&self) -> Filters {
        let clean = |values: &[String], lower: bool| -> Vec<String> {
            values
                .iter()
                .map(|v| {
                    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                    if lower {
                        v.to_lowercase()
                    } else {
                        v
                    }
                })
                .filter(|v| !v.is_empty())
                .collect()
        };
        Filters {
            languages: clean(&self.languages, true),
            sources: clean(&self.sources, false),
            tags: clean(&self.tags, true),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendOptions {
    pub k: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub filters: Filters,
    /// MMR trade-off: 1.0 = pure relevance, lower = more diverse. None = off.
    #[serde(default)]
    pub diversity_lambda: Option<f32>,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        Self {
            k: 10,
            offset: 0,
            filters: Filters::default(),
            diversity_lambda: None,
        }
    }
}

impl RecommendOptions {
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_K).contains(&self.k) {
            return Err(EngineError::invalid(
                "k",
                format!("must be between 1 and {MAX_K}, got {}", self.k),
            ));
        }
        if self.offset.saturating_add(self.k) > MAX_RANK {
            return Err(EngineError::invalid(
                "offset",
                format!(
                    "offset + k must be at most {MAX_RANK}, got {} + {}",
                    self.offset, self.k
                ),
            ));
        }
        self.filters.check_sizes()?;
        if let Some(l) = self.diversity_lambda {
            if !(0.0..=1.0).contains(&l) {
                return Err(EngineError::invalid(
                    "diversity",
                    "the MMR λ must be between 0 and 1",
                ));
            }
        }
        Ok(())
    }
}

/// What to leave out of a list.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    /// Exclude items this user consumed, clicked or dismissed.
    pub user_id: Option<i64>,
    pub item_ids: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated() {
        let ok = RecommendOptions::default();
        assert!(ok.validate().is_ok());
        assert!(RecommendOptions { k: 0, ..ok.clone() }.validate().is_err());
        assert!(RecommendOptions {
            k: 101,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(RecommendOptions {
            diversity_lambda: Some(1.5),
            ..ok
        }
        .validate()
        .is_err());
    }
}
