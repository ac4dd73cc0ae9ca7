//! Impressions (lists served) and clicks. A click is only accepted for an item
//! that was actually shown in the impression it names.

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::impression_queue::QueuedImpression;
use crate::Engine;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImpressionContext {
    Profile,
    Similar,
    Api,
}

impl ImpressionContext {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Similar => "similar",
            Self::Api => "api",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShownItem {
    pub item_id: i64,
    pub rank: usize,
    pub score: f32,
    /// What the ranker ranked it by (lists the ranker ranked), logged for training
    /// its next model (`ranking::online`).
    pub features: Option<crate::fusion::Features>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClickOutcome {
    Recorded,
    /// The same impression item was clicked before; counted once.
    AlreadyRecorded,
}

impl Engine {
    /// Records one impression with every shown item: queued for the background
    /// writer when it runs and has room (`crate::impression_queue`), else written
    /// now in one transaction. `query` is the vector the list was ranked for, when
    /// semrec ranked it.
    pub async fn record_impression(
        &self,
        user_id: Option<i64>,
        context: ImpressionContext,
        query: Option<&[f32]>,
        shown: &[ShownItem],
    ) -> Result<uuid::Uuid> {
        self.record_ranked_impression(user_id, context, query, shown, None)
            .await
    }

    /// [`Engine::record_impression`], with the version of the learned ranker's model
    /// that ranked the list (`None`: the shipped one, or weights set by hand).
    pub async fn record_ranked_impression(
        &self,
        user_id: Option<i64>,
        context: ImpressionContext,
        query: Option<&[f32]>,
        shown: &[ShownItem],
        ranker_version: Option<i32>,
    ) -> Result<uuid::Uuid> {
        self.queue_impression(user_id, context, query, shown, ranker_version, None)
            .await
    }

    /// [`Engine::record_ranked_impression`] of a list the same request may come back
    /// to (`crate::resume`): stored with the request's key and the cards' notes.
    pub(crate) async fn record_resumable_impression(
        &self,
        user_id: Option<i64>,
        context: ImpressionContext,
        query: Option<&[f32]>,
        shown: &[ShownItem],
        ranker_version: Option<i32>,
        resume: (String, crate::resume::ListNotes),
    ) -> Result<uuid::Uuid> {
        self.queue_impression(user_id, context, query, shown, ranker_version, Some(resume))
            .await
    }

    async fn queue_impression(
        &self,
        user_id: Option<i64>,
        context: ImpressionContext,
        query: Option<&[f32]>,
        shown: &[ShownItem],
        ranker_version: Option<i32>,
        resume: Option<(String, crate::resume::ListNotes)>,
    ) -> Result<uuid::Uuid> {
        let id = uuid::Uuid::new_v4();
        let imp = QueuedImpression {
            id,
            user_id,
            context,
            query: query.map(|q| pgvector::Vector::from(q.to_vec())),
            shown: shown.to_vec(),
            ranker_version,
            at: chrono::Utc::now(),
            resume: resume.map(Box::new),
        };
        if let Err(imp) = self.impressions.offer(imp) {
            self.write_impression_now(imp).await?;
        }
        Ok(id)
    }

    /// The item `item_external_id` as shown in a stored impression, with the
    /// impression's user.
    async fn shown_item(
        &self,
        impression_id: uuid::Uuid,
        item_external_id: &str,
    ) -> Result<Option<(i64, Option<i64>)>> {
        Ok(sqlx::query_as(
            "SELECT ii.item_id, im.user_id FROM impression_items ii
             JOIN impressions im ON im.id = ii.impression_id
             JOIN items i ON i.id = ii.item_id
             WHERE ii.impression_id = $1 AND i.external_id = $2",
        )
        .bind(impression_id)
        .bind(item_external_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a click on an item of a served impression. When `user_id` is
    /// given it must be the impression's user: nobody clicks in someone else's list.
    pub async fn record_click(
        &self,
        impression_id: uuid::Uuid,
        item_external_id: &str,
        user_id: Option<i64>,
    ) -> Result<ClickOutcome> {
        // A click right after its list may find the impression still queued.
        let served_here = self.impressions.is_pending(impression_id);
        if served_here {
            self.flush_impressions().await?;
        }
        let mut shown = self.shown_item(impression_id, item_external_id).await?;
        // Served by another instance on this database, the impression may still be
        // in that instance's queue: look again until it must have been written.
        let wait = self
            .impressions
            .other_instance_wait()
            .filter(|_| !served_here);
        if let (None, Some(wait)) = (&shown, wait) {
            let started = tokio::time::Instant::now();
            while shown.is_none() && started.elapsed() < wait {
                tokio::time::sleep(wait / 4).await;
                shown = self.shown_item(impression_id, item_external_id).await?;
            }
        }
        let Some((item_id, owner)) = shown else {
            return Err(EngineError::invalid(
                "item_id",
                format!("item '{item_external_id}' was not shown in impression {impression_id}: only served items can be clicked"),
            ));
        };
        if user_id.is_some() && owner.is_some() && owner != user_id {
            return Err(EngineError::invalid(
                "impression_id",
                "this impression belongs to another user",
            ));
        }
        let mut tx = crate::store::begin_on(self.pool()).await?;
        let inserted = sqlx::query(
            "INSERT INTO clicks (impression_id, item_id) VALUES ($1, $2) ON CONFLICT (impression_id, item_id) DO NOTHING",
        )
        .bind(impression_id)
        .bind(item_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            // A click counts towards the item's popularity prior.
            crate::recommend::refresh_popularity(&mut tx, &[item_id]).await?;
            crate::interactions::record_click(&mut tx, impression_id, item_id).await?;
        }
        tx.commit().await?;
        Ok(if inserted == 1 {
            ClickOutcome::Recorded
        } else {
            ClickOutcome::AlreadyRecorded
        })
    }
}
