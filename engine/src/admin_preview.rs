//! For the admin's users page: finding users by handle, and what a user's
//! list would be right now, with each item's reason and ranking features,
//! recording nothing (no impression, no exposure).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::fusion::Features;
use crate::profile::Profile;
use crate::recommend::{RecommendOptions, Recommendation};
use crate::{Engine, Store};

/// Longest search text: a handle has at most 40 characters.
pub const MAX_USER_QUERY_CHARS: usize = 40;
/// Most users one search returns.
pub const MAX_USER_RESULTS: i64 = 50;

/// A user as the search lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub handle: String,
    pub created_at: DateTime<Utc>,
}

/// One item of a preview: as served, with the features it was ranked on (None
/// when the item did not come from the candidate pool, e.g. an exploration slot).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewItem {
    pub recommendation: Recommendation,
    pub features: Option<Features>,
}

/// A user's list as the recommend path would serve it now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserPreview {
    pub user: UserSummary,
    pub profile: Profile,
    pub items: Vec<PreviewItem>,
    pub warning: Option<crate::rules::confidence::ListWarning>,
}

impl Store {
    /// Users whose handle contains `query` (in any case), by handle; the newest
    /// users for an empty query. At most `limit` (1–[`MAX_USER_RESULTS`]).
    pub async fn search_users(&self, query: &str, limit: i64) -> Result<Vec<UserSummary>> {
        let query = query.trim().to_lowercase();
        if query.chars().count() > MAX_USER_QUERY_CHARS {
            return Err(EngineError::invalid(
                "q",
                format!("a handle has at most {MAX_USER_QUERY_CHARS} characters"),
            ));
        }
        let limit = limit.clamp(1, MAX_USER_RESULTS);
        // strpos, not LIKE: '%' and '_' in the query are plain characters.
        let rows: Vec<(i64, String, DateTime<Utc>)> = if query.is_empty() {
            sqlx::query_as(
                "SELECT id, handle, created_at FROM users ORDER BY created_at DESC, id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(self.pool())
            .await?
        } else {
            sqlx::query_as(
                "SELECT id, handle, created_at FROM users WHERE strpos(handle, $1) > 0
                 ORDER BY strpos(handle, $1), handle LIMIT $2",
            )
            .bind(&query)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
        };
        Ok(rows
            .into_iter()
            .map(|(id, handle, created_at)| UserSummary {
                id,
                handle,
                created_at,
            })
            .collect())
    }
}

impl Engine {
    /// The list `handle` would get now ([`Engine::preview_for_user`]: nothing is
    /// recorded), each item with its reason and the features it was ranked on.
    pub async fn preview_user(&self, handle: &str, opts: &RecommendOptions) -> Result<UserPreview> {
        let user = self.user_by_handle(handle, false).await?;
        let (created_at,): (DateTime<Utc>,) =
            sqlx::query_as("SELECT created_at FROM users WHERE id = $1")
                .bind(user.id)
                .fetch_one(self.pool())
                .await?;
        let profile = self.load_profile(user.id).await?;
        let list = self.preview_for_user(user.id, opts).await?;
        let mut features: std::collections::HashMap<String, Features> = self
            .candidate_features_for_user(user.id, opts)
            .await?
            .into_iter()
            .collect();
        let items = list
            .items
            .into_iter()
            .map(|r| PreviewItem {
                features: features.remove(&r.item.external_id),
                recommendation: r,
            })
            .collect();
        Ok(UserPreview {
            user: UserSummary {
                id: user.id,
                handle: user.handle,
                created_at,
            },
            profile,
            items,
            warning: list.warning,
        })
    }
}
