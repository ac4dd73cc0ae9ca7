//! The collaborative candidate channel: items the stored model lists as neighbours
//! of the user's history items, scored by the sum of those neighbour weights (EASE's
//! X_u · B restricted to the stored top N, as `collaborative::Neighbours::scores`).

use std::collections::HashMap;

use super::options::{Exclusions, Filters};
use super::semantic::{Candidate, CandidateRow, CANDIDATE_COLUMNS, CANDIDATE_FILTER};
use crate::error::Result;
use crate::Engine;

/// `$1` history item ids; `$2`–`$7` the candidate filter; `$8` LIMIT.
fn channel_sql() -> String {
    format!(
        "SELECT {CANDIDATE_COLUMNS}, 0::float8 AS distance, c.collaborative
         FROM (SELECT n.neighbour_id, sum(n.weight)::float8 AS collaborative
               FROM item_neighbours n WHERE n.item_id = ANY($1) GROUP BY n.neighbour_id) c
         JOIN items ON items.id = c.neighbour_id
         WHERE c.collaborative > 0 AND {CANDIDATE_FILTER}
         ORDER BY c.collaborative DESC, items.id LIMIT $8"
    )
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    #[sqlx(flatten)]
    candidate: CandidateRow,
    collaborative: f64,
}

impl Engine {
    /// The `limit` best collaborative candidates for `history` (item ids), filtered and
    /// excluded like every candidate, with their raw collaborative scores.
    pub(crate) async fn collaborative_candidates(
        &self,
        history: &[i64],
        limit: usize,
        filters: &Filters,
        exclusions: &Exclusions,
    ) -> Result<Vec<(Candidate, f64)>> {
        if history.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let sql = channel_sql();
        let query = sqlx::query_as::<_, ChannelRow>(&sql).bind(history.to_vec());
        let rows = self
            .bind_filter(query, filters, exclusions)
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (Candidate::from(r.candidate), r.collaborative))
            .collect())
    }

    /// Raw collaborative scores of `items` for `history` (items no history item lists
    /// are absent).
    pub(crate) async fn collaborative_scores(
        &self,
        history: &[i64],
        items: &[i64],
    ) -> Result<HashMap<i64, f64>> {
        if history.is_empty() || items.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, f64)> = sqlx::query_as(
            "SELECT neighbour_id, sum(weight)::float8 FROM item_neighbours
             WHERE item_id = ANY($1) AND neighbour_id = ANY($2) GROUP BY neighbour_id",
        )
        .bind(history)
        .bind(items)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().collect())
    }
}
