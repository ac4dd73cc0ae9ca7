//! Dismissals ("Not interested") as negative elements: the vectors of a user's most
//! recent dismissed items, and undoing a dismissal.
//!
//! A dismissal is stored in `dismissals` (which keeps the item out of the user's
//! lists) and, as the user's behaviour, in the interactions store (kind `dismissed`,
//! `user_ref` = the handle, which the collaborative model skips). Dismissals imported
//! as interactions for a semrec handle count as that user's dismissals too.

use crate::error::Result;
use crate::Engine;

impl Engine {
    /// "Not interested": the item leaves this user's later lists, and items like it
    /// lose score (a negative element). Recorded in the interactions store too.
    pub async fn dismiss(&self, user_id: i64, item_external_id: &str) -> Result<()> {
        let item_id = self.item_by_external_id(item_external_id).await?.id;
        let mut tx = crate::store::begin_on(self.pool()).await?;
        sqlx::query(
            "INSERT INTO dismissals (user_id, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(item_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO interactions (user_ref, item_id, kind, ts)
             SELECT u.handle, $2, 'dismissed', now() FROM users u WHERE u.id = $1
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(item_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The vectors (from the current model) of the user's `limit` most recent
    /// dismissed items, recorded or imported, newest first.
    pub(crate) async fn dismissed_vectors(
        &self,
        user_id: i64,
        limit: usize,
    ) -> Result<Vec<Vec<f32>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<(pgvector::Vector,)> = sqlx::query_as(
            "SELECT i.embedding FROM (
                 SELECT d.item_id, d.created_at AS at FROM dismissals d WHERE d.user_id = $1
                 UNION ALL
                 SELECT x.item_id, x.ts FROM interactions x JOIN users u ON u.handle = x.user_ref
                 WHERE u.id = $1 AND x.kind = 'dismissed') d
             JOIN items i ON i.id = d.item_id
             WHERE i.embedding IS NOT NULL AND i.model_id = $2
             GROUP BY i.id, i.embedding ORDER BY max(d.at) DESC, i.id LIMIT $3",
        )
        .bind(user_id)
        .bind(self.model_id())
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(v,)| v.to_vec()).collect())
    }

    /// Undoes "Not interested" on an item: it may be recommended again and no
    /// longer pushes similar items down. Returns whether there was anything to undo;
    /// an unknown item is `NotFound`.
    pub async fn undo_dismiss(&self, user_id: i64, item_external_id: &str) -> Result<bool> {
        let item_id = self.item_by_external_id(item_external_id).await?.id;
        let mut tx = crate::store::begin_on(self.pool()).await?;
        let removed = sqlx::query("DELETE FROM dismissals WHERE user_id = $1 AND item_id = $2")
            .bind(user_id)
            .bind(item_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let forgotten = sqlx::query(
            "DELETE FROM interactions x USING users u
             WHERE u.id = $1 AND x.user_ref = u.handle AND x.item_id = $2 AND x.kind = 'dismissed'",
        )
        .bind(user_id)
        .bind(item_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(removed + forgotten > 0)
    }
}
