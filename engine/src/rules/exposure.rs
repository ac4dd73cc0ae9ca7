//! Which candidates are under-exposed (exploration's eligible items): fewer than M
//! stored interactions (dismissals aside) and fewer than S impressions. Each count
//! stops at its bound, so a much-shown item costs no more than a new one.

use std::collections::HashSet;

use super::exploration::ExplorationSettings;
use crate::error::Result;
use crate::Engine;

impl Engine {
    /// The ids among `item_ids` that are under-exposed by `s`.
    pub(crate) async fn under_exposed(
        &self,
        item_ids: &[i64],
        s: &ExplorationSettings,
    ) -> Result<HashSet<i64>> {
        if item_ids.is_empty() || !s.is_on() {
            return Ok(HashSet::new());
        }
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT c.id FROM unnest($1::bigint[]) c(id)
             WHERE (SELECT count(*) FROM (SELECT 1 FROM interactions x
                     WHERE x.item_id = c.id AND x.kind <> 'dismissed' LIMIT $2) n) < $2
               AND (SELECT count(*) FROM (SELECT 1 FROM impression_items ii
                     WHERE ii.item_id = c.id LIMIT $3) m) < $3",
        )
        .bind(item_ids)
        .bind(s.max_interactions)
        .bind(s.max_impressions)
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().collect())
    }
}
