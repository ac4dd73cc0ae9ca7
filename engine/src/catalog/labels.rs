//! What a card says about an item besides its text: its genres, the curated
//! labels an import puts in `metadata.genres` (a list of strings; the demo
//! catalog's MovieLens genres). Free-form tags are not shown: they are
//! whatever users typed ("getdvd"), and stay in the embedded text only.

use std::collections::HashMap;

use crate::error::Result;
use crate::Engine;

/// Genres shown per item, at most.
pub const MAX_GENRES: usize = 6;
/// Longer entries are not genres (a sentence pasted into the list): left out.
pub const MAX_GENRE_CHARS: usize = 40;

impl Engine {
    /// The genres of these items (by external id), in their stored order; items
    /// without a `metadata.genres` list are absent from the map.
    pub async fn genres_of(&self, external_ids: &[String]) -> Result<HashMap<String, Vec<String>>> {
        if external_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
            "SELECT external_id,
                    ARRAY(SELECT g FROM jsonb_array_elements_text(metadata->'genres') AS g)
             FROM items
             WHERE external_id = ANY($1) AND jsonb_typeof(metadata->'genres') = 'array'",
        )
        .bind(external_ids)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, genres)| (id, clean(genres)))
            .filter(|(_, genres)| !genres.is_empty())
            .collect())
    }
}

/// Trimmed, non-empty, short entries, each once, at most [`MAX_GENRES`].
fn clean(genres: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in genres {
        let g = g.trim();
        if g.is_empty() || g.chars().count() > MAX_GENRE_CHARS {
            continue;
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(g)) {
            out.push(g.to_string());
        }
        if out.len() == MAX_GENRES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn genres_are_trimmed_short_unique_and_capped() {
        let long = "x".repeat(super::MAX_GENRE_CHARS + 1);
        let got = super::clean(
            [
                " Drama ", "", "drama", &long, "War", "A", "B", "C", "D", "E", "F",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert_eq!(got, ["Drama", "War", "A", "B", "C", "D"]);
    }
}
