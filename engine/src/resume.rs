//! Lists a user can come back to. Going Back after opening an item, or reloading,
//! within [`RESUME_WINDOW_MINUTES`] of a list shows that same list (the same
//! impression id, the same order, the opened item still in it) instead of ranking
//! and recording a new one, so the dashboard counts the list once.
//!
//! A list is the answer to a request: the user, their profile as it is now, their
//! dismissals, the filters and the page. Its key (a SHA-256 of those) is stored on
//! the impression (`impressions.list_key`) with what its cards said (`list_notes`:
//! the explanations and the list's warning), so any instance on the database can
//! resume it. Saving another profile, dismissing or restoring an item, or another
//! filter or page is another request, and gets a new list.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::Item;
use crate::error::Result;
use crate::events::ImpressionContext;
use crate::profile::Profile;
use crate::ranking::{
    Explanation, PathTimings, RecommendOptions, Recommendation, RecommendationList, Recording,
};
use crate::rules::confidence::ListWarning;
use crate::Engine;

/// How long the same request gets the same list back.
pub const RESUME_WINDOW_MINUTES: i32 = 30;

/// What a served list's cards said beyond the stored items, ranks and scores.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ListNotes {
    /// (rank, explanation) of each explained item.
    #[serde(default)]
    pub explanations: Vec<(usize, Explanation)>,
    #[serde(default)]
    pub warning: Option<ListWarning>,
}

impl ListNotes {
    pub(crate) fn of(items: &[Recommendation], warning: Option<ListWarning>) -> Self {
        Self {
            explanations: items
                .iter()
                .filter_map(|r| r.explanation.clone().map(|e| (r.rank, e)))
                .collect(),
            warning,
        }
    }
}

/// What a list answers; hashed into its key.
#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    context: &'a str,
    profile: &'a Profile,
    k: usize,
    offset: usize,
    filters: crate::ranking::Filters,
    diversity: Option<f32>,
    /// Count and newest time of the user's dismissals, and the count of items
    /// they marked seen: a dismissal, an undo or "I've seen it" is another request.
    dismissals: (i64, Option<chrono::DateTime<chrono::Utc>>, i64),
}

#[derive(sqlx::FromRow)]
struct ShownRow {
    rank: i32,
    score: f32,
    #[sqlx(flatten)]
    item: Item,
}

impl Engine {
    /// The list for a signed-in user's request: the one served for the same request
    /// (profile, dismissals, filters, page) in the last [`RESUME_WINDOW_MINUTES`]
    /// when there is one, with its impression id and nothing recorded; else a new
    /// list, recorded, that the same request gets back. The web app's home list and
    /// the JSON API's `resume` option.
    pub async fn recommend_resumable(
        &self,
        user_id: i64,
        profile: &Profile,
        opts: &RecommendOptions,
        context: ImpressionContext,
    ) -> Result<(RecommendationList, PathTimings)> {
        opts.validate()?;
        let started = Instant::now();
        let key = self.list_key(user_id, profile, opts, context).await?;
        if let Some(list) = self.resumed_list(user_id, &key).await? {
            let total = started.elapsed();
            return Ok((
                list,
                PathTimings {
                    total,
                    ..Default::default()
                },
            ));
        }
        let recording = Recording::Resumable {
            context,
            key,
            warning: None,
        };
        self.recommend_profile(Some(user_id), profile, opts, recording)
            .await
    }

    async fn list_key(
        &self,
        user_id: i64,
        profile: &Profile,
        opts: &RecommendOptions,
        context: ImpressionContext,
    ) -> Result<String> {
        let dismissals = sqlx::query_as(
            "SELECT count(*), max(created_at),
                        (SELECT count(*) FROM seen_items WHERE user_id = $1)
                 FROM dismissals WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        let request = Request {
            model: self.model_id(),
            context: context.as_str(),
            profile,
            k: opts.k,
            offset: opts.offset,
            filters: opts.filters.normalized(),
            diversity: opts.diversity_lambda,
            dismissals,
        };
        let json = serde_json::to_vec(&(user_id, &request))
            .map_err(|e| crate::error::EngineError::Internal(format!("list key: {e}")))?;
        Ok(hex::encode(Sha256::digest(json)))
    }

    /// The newest list served for `key` within the window, as it was served.
    async fn resumed_list(&self, user_id: i64, key: &str) -> Result<Option<RecommendationList>> {
        // Served here a moment ago, it may still wait in the queue.
        if self.impressions.has_pending_list(user_id, key) {
            self.flush_impressions().await?;
        }
        let found: Option<(uuid::Uuid, Option<sqlx::types::Json<ListNotes>>)> = sqlx::query_as(
            "SELECT id, list_notes FROM impressions
             WHERE user_id = $1 AND list_key = $2 AND model_id = $3
               AND created_at > now() - make_interval(mins => $4)
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(key)
        .bind(self.model_id())
        .bind(RESUME_WINDOW_MINUTES)
        .fetch_optional(self.pool())
        .await?;
        let Some((impression_id, notes)) = found else {
            return Ok(None);
        };
        let notes = notes.map(|n| n.0).unwrap_or_default();
        let rows: Vec<ShownRow> = sqlx::query_as(
            "SELECT ii.rank, ii.score, i.id, i.external_id, i.title, i.description, i.language,
                    i.source, i.tags, i.url
             FROM impression_items ii JOIN items i ON i.id = ii.item_id
             WHERE ii.impression_id = $1 ORDER BY ii.rank",
        )
        .bind(impression_id)
        .fetch_all(self.pool())
        .await?;
        let mut explanations: std::collections::HashMap<usize, Explanation> =
            notes.explanations.into_iter().collect();
        Ok(Some(RecommendationList {
            impression_id,
            model_id: self.model_id().to_string(),
            items: rows
                .into_iter()
                .map(|r| Recommendation {
                    rank: r.rank as usize,
                    score: r.score,
                    explanation: explanations.remove(&(r.rank as usize)),
                    item: r.item,
                })
                .collect(),
            warning: notes.warning,
        }))
    }
}
