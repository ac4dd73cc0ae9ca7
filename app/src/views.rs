//! Data shapes shared by server and browser (the engine is server-only).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProfileView {
    pub handle: String,
    pub interests: Vec<String>,
    /// Consumed contents, catalog titles or free text.
    pub history: Vec<String>,
    pub classes: Vec<String>,
    pub about: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ItemCard {
    pub id: String,
    pub title: String,
    pub snippet: String,
    pub source: String,
    pub language: String,
    pub tags: Vec<String>,
    pub url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendationCard {
    pub rank: usize,
    pub score: f32,
    pub item: ItemCard,
    /// e.g. "close to your interest 'jazz'".
    pub because: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendationsView {
    pub impression_id: String,
    pub items: Vec<RecommendationCard>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ItemDetail {
    pub item: ItemCard,
    pub description: String,
    pub similar: RecommendationsView,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RateRow {
    pub key: String,
    pub shown: i64,
    pub clicked: i64,
    pub rate: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DashboardView {
    pub impressions: i64,
    pub shown: i64,
    pub clicks: i64,
    pub interaction_rate: f64,
    pub per_user_rate: f64,
    pub coverage: f64,
    pub catalog_size: i64,
    pub model_id: String,
    pub daily: Vec<RateRow>,
    pub by_source: Vec<RateRow>,
    pub by_language: Vec<RateRow>,
    pub by_rank: Vec<RateRow>,
    pub top_clicked: Vec<RateRow>,
    pub never_clicked: Vec<RateRow>,
    pub drift_alert: bool,
    pub drift_summary: String,
}

/// Splits a comma-separated field into trimmed, non-empty entries.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_list_trims_and_drops_empty_entries() {
        assert_eq!(
            super::split_list(" jazz, ,aircraft\nmaths "),
            vec!["jazz", "aircraft", "maths"]
        );
    }
}
