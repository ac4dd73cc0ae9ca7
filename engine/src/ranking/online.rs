//! The learned ranker online. Served lists log every shown item's features and the
//! version of the model that ranked them; `semrec train` fits a new model to the
//! logged lists that got clicks ([`training::coordinate_ascent`]) and activates it
//! only if it beats the serving model on the latest lists. Models are versioned
//! in `ranker_models`.
//!
//! A newly activated model is a canary for a while: it ranks the lists of a share of
//! the users (by a stable hash of the user), the model before it ranks the others,
//! so the dashboard's per-version interaction rates compare like with like. Then
//! it ranks everyone's.
//!
//! Both checks are on logged lists: the clicks were on what the serving model put
//! on top (position bias), which favours the serving model. A new model has to be
//! clearly better to pass, which is the safe side.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fusion::{Features, FusionWeights};
use super::training::{coordinate_ascent, mean_ndcg, TrainingList};
use crate::error::{EngineError, Result};
use crate::Engine;

/// Clicks on logged lists needed before a model is trained.
pub const DEFAULT_MIN_CLICKS: usize = 1_000;
/// Share of users a new model ranks for while it is a canary.
pub const DEFAULT_CANARY_SHARE: f32 = 0.1;
/// How long a new model stays a canary.
pub const DEFAULT_CANARY_DAYS: f32 = 7.0;
/// The latest share of the logged lists the new model is checked on (it is fitted
/// on the earlier ones).
pub const CHECK_SHARE: f64 = 0.2;
/// Most logged lists read for one training (the latest).
pub const MAX_TRAINING_LISTS: i64 = 200_000;
/// How long a process serves from the models it last read.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// The advisory lock that keeps two trainings from running at once.
const TRAINING_LOCK: i64 = 0x7365_6d72_6563_7472; // "semrectr"

#[derive(Clone, Debug, PartialEq)]
pub struct OnlineSettings {
    /// Clicks needed before training (`SEMREC_RANKER_MIN_CLICKS`).
    pub min_clicks: usize,
    /// Share of users a new model ranks for while a canary (`SEMREC_RANKER_CANARY`);
    /// 1 = everyone at once.
    pub canary_share: f32,
    /// Days a new model stays a canary (`SEMREC_RANKER_CANARY_DAYS`).
    pub canary_days: f32,
}

impl Default for OnlineSettings {
    fn default() -> Self {
        Self {
            min_clicks: DEFAULT_MIN_CLICKS,
            canary_share: DEFAULT_CANARY_SHARE,
            canary_days: DEFAULT_CANARY_DAYS,
        }
    }
}

/// One stored, activated model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankerModel {
    pub version: i32,
    pub weights: FusionWeights,
    pub activated_at: DateTime<Utc>,
}

/// What one training found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainingReport {
    /// Logged lists with a click: fitted on / checked on.
    pub lists_fitted: usize,
    pub lists_checked: usize,
    pub clicks: usize,
    pub weights: FusionWeights,
    /// Mean nDCG@10 of the clicked items on the checked lists, reordered by the new
    /// model and by the serving one.
    pub new_ndcg: f64,
    pub serving_ndcg: f64,
    /// The serving model's version (`None`: the settings' weights).
    pub serving_version: Option<i32>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TrainingOutcome {
    NotEnoughClicks {
        clicks: usize,
        needed: usize,
    },
    /// Stored and activated as this version.
    Activated {
        version: i32,
        report: TrainingReport,
    },
    /// Stored as this version, not activated: it did not beat the serving model.
    Rejected {
        version: i32,
        report: TrainingReport,
    },
}

/// When the models were read, and the models.
type Read = Option<(Instant, Vec<RankerModel>)>;

/// The activated models a process last read, newest first.
#[derive(Clone, Default)]
pub struct RankerCache {
    inner: Arc<Mutex<Read>>,
}

impl RankerCache {
    fn get(&self) -> Option<Vec<RankerModel>> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, m)| m.clone())
    }

    fn put(&self, models: Vec<RankerModel>) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), models));
    }

    /// Forgets what was read: the next list reads the models again.
    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Whether `user_key`'s lists come from the canary model: a stable hash of the key,
/// as a fraction of 2^64, below `share`.
pub fn in_canary(user_key: &str, share: f32) -> bool {
    let h = crate::rules::exploration::seed(user_key, 0);
    (h as f64 / u64::MAX as f64) < f64::from(share)
}

