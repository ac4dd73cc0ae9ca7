//! What a user says they consumed, resolved against the catalog: the one path the
//! web app and the JSON API share.
//!
//! A catalog id is that item; free text that names a catalog item's title exactly
//! (ignoring case and whitespace) is that item too, so it is left out of the
//! recommendations; any other text stays text. Limits are checked on the raw list
//! first, and every entry is resolved by one query.

use std::collections::{HashMap, HashSet};

use crate::catalog::MAX_ID_CHARS;
use crate::error::{EngineError, Result};
use crate::list_limits::collapse_whitespace;
use crate::profile::{HistoryEntry, MAX_HISTORY, MAX_HISTORY_TEXT_CHARS};
use crate::Engine;

/// One history entry as a client sends it, before it is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryRef {
    /// The id of a catalog item; an unknown id is an error.
    Item(String),
    /// Free text, e.g. a book title; becomes an item when it names one.
    Text(String),
}

/// Checks count and lengths of the raw entries, before anything is looked up.
/// Texts come back with their whitespace collapsed.
fn checked(refs: Vec<HistoryRef>) -> Result<Vec<HistoryRef>> {
    if refs.len() > MAX_HISTORY {
        return Err(EngineError::invalid(
            "history",
            format!("at most {MAX_HISTORY} entries, got {}", refs.len()),
        ));
    }
    refs.into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            HistoryRef::Item(id) => {
                let id = id.trim().to_string();
                if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
                    return Err(EngineError::invalid(
                        format!("history[{i}]"),
                        format!("an item id has 1–{MAX_ID_CHARS} characters"),
                    ));
                }
                Ok(HistoryRef::Item(id))
            }
            HistoryRef::Text(text) => {
                // Cheap bound before the text is copied: 4 bytes per character at most.
                let long = text.len() > 4 * MAX_HISTORY_TEXT_CHARS + 1024;
                let text = if long {
                    String::new()
                } else {
                    collapse_whitespace(&text)
                };
                let chars = text.chars().count();
                if long || chars == 0 || chars > MAX_HISTORY_TEXT_CHARS || text.contains('\0') {
                    return Err(EngineError::invalid(
                        format!("history[{i}]"),
                        format!("free text must have 1–{MAX_HISTORY_TEXT_CHARS} characters"),
                    ));
                }
                Ok(HistoryRef::Text(text))
            }
        })
        .collect()
}

/// The key two entries are the same entry by: an item's id, or a text ignoring case.
fn dedupe_key(entry: &HistoryEntry) -> (bool, String) {
    match entry {
        HistoryEntry::Item { id, .. } => (true, id.clone()),
        HistoryEntry::Text { text } => (false, text.to_lowercase()),
    }
}

impl Engine {
    /// Resolves a history, most recent first: count and lengths are checked before
    /// any work, every id and text is looked up in one query, and repeated entries
    /// keep their most recent place.
    ///
    /// A text naming several items' title picks the most consumed of them, then the
    /// oldest (lowest id), so the same text always resolves the same way.
    pub async fn resolve_history(&self, refs: Vec<HistoryRef>) -> Result<Vec<HistoryEntry>> {
        let refs = checked(refs)?;
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<&str> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        for r in &refs {
            match r {
                HistoryRef::Item(id) => ids.push(id),
                HistoryRef::Text(text) => texts.push(text),
            }
        }
        // Case is folded by PostgreSQL on both sides (its lower(), not Rust's), so a
        // text matches exactly the titles the database thinks equal; titles are
        // stored with collapsed whitespace (catalog validation), as texts are here.
        let rows: Vec<(bool, String, String, String)> = sqlx::query_as(
            "SELECT true, external_id, external_id, title FROM items WHERE external_id = ANY($1)
             UNION ALL
             (SELECT DISTINCT ON (w.t) false, w.t, i.external_id, i.title
              FROM (SELECT DISTINCT t, lower(t) AS key FROM unnest($2::text[]) t) w
              JOIN items i ON lower(i.title) = w.key
              LEFT JOIN item_popularity p ON p.item_id = i.id
              ORDER BY w.t, coalesce(p.users, 0) DESC, i.id)",
        )
        .bind(&ids)
        .bind(&texts)
        .fetch_all(self.pool())
        .await?;
        let mut by_id: HashMap<String, String> = HashMap::new();
        let mut by_text: HashMap<String, (String, String)> = HashMap::new();
        for (is_id, key, id, title) in rows {
            if is_id {
                by_id.insert(key, title);
            } else {
                by_text.insert(key, (id, title));
            }
        }
        let mut seen = HashSet::with_capacity(refs.len());
        let mut out = Vec::with_capacity(refs.len());
        for (i, r) in refs.into_iter().enumerate() {
            let entry = match r {
                HistoryRef::Item(id) => match by_id.get(&id) {
                    Some(title) => HistoryEntry::Item {
                        title: title.clone(),
                        id,
                    },
                    None => {
                        return Err(EngineError::invalid(
                            format!("history[{i}]"),
                            format!("item '{id}' is not in the catalog"),
                        ))
                    }
                },
                HistoryRef::Text(text) => match by_text.get(&text) {
                    Some((id, title)) => HistoryEntry::Item {
                        id: id.clone(),
                        title: title.clone(),
                    },
                    None => HistoryEntry::Text { text },
                },
            };
            if seen.insert(dedupe_key(&entry)) {
                out.push(entry);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_limits_come_first() {
        let many = vec![HistoryRef::Text("x".into()); MAX_HISTORY + 1];
        let e = checked(many).unwrap_err().to_string();
        assert!(e.contains("history: at most 1000 entries"), "{e}");
        let long = HistoryRef::Text("y".repeat(10 * MAX_HISTORY_TEXT_CHARS));
        assert!(checked(vec![long]).is_err());
        assert!(checked(vec![HistoryRef::Text(" \t ".into())]).is_err());
        assert!(checked(vec![HistoryRef::Item("".into())]).is_err());
        assert_eq!(
            checked(vec![HistoryRef::Text("  The   Matrix ".into())]).unwrap(),
            vec![HistoryRef::Text("The Matrix".into())]
        );
    }
}
