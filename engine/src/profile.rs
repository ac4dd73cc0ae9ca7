//! Users and their profiles, and how a profile becomes a query vector.

use serde::{Deserialize, Serialize};

use crate::embed::TextKind;
use crate::error::{EngineError, Result};
use crate::list_limits;
use crate::Engine;

pub const MAX_INTERESTS: usize = 50;
pub const MAX_CLASSES: usize = 50;
/// Most "not interested in" lines.
pub const MAX_NOT_INTERESTED: usize = 50;
pub const MAX_ABOUT_CHARS: usize = 2000;
pub const MAX_ENTRY_CHARS: usize = 200;
/// Most history entries a profile may be given at once.
pub const MAX_HISTORY: usize = 1000;
/// Longest free-text history entry.
pub const MAX_HISTORY_TEXT_CHARS: usize = 500;
/// History entries used to build the query (most recent first); the default of
/// `EngineSettings::history_window`.
pub const HISTORY_WINDOW: usize = 10;
/// Default of `EngineSettings::recency_half_life`: a history entry's weight halves every
/// this many entries back, so recent taste counts more (chosen on the MovieLens
/// validation split, docs/EVALUATION.md).
pub const RECENCY_HALF_LIFE: Option<f32> = Some(10.0);

/// Weight of the history entry `age` places back (0 = most recent): 0.5^(age / half-life).
pub fn recency_weight(age: usize, half_life: Option<f32>) -> f32 {
    half_life.map_or(1.0, |h| 0.5f32.powf(age as f32 / h))
}

/// How a profile becomes the vector we search with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileStrategy {
    /// One embedding of the whole profile written out as text.
    Concat,
    /// The normalised, recency-weighted mean of one embedding per profile element
    /// (catalog history reuses the items' stored vectors). Beat Concat on the
    /// MovieLens validation split (nDCG@10 0.057 vs 0.030, docs/EVALUATION.md).
    Centroid,
    /// Each profile element is its own query: candidates are the union of every
    /// element's nearest items, scored by their best (recency-weighted) similarity to
    /// any element, so a profile with several tastes is not averaged into none of them.
    /// The default: best on the MovieLens validation split (docs/EVALUATION.md).
    #[default]
    MaxSim,
}

impl std::str::FromStr for ProfileStrategy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "concat" => Ok(Self::Concat),
            "centroid" => Ok(Self::Centroid),
            "max_sim" | "max-sim" => Ok(Self::MaxSim),
            other => Err(format!(
                "unknown profile strategy '{other}': use 'max_sim', 'centroid' or 'concat'"
            )),
        }
    }
}

/// One thing consumed: a catalog item, or free text for anything else.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum HistoryEntry {
    Item { id: String, title: String },
    Text { text: String },
}

/// What a user tells us about themselves.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    #[serde(default)]
    pub interests: Vec<String>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub about: String,
    /// "Not interested in": free-text lines like interests, used as negative
    /// elements (`rules::negative`): items near them lose score.
    #[serde(default)]
    pub not_interested: Vec<String>,
}

/// Where a profile element came from; recommendations are explained by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementKind {
    Interest,
    History,
    Class,
    About,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileElement {
    pub kind: ElementKind,
    pub label: String,
    /// The catalog item behind a history element (its stored vector is reused).
    #[serde(skip)]
    pub item_id: Option<i64>,
}

fn clean_list(values: &[String], max: usize, what: &str, plural: &str) -> Result<Vec<String>> {
    // The raw length first: no entry is looked at in a list far beyond the limit.
    list_limits::check_raw_len(values.len(), max, plural)?;
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let v = list_limits::collapse_whitespace(v);
        if v.is_empty() {
            continue;
        }
        if v.chars().count() > MAX_ENTRY_CHARS {
            return Err(EngineError::invalid(
                plural,
                format!(
                    "{what} '{}…' is longer than {MAX_ENTRY_CHARS} characters",
                    v.chars().take(20).collect::<String>()
                ),
            ));
        }
        out.push(v);
    }
    let out = list_limits::dedupe_ignore_ascii_case(out);
    if out.len() > max {
        return Err(EngineError::invalid(
            plural,
            format!("at most {max} {plural}, got {}", out.len()),
        ));
    }
    Ok(out)
}

