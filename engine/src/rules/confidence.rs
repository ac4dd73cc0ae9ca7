//! Whether a list can be trusted: a profile written in a language the model does
//! not cover, or whose best match is weak, gets a warning that suggests the
//! multilingual model (README: `SEMREC_MODEL_DIR`, `scripts/fetch-e5.sh`).
//!
//! The language guess is deliberately small (no dependency): text mostly in a
//! non-Latin script, or whose words are mostly function words of one of a few
//! common European languages. It only has to notice a profile that is clearly not
//! English; anything it is unsure of counts as covered.

use serde::{Deserialize, Serialize};

use crate::profile::{dot, HistoryEntry, Profile, ProfileQuery};
use crate::Engine;

/// Default of [`ConfidenceSettings::min_similarity`] (`SEMREC_MIN_CONFIDENCE`).
pub const DEFAULT_MIN_SIMILARITY: f32 = 0.35;

#[derive(Clone, Debug, PartialEq)]
pub struct ConfidenceSettings {
    /// A list whose best cosine similarity is below this gets a warning; 0 = never.
    pub min_similarity: f32,
}

impl Default for ConfidenceSettings {
    fn default() -> Self {
        Self {
            min_similarity: DEFAULT_MIN_SIMILARITY,
        }
    }
}

/// Why a list may be poor. `message` is for people; the other fields for programs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ListWarning {
    /// `unsupported_language` or `low_confidence`.
    pub code: String,
    /// The language the profile seems to be in (ISO 639-1), for `unsupported_language`.
    pub language: Option<String>,
    /// The list's best cosine similarity to the profile.
    pub best_similarity: f32,
    pub message: String,
}

/// What to suggest: the multilingual model the README documents.
const SUGGESTION: &str = "an administrator can switch to the multilingual model \
     (scripts/fetch-e5.sh, SEMREC_MODEL_DIR=models/multilingual-e5-small, then reindex)";

/// Whether a model covers more than English: multilingual-e5 and its kin.
pub fn model_is_multilingual(model_id: &str) -> bool {
    let id = model_id.to_ascii_lowercase();
    ["multilingual", "e5", "labse", "xlm", "m3"]
        .iter()
        .any(|m| id.contains(m))
}

/// Function words of languages an English-only model does not cover.
const FUNCTION_WORDS: [(&str, &[&str]); 6] = [
    (
        "de",
        &[
            "und", "der", "die", "das", "ein", "eine", "mit", "für", "über", "nicht", "ist", "ich",
            "von", "zu", "den", "im",
        ],
    ),
    (
        "fr",
        &[
            "et", "le", "la", "les", "des", "un", "une", "du", "avec", "pour", "sur", "est", "je",
            "aux", "dans",
        ],
    ),
    (
        "es",
        &[
            "y", "el", "los", "las", "una", "del", "con", "para", "por", "es", "yo", "en", "sobre",
            "muy",
        ],
    ),
    (
        "it",
        &[
            "e", "il", "lo", "gli", "della", "di", "con", "per", "una", "sono", "io", "che", "nel",
        ],
    ),
    (
        "pt",
        &[
            "e", "o", "os", "as", "um", "uma", "do", "da", "com", "para", "em", "eu", "não",
        ],
    ),
    (
        "nl",
        &[
            "en", "de", "het", "een", "met", "voor", "over", "niet", "ik", "van", "ook",
        ],
    ),
];

/// The language `text` is clearly written in when that is not English, else `None`.
pub fn foreign_language(text: &str) -> Option<&'static str> {
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return None;
    }
    let latin = letters
        .iter()
        .filter(|c| c.is_ascii() || ('\u{00c0}'..='\u{024f}').contains(*c))
        .count();
    if latin * 2 < letters.len() {
        // Kana anywhere means Japanese, even when the first letter is a kanji.
        if letters
            .iter()
            .any(|c| ('\u{3040}'..='\u{30ff}').contains(c))
        {
            return Some("ja");
        }
        let first = letters
            .iter()
            .find(|c| !c.is_ascii())
            .copied()
            .unwrap_or(' ');
        return Some(match first {
            '\u{0400}'..='\u{04ff}' => "ru",
            '\u{0370}'..='\u{03ff}' => "el",
            '\u{0590}'..='\u{05ff}' => "he",
            '\u{0600}'..='\u{06ff}' => "ar",
            '\u{0900}'..='\u{097f}' => "hi",
            '\u{ac00}'..='\u{d7af}' => "ko",
            '\u{4e00}'..='\u{9fff}' => "zh",
            _ => "und",
        });
    }
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    // German nouns: "Weltraum", "Raketen"; umlauts and ß are telling on their own.
    let german_letters = text.chars().any(|c| "äöüßÄÖÜ".contains(c));
    let mut best: Option<(&'static str, usize)> = None;
    for (lang, list) in FUNCTION_WORDS {
        let hits = words.iter().filter(|w| list.contains(&w.as_str())).count()
            + usize::from(lang == "de" && german_letters);
        if hits > 0 && best.is_none_or(|(_, b)| hits > b) {
            best = Some((lang, hits));
        }
    }
    let english = [
        "and", "the", "of", "with", "for", "about", "in", "to", "a", "my", "i",
    ];
    let english_hits = words
        .iter()
        .filter(|w| english.contains(&w.as_str()))
        .count();
    best.filter(|(_, hits)| *hits > english_hits)
        .map(|(lang, _)| lang)
}