/// `base` with the model's weights, except that a channel the settings switch off
/// (weight 0) stays off.
pub fn with_weights(base: &crate::EngineSettings, w: &FusionWeights) -> crate::EngineSettings {
    let keep = |configured: f32, learned: f32| if configured > 0.0 { learned } else { 0.0 };
    crate::EngineSettings {
        popularity_weight: keep(base.popularity_weight, w.popularity),
        collaborative_weight: keep(base.collaborative_weight, w.collaborative),
        lexical_weight: keep(base.lexical_weight, w.lexical),
        semantic_mean_weight: keep(base.semantic_mean_weight, w.semantic_mean),
        // Not a channel that can be off: the item's interaction count is always known.
        scarcity_weight: w.scarcity,
        ..base.clone()
    }
}

/// The settings' weights as a model.
fn configured(s: &crate::EngineSettings) -> FusionWeights {
    FusionWeights {
        popularity: s.popularity_weight,
        collaborative: s.collaborative_weight,
        lexical: s.lexical_weight,
        semantic_mean: s.semantic_mean_weight,
        scarcity: s.scarcity_weight,
    }
}

#[derive(sqlx::FromRow)]
struct LoggedRow {
    impression_id: uuid::Uuid,
    f_semantic: f32,
    f_semantic_mean: f32,
    f_lexical: f32,
    f_collaborative: f32,
    f_popularity: f32,
    f_scarcity: f32,
    clicked: bool,
}

impl Engine {
    /// The two most recently activated models, newest first (cached for a while).
    pub async fn activated_rankers(&self) -> Result<Vec<RankerModel>> {
        if let Some(m) = self.rankers.get() {
            return Ok(m);
        }
        let rows: Vec<(i32, sqlx::types::Json<FusionWeights>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT version, weights, activated_at FROM ranker_models
             WHERE activated_at IS NOT NULL ORDER BY activated_at DESC, version DESC LIMIT 2",
        )
        .fetch_all(self.pool())
        .await?;
        let models: Vec<RankerModel> = rows
            .into_iter()
            .map(|(version, w, activated_at)| RankerModel {
                version,
                weights: w.0,
                activated_at,
            })
            .collect();
        self.rankers.put(models.clone());
        Ok(models)
    }

    /// The model that ranks `user_key`'s lists: the newest, unless it is still a
    /// canary and the user is not in its share (then the one before it). `None`:
    /// the settings' weights.
    pub async fn ranker_for(&self, user_key: &str) -> Result<Option<RankerModel>> {
        let models = self.activated_rankers().await?;
        let share = self.settings.online.canary_share;
        Ok(self.serving_model(&models, in_canary(user_key, share)))
    }

    /// Of `models` (newest first), the one that ranks for a user in the canary share
    /// or not.
    fn serving_model(&self, models: &[RankerModel], user_in_canary: bool) -> Option<RankerModel> {
        let newest = models.first()?;
        if self.canary_active(newest) && !user_in_canary {
            return models.get(1).cloned();
        }
        Some(newest.clone())
    }

    /// Fits a model to the logged lists that got clicks and activates it if it beats
    /// the serving model (the one non-canary users get) on the latest of them.
    /// Stored either way, with its report. One training at a time.
    pub async fn train_ranker(&self) -> Result<TrainingOutcome> {
        self.flush_impressions().await?;
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(TRAINING_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Err(EngineError::Conflict(
                "another training of the ranker is running".into(),
            ));
        }
        let lists = self.logged_lists().await?;
        let clicks: usize = lists
            .iter()
            .map(|l| l.relevant.iter().filter(|&&r| r).count())
            .sum();
        let needed = self.settings.online.min_clicks;
        if clicks < needed {
            return Ok(TrainingOutcome::NotEnoughClicks { clicks, needed });
        }
        let check = ((lists.len() as f64 * CHECK_SHARE).ceil() as usize).clamp(1, lists.len());
        let (fit, checked) = lists.split_at(lists.len() - check);
        let weights = coordinate_ascent(fit);
        self.rankers.clear();
        let models = self.activated_rankers().await?;
        // What the users outside a canary get now.
        let serving = self.serving_model(&models, false);
        let serving_weights = serving
            .as_ref()
            .map_or_else(|| configured(&self.settings), |m| m.weights);
        let report = TrainingReport {
            lists_fitted: fit.len(),
            lists_checked: checked.len(),
            clicks,
            weights,
            new_ndcg: mean_ndcg(checked, &weights),
            serving_ndcg: mean_ndcg(checked, &serving_weights),
            serving_version: serving.map(|m| m.version),
        };
        let activate = report.new_ndcg > report.serving_ndcg + 1e-9;
        let version: i32 = sqlx::query_scalar(
            "INSERT INTO ranker_models (weights, method, report, activated_at)
             VALUES ($1, 'coordinate ascent on nDCG@10', $2, CASE WHEN $3 THEN now() END)
             RETURNING version",
        )
        .bind(sqlx::types::Json(&weights))
        .bind(sqlx::types::Json(&report))
        .bind(activate)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.rankers.clear();
        tracing::info!(
            version,
            activate,
            new_ndcg = report.new_ndcg,
            serving_ndcg = report.serving_ndcg,
            "ranker trained"
        );
        Ok(if activate {
            TrainingOutcome::Activated { version, report }
        } else {
            TrainingOutcome::Rejected { version, report }
        })
    }