impl Profile {
    /// Trims, de-duplicates and bounds every field.
    pub fn normalized(&self) -> Result<Profile> {
        let about = self.about.trim().to_string();
        if about.chars().count() > MAX_ABOUT_CHARS {
            return Err(EngineError::invalid(
                "about",
                format!("at most {MAX_ABOUT_CHARS} characters"),
            ));
        }
        Ok(Profile {
            interests: clean_list(&self.interests, MAX_INTERESTS, "interest", "interests")?,
            classes: clean_list(&self.classes, MAX_CLASSES, "class", "classes")?,
            history: self.history.clone(),
            about,
            not_interested: clean_list(
                &self.not_interested,
                MAX_NOT_INTERESTED,
                "not-interested line",
                "not-interested lines",
            )?,
        })
    }

    /// Checks the history a client sends: at most [`MAX_HISTORY`] entries, free
    /// text of 1–[`MAX_HISTORY_TEXT_CHARS`] characters without NUL.
    pub fn check_history(&self) -> Result<()> {
        if self.history.len() > MAX_HISTORY {
            return Err(EngineError::invalid(
                "history",
                format!("at most {MAX_HISTORY} entries, got {}", self.history.len()),
            ));
        }
        for (i, entry) in self.history.iter().enumerate() {
            if let HistoryEntry::Text { text } = entry {
                let chars = text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .count();
                if chars == 0 || chars > MAX_HISTORY_TEXT_CHARS || text.contains('\0') {
                    return Err(EngineError::invalid(
                        format!("history[{i}]"),
                        format!("free text must have 1–{MAX_HISTORY_TEXT_CHARS} characters"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.interests.is_empty()
            && self.history.is_empty()
            && self.classes.is_empty()
            && self.about.trim().is_empty()
    }

    /// The profile written out as one text, most telling parts first.
    pub fn as_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.interests.is_empty() {
            parts.push(format!("Interested in {}.", self.interests.join(", ")));
        }
        let history: Vec<&str> = self
            .history
            .iter()
            .take(HISTORY_WINDOW)
            .map(|h| match h {
                HistoryEntry::Item { title, .. } => title.as_str(),
                HistoryEntry::Text { text } => text.as_str(),
            })
            .collect();
        if !history.is_empty() {
            parts.push(format!("Liked {}.", history.join("; ")));
        }
        if !self.classes.is_empty() {
            parts.push(format!("Follows {}.", self.classes.join(", ")));
        }
        if !self.about.trim().is_empty() {
            parts.push(self.about.trim().to_string());
        }
        parts.join(" ")
    }
}

/// Normalises `v` to unit length in place; leaves a zero vector alone.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A profile ready to search with: its query vector and its elements' vectors.
#[derive(Clone, Debug)]
pub struct ProfileQuery {
    /// Concat: the profile text's embedding; otherwise the weighted centroid of the
    /// elements (also what impressions store for drift monitoring).
    pub vector: Vec<f32>,
    pub elements: Vec<(ProfileElement, Vec<f32>)>,
    /// Per element (same order): 1 for interests, classes and about, the recency weight
    /// for history entries.
    pub weights: Vec<f32>,
    /// Negative elements: the "not interested in" lines' embeddings, then the
    /// user's dismissed items' vectors (added by the recommend path).
    pub negatives: Vec<Vec<f32>>,
    /// How long embedding the profile's texts took (queueing for the model included).
    pub embed_time: std::time::Duration,
}

impl ProfileQuery {
    /// Mean recency-weighted cosine of an item over the elements (0 without any).
    pub fn mean_sim(&self, item_vector: &[f32]) -> f32 {
        if self.elements.is_empty() {
            return 0.0;
        }
        let sum: f32 = self
            .elements
            .iter()
            .zip(&self.weights)
            .map(|((_, v), w)| w * dot(v, item_vector))
            .sum();
        sum / self.elements.len() as f32
    }

    /// Max-similarity score of an item: its best weighted cosine to any element, and
    /// the index of that element (which is also the explanation).
    pub fn max_sim(&self, item_vector: &[f32]) -> Option<(f32, usize)> {
        self.elements
            .iter()
            .zip(&self.weights)
            .enumerate()
            .map(|(i, ((_, v), w))| (w * dot(v, item_vector), i))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
    }

    /// The profile element closest to an item, to explain why it was recommended.
    pub fn explain(&self, item_vector: &[f32]) -> Option<ProfileElement> {
        self.elements
            .iter()
            .map(|(e, v)| (e, dot(v, item_vector)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, _)| e.clone())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: i64,
    pub handle: String,
}

/// Handles are lowercase, 2–40 chars of letters, digits, '_', '.', '-'.
pub fn normalize_handle(handle: &str) -> Result<String> {
    let h = handle.trim().to_lowercase();
    let ok = (2..=40).contains(&h.len())
        && h.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(h)
    } else {
        Err(EngineError::invalid(
            "handle",
            "2–40 characters: letters, digits, '_', '.' or '-', starting with a letter or digit",
        ))
    }
}

impl Engine {
    pub async fn user_by_handle(&self, handle: &str, create: bool) -> Result<User> {
        let handle = normalize_handle(handle)?;
        let existing = || {
            sqlx::query_as("SELECT id, handle FROM users WHERE handle = $1")
                .bind(&handle)
                .fetch_optional(self.pool())
        };
        let mut row: Option<(i64, String)> = existing().await?;
        if row.is_none() && create {
            // DO NOTHING, not a dummy DO UPDATE: an update would lock the user's
            // row (FOR UPDATE, a key column) against the foreign-key checks of
            // every impression being written for them, on every request.
            row = sqlx::query_as(
                "INSERT INTO users (handle) VALUES ($1) ON CONFLICT (handle) DO NOTHING RETURNING id, handle",
            )
            .bind(&handle)
            .fetch_optional(self.pool())
            .await?;
            if row.is_none() {
                // Another request created it meanwhile; a new statement sees it.
                row = existing().await?;
            }
        }
        row.map(|(id, handle)| User { id, handle })
            .ok_or_else(|| EngineError::NotFound(format!("user '{handle}'")))
    }

    pub async fn load_profile(&self, user_id: i64) -> Result<Profile> {
        // interests, classes, about, not interested in
        type Row = (Vec<String>, Vec<String>, String, Vec<String>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT interests, classes, about, not_interested FROM profiles WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        let (interests, classes, about, not_interested) = row.unwrap_or_default();
        let history_rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT i.external_id, i.title, h.free_text FROM profile_history h
             LEFT JOIN items i ON i.id = h.item_id
             WHERE h.user_id = $1 ORDER BY h.consumed_at DESC, h.id DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        let history = history_rows
            .into_iter()
            .filter_map(|(id, title, text)| match (id, title, text) {
                (Some(id), Some(title), _) => Some(HistoryEntry::Item { id, title }),
                (_, _, Some(text)) => Some(HistoryEntry::Text { text }),
                _ => None,
            })
            .collect();
        Ok(Profile {
            interests,
            history,
            classes,
            about,
            not_interested,
        })
    }

    /// Replaces a user's profile. History items are catalog external ids; unknown ids are an error.
    pub async fn save_profile(&self, user_id: i64, profile: &Profile) -> Result<Profile> {
        profile.check_history()?;
        let p = profile.normalized()?;
        let mut tx = crate::store::begin_on(self.pool()).await?;
        sqlx::query(
            "INSERT INTO profiles (user_id, interests, classes, about, not_interested, updated_at)
             VALUES ($1, $2, $3, $4, $5, now())
             ON CONFLICT (user_id) DO UPDATE
             SET interests = $2, classes = $3, about = $4, not_interested = $5, updated_at = now()",
        )
        .bind(user_id)
        .bind(&p.interests)
        .bind(&p.classes)
        .bind(&p.about)
        .bind(&p.not_interested)
        .execute(&mut *tx)
        .await?;
        // Items leaving the history lose this user in their popularity count.
        let touched: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM profile_history WHERE user_id = $1 AND item_id IS NOT NULL RETURNING item_id",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM profile_history WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // One statement for the whole history (not one per entry). Oldest last in
        // the list: entry n is n seconds older than the first, which keeps the order.
        let mut item_ids: Vec<Option<&str>> = Vec::with_capacity(p.history.len());
        let mut texts: Vec<Option<String>> = Vec::with_capacity(p.history.len());
        for entry in &p.history {
            match entry {
                HistoryEntry::Item { id, .. } => {
                    item_ids.push(Some(id));
                    texts.push(None);
                }
                HistoryEntry::Text { text } => {
                    item_ids.push(None);
                    texts.push(Some(text.split_whitespace().collect::<Vec<_>>().join(" ")));
                }
            }
        }
        let unknown: Option<String> = sqlx::query_scalar(
            "SELECT e FROM unnest($1::text[]) e
             WHERE e IS NOT NULL AND NOT EXISTS (SELECT 1 FROM items WHERE external_id = e) LIMIT 1",
        )
        .bind(&item_ids)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = unknown {
            return Err(EngineError::invalid(
                "history",
                format!("item '{id}' is not in the catalog"),
            ));
        }
        sqlx::query(
            "INSERT INTO profile_history (user_id, item_id, free_text, consumed_at)
             SELECT $1, i.id, e.text, now() - make_interval(secs => (e.ord - 1)::float8)
             FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS e(item, text, ord)
             LEFT JOIN items i ON i.external_id = e.item
             ORDER BY e.ord
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(&item_ids)
        .bind(&texts)
        .execute(&mut *tx)
        .await?;
        // Only items that entered or left the history change their count.
        let now: Vec<i64> = sqlx::query_scalar(
            "SELECT item_id FROM profile_history WHERE user_id = $1 AND item_id IS NOT NULL",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        let before: std::collections::HashSet<i64> = touched.iter().copied().collect();
        let after: std::collections::HashSet<i64> = now.iter().copied().collect();
        let mut changed: Vec<i64> = before.symmetric_difference(&after).copied().collect();
        changed.sort_unstable();
        crate::recommend::refresh_popularity(&mut tx, &changed).await?;
        crate::interactions::record_profile_history(&mut tx, user_id).await?;
        tx.commit().await?;
        self.load_profile(user_id).await
    }

    /// Embeds a profile: its elements in one batch (history items reuse stored
    /// vectors), and the query vector by the configured strategy.
    pub async fn profile_query(&self, profile: &Profile) -> Result<ProfileQuery> {
        let profile = profile.normalized()?;
        if profile.is_empty() {
            return Err(EngineError::invalid(
                "",
                "the profile is empty: add an interest, something you liked, a class or a few words about you",
            ));
        }
        let mut elements: Vec<ProfileElement> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for i in &profile.interests {
            elements.push(ProfileElement {
                kind: ElementKind::Interest,
                label: i.clone(),
                item_id: None,
            });
            texts.push(i.clone());
        }
        for c in &profile.classes {
            elements.push(ProfileElement {
                kind: ElementKind::Class,
                label: c.clone(),
                item_id: None,
            });
            texts.push(c.clone());
        }
        if !profile.about.is_empty() {
            elements.push(ProfileElement {
                kind: ElementKind::About,
                label: "about you".into(),
                item_id: None,
            });
            texts.push(profile.about.clone());
        }
        // Centroid weight per element: 1 for interests, classes and about; by recency for history.
        let mut weights: Vec<f32> = vec![1.0; elements.len()];
        let mut history_items: Vec<(ProfileElement, String, f32)> = Vec::new();
        let half_life = self.settings.recency_half_life;
        let window = self.settings.history_window.max(1);
        for (age, h) in profile.history.iter().take(window).enumerate() {
            match h {
                HistoryEntry::Item { id, title } => history_items.push((
                    ProfileElement {
                        kind: ElementKind::History,
                        label: title.clone(),
                        item_id: None,
                    },
                    id.clone(),
                    recency_weight(age, half_life),
                )),
                HistoryEntry::Text { text } => {
                    elements.push(ProfileElement {
                        kind: ElementKind::History,
                        label: text.clone(),
                        item_id: None,
                    });
                    weights.push(recency_weight(age, half_life));
                    texts.push(text.clone());
                }
            }
        }
        let concat = profile.as_text();
        let embed_concat = self.settings.profile_strategy == ProfileStrategy::Concat;
        let mut batch = texts;
        // The negative elements are embedded in the same batch, after the rest.
        let n_negatives = profile.not_interested.len();
        batch.extend(profile.not_interested.iter().cloned());
        if embed_concat {
            batch.push(concat);
        }
        let started = std::time::Instant::now();
        let mut vectors = self.embed_cached(batch, TextKind::Query).await?;
        let embed_time = started.elapsed();
        let concat_vector = if embed_concat { vectors.pop() } else { None };
        let negatives = vectors.split_off(vectors.len().saturating_sub(n_negatives));
        let mut pairs: Vec<(ProfileElement, Vec<f32>)> =
            elements.into_iter().zip(vectors).collect();

        if !history_items.is_empty() {
            let ids: Vec<String> = history_items.iter().map(|(_, id, _)| id.clone()).collect();
            let rows: Vec<(i64, String, pgvector::Vector)> = sqlx::query_as(
                "SELECT id, external_id, embedding FROM items
                 WHERE external_id = ANY($1) AND embedding IS NOT NULL AND model_id = $2",
            )
            .bind(&ids)
            .bind(self.model_id())
            .fetch_all(self.pool())
            .await?;
            for (mut element, id, weight) in history_items {
                if let Some((db_id, _, v)) = rows.iter().find(|(_, ext, _)| *ext == id) {
                    element.item_id = Some(*db_id);
                    pairs.push((element, v.to_vec()));
                    weights.push(weight);
                }
            }
        }
        if pairs.is_empty() && concat_vector.is_none() {
            // Only catalog history, none of it embedded by this model yet.
            return Err(EngineError::Conflict(
                "none of the profile's history items has a vector from the current model yet: \
                 run `semrec reindex`, or add an interest"
                    .into(),
            ));
        }
        let vector = match concat_vector {
            Some(v) => v,
            None => {
                let mut mean = vec![0f32; pairs.first().map(|(_, v)| v.len()).unwrap_or(0)];
                for ((_, v), w) in pairs.iter().zip(&weights) {
                    mean.iter_mut().zip(v).for_each(|(m, x)| *m += w * x);
                }
                normalize(&mut mean);
                mean
            }
        };
        Ok(ProfileQuery {
            vector,
            elements: pairs,
            weights,
            negatives,
            embed_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_text_lists_every_part_and_normalization_dedups() {
        let p = Profile {
            interests: vec![" jazz ".into(), "Jazz".into(), "aircraft".into()],
            history: vec![HistoryEntry::Text {
                text: "Top Gun".into(),
            }],
            classes: vec!["Physics 101".into()],
            about: " I fly gliders. ".into(),
            not_interested: vec![" horror ".into(), "Horror".into()],
        }
        .normalized()
        .unwrap();
        assert_eq!(p.interests, vec!["jazz", "aircraft"]);
        assert_eq!(p.not_interested, vec!["horror"]);
        // What the user is not interested in is not part of the query text.
        assert!(!p.as_text().contains("horror"));
        assert_eq!(
            p.as_text(),
            "Interested in jazz, aircraft. Liked Top Gun. Follows Physics 101. I fly gliders."
        );
    }

    #[test]
    fn explanation_picks_the_closest_element() {
        let q = ProfileQuery {
            vector: vec![1.0, 0.0],
            elements: vec![
                (
                    ProfileElement {
                        kind: ElementKind::Interest,
                        label: "a".into(),
                        item_id: None,
                    },
                    vec![1.0, 0.0],
                ),
                (
                    ProfileElement {
                        kind: ElementKind::Class,
                        label: "b".into(),
                        item_id: None,
                    },
                    vec![0.0, 1.0],
                ),
            ],
            weights: vec![1.0, 0.5],
            negatives: Vec::new(),
            embed_time: std::time::Duration::ZERO,
        };
        assert_eq!(q.explain(&[0.1, 0.9]).unwrap().label, "b");
        assert_eq!(q.explain(&[0.9, 0.1]).unwrap().label, "a");
        // Max-sim weighs: b's cosine 0.9 counts 0.45, a's 0.1 counts 0.1.
        assert_eq!(q.max_sim(&[0.1, 0.9]), Some((0.45, 1)));
        // A weight can hand the best match to another element: 0.6 beats 0.5 · 0.8.
        assert_eq!(q.max_sim(&[0.6, 0.8]).map(|(_, i)| i), Some(0));
    }

    #[test]
    fn strategies_parse_and_recency_halves() {
        assert_eq!("max_sim".parse(), Ok(ProfileStrategy::MaxSim));
        assert_eq!("centroid".parse(), Ok(ProfileStrategy::Centroid));
        assert!("best".parse::<ProfileStrategy>().is_err());
        assert_eq!(recency_weight(5, Some(5.0)), 0.5);
        assert_eq!(recency_weight(7, None), 1.0);
    }

    #[test]
    fn handles_are_validated() {
        assert_eq!(normalize_handle(" Ada.L ").unwrap(), "ada.l");
        assert!(normalize_handle("a").is_err());
        assert!(normalize_handle("-x").is_err());
        assert!(normalize_handle("a b").is_err());
    }
}
