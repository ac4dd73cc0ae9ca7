//! "Not interested" per item: the items users dismissed most in a window, for
//! the admin dashboard (a dismissal undone is no longer counted).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::Store;

/// Rows the dashboard's table shows at most.
pub const MOST_DISMISSED_ROWS: i64 = 20;

/// One item and how often it was dismissed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DismissalCount {
    pub external_id: String,
    pub title: String,
    /// Users who dismissed it in the window (and have not undone it).
    pub dismissed: i64,
    /// Times it was shown in the window, for scale.
    pub shown: i64,
}

impl Store {
    /// The most dismissed items of [from, to): most dismissals first, then by title.
    pub async fn most_dismissed(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DismissalCount>> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "WITH d AS (
                 SELECT item_id, count(*) AS n FROM dismissals
                  WHERE created_at >= $1 AND created_at < $2
                  GROUP BY item_id ORDER BY n DESC LIMIT $3
             )
             SELECT i.external_id, i.title, d.n,
                    (SELECT count(*) FROM impression_items ii JOIN impressions im ON im.id = ii.impression_id
                      WHERE ii.item_id = d.item_id AND im.created_at >= $1 AND im.created_at < $2)
               FROM d JOIN items i ON i.id = d.item_id
              ORDER BY d.n DESC, i.title, i.external_id",
        )
        .bind(from)
        .bind(to)
        .bind(limit.clamp(1, 1_000))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(external_id, title, dismissed, shown)| DismissalCount {
                external_id,
                title,
                dismissed,
                shown,
            })
            .collect())
    }
}