    fn canary_active(&self, m: &RankerModel) -> bool {
        let days = self.settings.online.canary_days;
        self.settings.online.canary_share < 1.0
            && Utc::now() < m.activated_at + chrono::Duration::seconds((days * 86_400.0) as i64)
    }

    /// The latest logged lists with at least one click, oldest first, each in its
    /// shown order.
    async fn logged_lists(&self) -> Result<Vec<TrainingList>> {
        let rows: Vec<LoggedRow> = sqlx::query_as(
            "WITH lists AS (
                 SELECT im.id, im.created_at FROM impressions im
                 WHERE EXISTS (SELECT 1 FROM clicks c WHERE c.impression_id = im.id)
                   AND EXISTS (SELECT 1 FROM impression_items ii
                               WHERE ii.impression_id = im.id AND ii.f_semantic IS NOT NULL)
                 ORDER BY im.created_at DESC LIMIT $1)
             SELECT ii.impression_id, ii.f_semantic, ii.f_semantic_mean, ii.f_lexical,
                    ii.f_collaborative, ii.f_popularity, ii.f_scarcity,
                    EXISTS (SELECT 1 FROM clicks c WHERE c.impression_id = ii.impression_id
                                                     AND c.item_id = ii.item_id) AS clicked
             FROM lists l JOIN impression_items ii ON ii.impression_id = l.id
             WHERE ii.f_semantic IS NOT NULL AND ii.f_semantic_mean IS NOT NULL
               AND ii.f_lexical IS NOT NULL AND ii.f_collaborative IS NOT NULL
               AND ii.f_popularity IS NOT NULL AND ii.f_scarcity IS NOT NULL
             ORDER BY l.created_at, l.id, ii.rank",
        )
        .bind(MAX_TRAINING_LISTS)
        .fetch_all(self.jobs_pool())
        .await?;
        let mut lists: Vec<TrainingList> = Vec::new();
        let mut current = None;
        for r in rows {
            if current != Some(r.impression_id) {
                current = Some(r.impression_id);
                lists.push(TrainingList::default());
            }
            if let Some(l) = lists.last_mut() {
                l.features.push(Features {
                    semantic: r.f_semantic,
                    semantic_mean: r.f_semantic_mean,
                    lexical: r.f_lexical,
                    collaborative: r.f_collaborative,
                    popularity: r.f_popularity,
                    scarcity: r.f_scarcity,
                });
                l.relevant.push(r.clicked);
            }
        }
        lists.retain(|l| l.relevant.iter().any(|&r| r));
        Ok(lists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_share_is_a_stable_share_of_users() {
        let n = 10_000;
        let inside = (0..n).filter(|u| in_canary(&u.to_string(), 0.1)).count();
        assert!((800..1200).contains(&inside), "{inside}");
        assert_eq!(in_canary("42", 0.1), in_canary("42", 0.1));
        assert!((0..100).all(|u| in_canary(&u.to_string(), 1.0)));
        assert!((0..100).all(|u| !in_canary(&u.to_string(), 0.0)));
    }

    #[test]
    fn a_channel_switched_off_stays_off_under_a_learned_model() {
        let base = crate::EngineSettings {
            lexical_weight: 0.0,
            popularity_weight: 0.05,
            ..Default::default()
        };
        let w = FusionWeights {
            popularity: 0.2,
            collaborative: 1.3,
            lexical: 0.5,
            semantic_mean: 0.4,
            scarcity: 0.3,
        };
        let s = with_weights(&base, &w);
        assert_eq!(s.lexical_weight, 0.0);
        assert_eq!(s.collaborative_weight, 1.3);
        assert_eq!(s.popularity_weight, 0.2);
        assert_eq!(s.semantic_mean_weight, 0.4);
        assert_eq!(s.scarcity_weight, 0.3);
    }
}
