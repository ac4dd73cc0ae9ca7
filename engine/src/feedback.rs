//! What a user told us about items, as they see it: the items they hid ("Not
//! interested"), newest first, for the web app's Hidden page, where each can be
//! restored ([`Engine::undo_dismiss`]).

use chrono::{DateTime, Utc};

use crate::catalog::Item;
use crate::error::Result;
use crate::Engine;

/// Most hidden items listed: a page people read, not an export.
pub const MAX_HIDDEN_LISTED: i64 = 500;

/// An item the user hid, and when.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct HiddenItem {
    #[sqlx(flatten)]
    pub item: Item,
    pub hidden_at: DateTime<Utc>,
}

impl Engine {
    /// The items this user dismissed, newest first (at most [`MAX_HIDDEN_LISTED`]).
    pub async fn hidden_items(&self, user_id: i64) -> Result<Vec<HiddenItem>> {
        Ok(sqlx::query_as(
            "SELECT i.id, i.external_id, i.title, i.description, i.language, i.source, i.tags,
                    i.url, d.created_at AS hidden_at
             FROM dismissals d JOIN items i ON i.id = d.item_id
             WHERE d.user_id = $1 ORDER BY d.created_at DESC, i.id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(MAX_HIDDEN_LISTED)
        .fetch_all(self.pool())
        .await?)
    }
}

/// Explicit feedback on an item, from its card or its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// 👍: the item joins the user's history (things they enjoyed), newest first: a
    /// positive profile element, left out of their lists from now on.
    Liked,
    /// 👎: a negative element, as "Not interested" is (the item leaves their lists
    /// and pushes items like it down); it also leaves their history.
    Disliked,
    /// "I've seen it": recorded as consumed (an interaction), left out of their
    /// lists, but not a profile element: seen is not enjoyed.
    Seen,
}

impl Feedback {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "liked" => Some(Self::Liked),
            "disliked" => Some(Self::Disliked),
            "seen" => Some(Self::Seen),
            _ => None,
        }
    }
}

impl Engine {
    /// Records explicit feedback of a user on a catalog item (unknown item:
    /// `NotFound`). Idempotent: the same feedback twice is stored once.
    pub async fn give_feedback(
        &self,
        user_id: i64,
        item_external_id: &str,
        feedback: Feedback,
    ) -> Result<()> {
        let item_id = self.item_by_external_id(item_external_id).await?.id;
        match feedback {
            Feedback::Disliked => {
                let mut tx = crate::store::begin_on(self.pool()).await?;
                let left =
                    sqlx::query("DELETE FROM profile_history WHERE user_id = $1 AND item_id = $2")
                        .bind(user_id)
                        .bind(item_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if left > 0 {
                    crate::recommend::refresh_popularity(&mut tx, &[item_id]).await?;
                    touch_profile(&mut tx, user_id).await?;
                }
                tx.commit().await?;
                self.dismiss(user_id, item_external_id).await
            }
            Feedback::Liked => {
                let mut tx = crate::store::begin_on(self.pool()).await?;
                // Liked now: no longer dismissed.
                sqlx::query("DELETE FROM dismissals WHERE user_id = $1 AND item_id = $2")
                    .bind(user_id)
                    .bind(item_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM interactions x USING users u WHERE u.id = $1
                       AND x.user_ref = u.handle AND x.item_id = $2 AND x.kind = 'dismissed'",
                )
                .bind(user_id)
                .bind(item_id)
                .execute(&mut *tx)
                .await?;
                // The newest history entry (an entry already there moves to the front).
                let added = sqlx::query(
                    "INSERT INTO profile_history (user_id, item_id, consumed_at)
                     VALUES ($1, $2, now())
                     ON CONFLICT (user_id, item_id) WHERE item_id IS NOT NULL
                     DO UPDATE SET consumed_at = now()
                     RETURNING (xmax = 0) AS inserted",
                )
                .bind(user_id)
                .bind(item_id)
                .fetch_one(&mut *tx)
                .await?;
                let inserted: bool = sqlx::Row::get(&added, "inserted");
                if inserted {
                    crate::recommend::refresh_popularity(&mut tx, &[item_id]).await?;
                }
                touch_profile(&mut tx, user_id).await?;
                crate::interactions::record_profile_history(&mut tx, user_id).await?;
                tx.commit().await?;
                Ok(())
            }
            Feedback::Seen => {
                let mut tx = crate::store::begin_on(self.pool()).await?;
                sqlx::query(
                    "INSERT INTO seen_items (user_id, item_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(item_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO interactions (user_ref, item_id, kind, ts)
                     SELECT u.handle, $2, 'consumed', now() FROM users u
                     WHERE u.id = $1 AND NOT EXISTS (
                         SELECT 1 FROM interactions x
                         WHERE x.user_ref = u.handle AND x.item_id = $2 AND x.kind = 'consumed')
                     ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(item_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    }

    /// Items this user marked "I've seen it": never recommended back to them.
    pub(crate) async fn seen_item_ids(&self, user_id: i64) -> Result<Vec<i64>> {
        Ok(
            sqlx::query_scalar("SELECT item_id FROM seen_items WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(self.pool())
                .await?,
        )
    }
}

/// A profile row for the user, updated now (a history change is a profile change).
async fn touch_profile(conn: &mut sqlx::PgConnection, user_id: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO profiles (user_id, updated_at) VALUES ($1, now())
         ON CONFLICT (user_id) DO UPDATE SET updated_at = now()",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
