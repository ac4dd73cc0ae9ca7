//! Data shapes shared by server and browser (the engine is server-only).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProfileView {
    pub handle: String,
    pub interests: Vec<String>,
    /// Consumed contents, catalog items or free text.
    pub history: Vec<HistoryChip>,
    pub classes: Vec<String>,
    pub about: String,
    /// "Not interested in" lines.
    pub not_interested: Vec<String>,
}

/// Something the user consumed: a catalog item (with its id) or free text.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct HistoryChip {
    pub id: Option<String>,
    pub title: String,
}

impl HistoryChip {
    /// One line of the profile form's hidden history field: `item<TAB>id` or `text<TAB>text`.
    pub fn encode(&self) -> String {
        match &self.id {
            Some(id) => format!("item\t{id}"),
            None => format!("text\t{}", self.title),
        }
    }
}

/// A catalog item offered by the consumed-contents picker.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PickOption {
    pub id: String,
    pub title: String,
    /// "title" (the words match) or "meaning" (the embedding is close).
    pub matched_by: String,
}

/// Languages and sources present in the catalog, for the filter menus.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Facets {
    pub languages: Vec<(String, i64)>,
    pub sources: Vec<(String, i64)>,
    /// The first start's demo catalog is still being loaded: lists will grow.
    #[serde(default)]
    pub loading: bool,
}

/// Result of one uploaded part of a catalog import.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<RejectedLine>,
    /// The import history row this part was added to: the next part sends it back.
    #[serde(default)]
    pub history: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RejectedLine {
    pub line: usize,
    pub id: Option<String>,
    pub reason: String,
}

/// A drift alert as the dashboard shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AlertView {
    pub signal: String,
    pub message: String,
}

/// One embedding-drift signal for the dashboard.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShiftView {
    pub label: String,
    pub recent: i64,
    pub reference: i64,
    pub distance: Option<f64>,
    pub judged: bool,
    pub alert: bool,
    /// The items signal with no items before the window: the catalog's first import.
    #[serde(default)]
    pub first_import: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SimilarityPoint {
    pub day: String,
    pub mean_top1: f64,
    pub lists: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ItemCard {
    pub id: String,
    pub title: String,
    pub snippet: String,
    pub source: String,
    pub language: String,
    /// Curated labels (`metadata.genres`); free-form tags are never shown.
    pub genres: Vec<String>,
    pub url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendationCard {
    pub rank: usize,
    /// The shown match as a whole percentage, 0–100 (an integer: no float parsing
    /// or formatting for it in the browser): the cosine similarity to the profile,
    /// capped by the card above, so it never rises down the list.
    pub match_percent: u8,
    pub item: ItemCard,
    /// e.g. "close to your interest 'jazz'".
    pub because: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecommendationsView {
    pub impression_id: String,
    pub items: Vec<RecommendationCard>,
    /// A full page came back: there may be more.
    pub has_more: bool,
    /// Why this list may be poor (language not covered, weak best match).
    pub warning: Option<String>,
}

/// An item the user hid ("Not interested"), on the Hidden page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HiddenView {
    pub id: String,
    pub title: String,
    /// The day it was hidden (YYYY-MM-DD, UTC).
    pub hidden_on: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ItemDetail {
    /// A user is signed in: the feedback buttons are offered.
    #[serde(default)]
    pub signed_in: bool,
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

/// An item and how many users marked it "Not interested" in the range.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DismissedRow {
    pub id: String,
    pub title: String,
    pub dismissed: i64,
    /// Times shown in the range.
    pub shown: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DashboardView {
    /// The range shown, days included (YYYY-MM-DD), and its length.
    pub from: String,
    pub to: String,
    pub days: i64,
    /// What the URL asked for that could not be used.
    pub range_note: Option<String>,
    pub impressions: i64,
    pub shown: i64,
    pub clicks: i64,
    pub interaction_rate: f64,
    pub per_user_rate: f64,
    pub coverage: f64,
    pub catalog_size: i64,
    pub model_id: String,
    pub embedding_cache_hit_rate: Option<f64>,
    pub daily: Vec<RateRow>,
    pub by_source: Vec<RateRow>,
    pub by_language: Vec<RateRow>,
    pub by_rank: Vec<RateRow>,
    /// Per surface (profile list, more like this, lists reported through the API).
    pub by_surface: Vec<RateRow>,
    /// Per learned-ranker model (a canary beside the model before it).
    pub by_ranker: Vec<RateRow>,
    pub top_clicked: Vec<RateRow>,
    pub never_clicked: Vec<RateRow>,
    /// The items most often marked "Not interested" in the range.
    #[serde(default)]
    pub most_dismissed: Vec<DismissedRow>,
    pub drift_alert: bool,
    /// The interaction-rate signal had enough data to be judged.
    pub rate_judged: bool,
    pub drift_summary: String,
    pub alerts: Vec<AlertView>,
    pub drift_recent_days: i64,
    pub drift_reference_days: i64,
    pub shifts: Vec<ShiftView>,
    pub top1_daily: Vec<SimilarityPoint>,
    pub top1_recent: Option<f64>,
    pub top1_reference: Option<f64>,
    pub top1_slope: Option<f64>,
}

/// Splits what was typed into a chip box into entries: at line breaks and at
/// commas outside double quotes, so `"Paris, Texas", jazz` is two entries
/// (`Paris, Texas` and `jazz`). Entries are trimmed, their quotes removed, blanks
/// left out.
pub fn split_list(text: &str) -> Vec<String> {
    list_entries(text).collect()
}

/// [`split_list`] as it reads: a caller can stop after as many as it accepts.
pub fn list_entries(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut quoted = false;
    text.split(move |c: char| {
        if c == '"' {
            quoted = !quoted;
        }
        c == '\n' || (c == ',' && !quoted)
    })
    .map(|s| s.replace('"', "").trim().to_string())
    .filter(|s| !s.is_empty())
}

/// Whether the text has a double quote still open: a comma typed now is part of the entry.
pub fn open_quote(text: &str) -> bool {
    text.chars().filter(|&c| c == '"').count() % 2 == 1
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

    #[test]
    fn commas_inside_double_quotes_do_not_split() {
        assert_eq!(
            super::split_list("\"Paris, Texas\", jazz,\"a, b, c\"\nd"),
            vec!["Paris, Texas", "jazz", "a, b, c", "d"]
        );
        // An unclosed quote keeps the rest as one entry (a line break still ends it).
        assert_eq!(super::split_list(r#"x, "y, z"#), vec!["x", "y, z"]);
        assert!(super::open_quote(r#""Paris"#));
        assert!(!super::open_quote(r#""Paris, Texas""#));
    }
}