/// The warning a list carries, if any: `profile_text` is the profile's own words
/// (interests, free-text history, classes, about), `best` the list's best cosine.
pub fn warning(
    model_id: &str,
    profile_text: &str,
    best: Option<f32>,
    s: &ConfidenceSettings,
) -> Option<ListWarning> {
    let best_similarity = best.unwrap_or(0.0);
    if !model_is_multilingual(model_id) {
        if let Some(lang) = foreign_language(profile_text) {
            return Some(ListWarning {
                code: "unsupported_language".into(),
                language: Some(lang.into()),
                best_similarity,
                message: format!(
                    "Your profile seems to be in a language ({lang}) that the current model ({model_id}) \
                     does not cover, so these recommendations may be poor; {SUGGESTION}."
                ),
            });
        }
    }
    match best {
        Some(b) if b < s.min_similarity => Some(ListWarning {
            code: "low_confidence".into(),
            language: None,
            best_similarity: b,
            message: format!(
                "Nothing in the catalog matches your profile closely (best match {:.0} %): \
                 try other words{}.",
                (b * 100.0).max(0.0),
                if model_is_multilingual(model_id) {
                    String::new()
                } else {
                    format!(", or if you wrote in a language other than English, {SUGGESTION}")
                }
            ),
        }),
        _ => None,
    }
}

/// The user's own words in a profile: interests, classes, about, free-text history.
pub fn profile_words(p: &Profile) -> String {
    let texts = p.history.iter().filter_map(|h| match h {
        HistoryEntry::Text { text } => Some(text.as_str()),
        HistoryEntry::Item { .. } => None,
    });
    p.interests
        .iter()
        .chain(&p.classes)
        .map(String::as_str)
        .chain(std::iter::once(p.about.as_str()))
        .chain(texts)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The warning of a profile's list whose items have these vectors: the best
/// cosine of any item to any profile element is the list's confidence.
pub fn list_warning<'a>(
    engine: &Engine,
    profile: &Profile,
    query: &ProfileQuery,
    items: impl Iterator<Item = &'a [f32]>,
) -> Option<ListWarning> {
    let best = items
        .flat_map(|v| query.elements.iter().map(move |(_, e)| dot(e, v)))
        .reduce(f32::max);
    warning(
        engine.model_id(),
        &profile_words(profile),
        best,
        &engine.settings.rules.confidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = "all-MiniLM-L6-v2";

    #[test]
    fn languages_that_are_clearly_not_english_are_noticed() {
        assert_eq!(foreign_language("Weltraum und Raketen"), Some("de"));
        assert_eq!(foreign_language("Filme über Raumfahrt"), Some("de"));
        assert_eq!(
            foreign_language("les films de science-fiction et la musique"),
            Some("fr")
        );
        assert_eq!(foreign_language("космос и ракеты"), Some("ru"));
        assert_eq!(foreign_language("宇宙とロケット"), Some("ja"));
        assert_eq!(foreign_language("space exploration and rockets"), None);
        assert_eq!(foreign_language("thriller"), None);
        assert_eq!(foreign_language("The Godfather; Amélie"), None);
        assert_eq!(foreign_language("1995"), None);
    }

    #[test]
    fn warnings_name_the_cause_and_suggest_the_multilingual_model() {
        let s = ConfidenceSettings::default();
        let w = warning(MINI, "Weltraum und Raketen", Some(0.34), &s).unwrap();
        assert_eq!(w.code, "unsupported_language");
        assert_eq!(w.language.as_deref(), Some("de"));
        assert!(w.message.contains("multilingual-e5-small"), "{}", w.message);
        let w = warning(MINI, "quantum gravity", Some(0.2), &s).unwrap();
        assert_eq!(w.code, "low_confidence");
        assert!(w.message.contains("20 %"), "{}", w.message);
        assert!(warning(MINI, "space exploration", Some(0.6), &s).is_none());
        // A multilingual model covers German; only a weak match would warn.
        assert!(warning(
            "multilingual-e5-small",
            "Weltraum und Raketen",
            Some(0.8),
            &s
        )
        .is_none());
        let w = warning("multilingual-e5-small", "Weltraum", Some(0.1), &s).unwrap();
        assert!(!w.message.contains("fetch-e5"), "{}", w.message);
        // Threshold 0 = never a low-confidence warning.
        let off = ConfidenceSettings {
            min_similarity: 0.0,
        };
        assert!(warning(MINI, "quantum gravity", Some(0.01), &off).is_none());
    }
}
