//! The popularity channel: distinct signed-in users per item (`item_popularity`),
//! kept current on every profile save and click, and the prior in [0, 1] it gives
//! a candidate.

use crate::error::Result;
use crate::Engine;

/// Serialises popularity recounts (any constant works; this one reads "semrec01").
const POPULARITY_LOCK: i64 = 0x7365_6d72_6563_3031;

/// Distinct signed-in users with an item in their history or a click on it: each
/// counts once however often they click, and anonymous clicks count not at all
/// (anyone can make them in a loop). An SQL aggregate over rows `s(user_id)`.
const POPULARITY_USERS: &str = "count(DISTINCT s.user_id)";

/// Recounts `item_ids`' popularity ([`POPULARITY_USERS`]) inside the caller's
/// transaction, after its writes.
pub(crate) async fn refresh_popularity(
    conn: &mut sqlx::PgConnection,
    item_ids: &[i64],
) -> Result<()> {
    if item_ids.is_empty() {
        return Ok(());
    }
    // Concurrent recounts each see only their own uncommitted rows. Under READ
    // COMMITTED the recount statement takes its snapshot after this lock, i.e. after
    // every earlier recounting transaction committed, so the last count is right.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(POPULARITY_LOCK)
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO item_popularity (item_id, users)
         SELECT i.id, (SELECT {POPULARITY_USERS}
                       FROM (SELECT h.user_id FROM profile_history h WHERE h.item_id = i.id
                             UNION ALL
                             SELECT im.user_id FROM clicks c JOIN impressions im ON im.id = c.impression_id
                             WHERE c.item_id = i.id AND im.user_id IS NOT NULL) s)::int
         FROM items i WHERE i.id = ANY($1)
         ON CONFLICT (item_id) DO UPDATE SET users = EXCLUDED.users"
    ))
    .persistent(false)
    .bind(item_ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The prior's normaliser never drops below this many users: in a young deployment
/// the first click would otherwise give its item the full prior, pushing it to everyone.
const POPULARITY_EVIDENCE_FLOOR: i64 = 20;

/// Users an item needs before any of them count: one user's evidence (however
/// many clicks, however many lists) must not move an item in everyone else's lists.
pub const POPULARITY_MIN_USERS: i64 = 2;

/// The popularity prior in [0, 1]: ln(1 + u) / ln(1 + max(max u, floor)), where u
/// counts the users beyond the first ([`POPULARITY_MIN_USERS`]).
/// Public so that the offline evaluation scores with this very function.
pub fn prior(popularity: i64, max: i64) -> f32 {
    let beyond = |users: i64| (users - (POPULARITY_MIN_USERS - 1)).max(0);
    let (popularity, max) = (beyond(popularity), beyond(max));
    if max <= 0 {
        return 0.0;
    }
    let norm = max.max(POPULARITY_EVIDENCE_FLOOR);
    ((1.0 + popularity.clamp(0, norm) as f64).ln() / (1.0 + norm as f64).ln()) as f32
}

impl Engine {
    /// Recounts every item's popularity from scratch (after bulk deletions of users,
    /// whose cascades bypass the per-save upkeep). Returns how many items have a count.
    pub async fn rebuild_popularity(&self) -> Result<u64> {
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(POPULARITY_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM item_popularity")
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query(&format!(
            "INSERT INTO item_popularity (item_id, users)
             SELECT s.item_id, ({POPULARITY_USERS})::int
             FROM (SELECT h.item_id, h.user_id FROM profile_history h WHERE h.item_id IS NOT NULL
                   UNION ALL
                   SELECT c.item_id, im.user_id FROM clicks c JOIN impressions im ON im.id = c.impression_id
                   WHERE im.user_id IS NOT NULL) s
             GROUP BY s.item_id"
        ))
        .persistent(false)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// The most popular item's user count (the prior's normaliser).
    pub(super) async fn max_popularity(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(max(users), 0)::int8 FROM item_popularity")
                .fetch_one(self.pool())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_is_log_scaled_to_the_most_popular_item() {
        assert_eq!(prior(0, 0), 0.0);
        assert_eq!(prior(5, 0), 0.0);
        assert_eq!(prior(0, 41), 0.0);
        assert!((prior(41, 41) - 1.0).abs() < 1e-6);
        // ln 6 / ln 36 = 0.5: the log scale halves at the square root of the top
        // count (of users beyond the first).
        assert!((prior(6, 36) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn one_user_alone_moves_nothing() {
        assert_eq!(prior(1, 1), 0.0);
        assert_eq!(prior(1, 50), 0.0);
        assert!(prior(2, 50) > 0.0);
    }

    #[test]
    fn prior_of_a_young_catalog_is_scaled_to_the_evidence_floor() {
        // Two users in a fresh deployment are not the full prior: ln 2 / ln 21.
        let expected = (2f64.ln() / 21f64.ln()) as f32;
        assert!((prior(2, 2) - expected).abs() < 1e-6);
        assert!(prior(2, 2) < 0.25);
        assert!((prior(21, 21) - 1.0).abs() < 1e-6);
    }
}
