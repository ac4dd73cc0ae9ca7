//! The collaborative model in the database: fitted from the stored interactions (with
//! the profiles' picked history and the clicks of known users), in the background,
//! and kept as top-N neighbours per item in `item_neighbours`, which the collaborative
//! channel of the recommend path reads.

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::collaborative::{ease, knn, lambda, CollaborativeError, Interactions, Neighbours};
use crate::error::{EngineError, Result};
use crate::Engine;

/// EASE's ridge λ when it cannot be chosen on the data (fewer than
/// [`lambda::MIN_USERS`] users to hold items out): the fixed value used before λ was
/// chosen.
pub const FALLBACK_EASE_LAMBDA: f64 = 250.0;
/// Default neighbourhood of item-kNN (catalogues above the EASE item limit).
pub const DEFAULT_KNN_K: usize = 100;
/// Default shrinkage of item-kNN's cosine.
pub const DEFAULT_KNN_SHRINKAGE: f64 = 10.0;
/// Default neighbours kept per item in PostgreSQL.
pub const DEFAULT_NEIGHBOURS: usize = 100;
/// Rows written per statement when the neighbours are stored.
const WRITE_CHUNK: usize = 20_000;
/// Serialises refreshes' writes across processes (any constant works; this one reads "semrec02").
const REFRESH_LOCK: i64 = 0x7365_6d72_6563_3032;

/// One fit at a time in this process: a fit holds up to two dense n × n matrices, so
/// the periodic refresh and an import's refresh must not each hold theirs at once.
static FITTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Which model learns the item–item weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// EASE up to `ease_max_items` items with interactions, item-kNN above.
    #[default]
    Auto,
    Ease,
    ItemKnn,
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "ease" => Ok(Self::Ease),
            "item_knn" | "item-knn" | "knn" => Ok(Self::ItemKnn),
            other => Err(format!(
                "unknown collaborative algorithm '{other}': use 'auto', 'ease' or 'item_knn'"
            )),
        }
    }
}

/// How the collaborative model is fitted and stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CollaborativeSettings {
    pub algorithm: Algorithm,
    /// EASE's ridge λ; `None`: chosen on each refit by holding out every user's latest
    /// interaction ([`lambda::choose`]).
    pub ease_lambda: Option<f64>,
    /// Largest catalogue (items with interactions) EASE is fitted on: its matrices are
    /// dense, 8 · n² bytes each, two at the peak.
    pub ease_max_items: usize,
    pub knn_k: usize,
    pub knn_shrinkage: f64,
    /// Neighbours stored per item.
    pub neighbours: usize,
}

impl Default for CollaborativeSettings {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Auto,
            ease_lambda: None,
            ease_max_items: ease::DEFAULT_MAX_ITEMS,
            knn_k: DEFAULT_KNN_K,
            knn_shrinkage: DEFAULT_KNN_SHRINKAGE,
            neighbours: DEFAULT_NEIGHBOURS,
        }
    }
}

/// A fitted model as recorded in `collaborative_models`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct ModelInfo {
    pub version: i64,
    pub algorithm: String,
    pub users: i32,
    pub items: i32,
    pub pairs: i64,
    pub neighbours: i64,
    pub last_interaction_id: i64,
    pub seconds: f32,
    pub fitted_at: chrono::DateTime<chrono::Utc>,
}

impl From<CollaborativeError> for EngineError {
    fn from(e: CollaborativeError) -> Self {
        match e {
            CollaborativeError::TooManyItems { .. } => EngineError::invalid("", e.to_string()),
            other => EngineError::Internal(format!("collaborative model: {other}")),
        }
    }
}

/// The (user, item) pairs a model learns from: every stored interaction but
/// dismissals, the items picked in saved profiles and the clicks of known users.
/// A user's handle is their `user_ref`, so imported and recorded behaviour join. Each
/// pair carries its latest time (microseconds since the epoch), which the choice of
/// λ holds out by.
const TRAINING_PAIRS: &str = "
    SELECT user_ref, item_id,
           (extract(epoch FROM max(ts)) * 1000000)::int8 AS at
    FROM (SELECT user_ref, item_id, ts FROM interactions WHERE kind <> 'dismissed'
          UNION ALL
          SELECT u.handle, h.item_id, h.consumed_at FROM profile_history h
          JOIN users u ON u.id = h.user_id WHERE h.item_id IS NOT NULL
          UNION ALL
          SELECT u.handle, c.item_id, c.created_at FROM clicks c
          JOIN impressions im ON im.id = c.impression_id JOIN users u ON u.id = im.user_id
         ) pairs
    GROUP BY user_ref, item_id";

impl Engine {
    /// Fits the collaborative model on what is stored now and replaces the stored
    /// neighbours with its top N per item. `None` when there is nothing to learn from.
    /// The fit runs on a blocking thread; progress goes to the log.
    pub async fn refresh_collaborative(&self) -> Result<Option<ModelInfo>> {
        let _one_at_a_time = FITTING.lock().await;
        let started = Instant::now();
        let s = self.settings.collaborative.clone();
        let last_id: i64 =
            sqlx::query_scalar("SELECT COALESCE(max(id), 0)::int8 FROM interactions")
                .fetch_one(self.jobs_pool())
                .await?;
        // The jobs pool, as every background job: at 1M interactions reading the pairs
        // alone takes longer than a request's statement_timeout (5 s by default).
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(TRAINING_PAIRS)
            .fetch_all(self.jobs_pool())
            .await?;
        let mut users: HashMap<String, u32> = HashMap::new();
        let mut item_index: HashMap<i64, u32> = HashMap::new();
        let mut item_ids: Vec<i64> = Vec::new();
        let mut pairs = Vec::with_capacity(rows.len());
        for (user, item, at) in rows {
            let n = users.len() as u32;
            let u = *users.entry(user).or_insert(n);
            let i = *item_index.entry(item).or_insert_with(|| {
                item_ids.push(item);
                item_ids.len() as u32 - 1
            });
            pairs.push((u, i, at));
        }
        if pairs.is_empty() {
            tracing::info!("collaborative model: no interactions yet, nothing to fit");
            return Ok(None);
        }
        let (n_users, n_items, n_pairs) = (users.len(), item_ids.len(), pairs.len());
        drop(users);
        let use_ease = match s.algorithm {
            Algorithm::Ease => true,
            Algorithm::ItemKnn => false,
            Algorithm::Auto => n_items <= s.ease_max_items,
        };
        let algorithm = if use_ease { "ease" } else { "item_knn" };
        tracing::info!(
            algorithm,
            users = n_users,
            items = n_items,
            pairs = n_pairs,
            "collaborative model: fitting"
        );
        let fit_settings = s.clone();
        let (neighbours, lambda): (Neighbours, Option<f64>) =
            tokio::task::spawn_blocking(move || {
                let x = Interactions::new(
                    n_users,
                    n_items,
                    pairs.iter().map(|&(u, i, _)| (u, i, 1.0f32)),
                )?;
                if use_ease {
                    let lambda = match fit_settings.ease_lambda {
                        Some(l) => l,
                        None => {
                            chosen_lambda(n_users, n_items, &pairs, fit_settings.ease_max_items)?
                        }
                    };
                    drop(pairs);
                    let model = ease::fit(&x, lambda, fit_settings.ease_max_items)?;
                    Ok::<_, CollaborativeError>((
                        model.top_neighbours(fit_settings.neighbours),
                        Some(lambda),
                    ))
                } else {
                    let mut n = knn::fit(&x, fit_settings.knn_k, fit_settings.knn_shrinkage);
                    if fit_settings.neighbours < fit_settings.knn_k {
                        n = Neighbours::new(
                            (0..n.n_items())
                                .map(|i| {
                                    n.of(i)
                                        .iter()
                                        .take(fit_settings.neighbours)
                                        .copied()
                                        .collect()
                                })
                                .collect(),
                        );
                    }
                    Ok((n, None))
                }
            })
            .await
            .map_err(|e| EngineError::Internal(format!("collaborative fit: {e}")))??;
        let fitted = started.elapsed();
        tracing::info!(
            algorithm,
            secs = fitted.as_secs_f32(),
            neighbours = neighbours.len(),
            "collaborative model: fitted, storing the neighbours"
        );
        let params = if let Some(lambda) = lambda {
            serde_json::json!({"lambda": lambda, "chosen": s.ease_lambda.is_none(), "neighbours": s.neighbours})
        } else {
            serde_json::json!({"k": s.knn_k, "shrinkage": s.knn_shrinkage, "neighbours": s.neighbours})
        };
        let mut tx = self.jobs_pool().begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(REFRESH_LOCK)
            .execute(&mut *tx)
            .await?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO collaborative_models
                 (algorithm, params, users, items, pairs, neighbours, last_interaction_id, seconds)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0) RETURNING version",
        )
        .bind(algorithm)
        .bind(&params)
        .bind(n_users as i32)
        .bind(n_items as i32)
        .bind(n_pairs as i64)
        .bind(neighbours.len() as i64)
        .bind(last_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM item_neighbours")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(u32, u32, f32)> = neighbours.rows().collect();
        drop(neighbours);
        for chunk in rows.chunks(WRITE_CHUNK) {
            let a: Vec<i64> = chunk.iter().map(|r| item_ids[r.0 as usize]).collect();
            let b: Vec<i64> = chunk.iter().map(|r| item_ids[r.1 as usize]).collect();
            let w: Vec<f32> = chunk.iter().map(|r| r.2).collect();
            // Items deleted since the pairs were read are skipped, not an error.
            sqlx::query(
                "INSERT INTO item_neighbours (item_id, neighbour_id, weight, model_version)
                 SELECT n.a, n.b, n.w, $4 FROM unnest($1::int8[], $2::int8[], $3::real[]) AS n(a, b, w)
                 WHERE EXISTS (SELECT 1 FROM items WHERE id = n.a)
                   AND EXISTS (SELECT 1 FROM items WHERE id = n.b)",
            )
            .bind(&a)
            .bind(&b)
            .bind(&w)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
        let info: ModelInfo = sqlx::query_as(
            "UPDATE collaborative_models SET seconds = $2 WHERE version = $1
             RETURNING version, algorithm, users, items, pairs, neighbours,
                       last_interaction_id, seconds, fitted_at",
        )
        .bind(version)
        .bind(started.elapsed().as_secs_f32())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(
            version,
            algorithm,
            secs = info.seconds,
            rows = rows.len(),
            "collaborative model: stored"
        );
        Ok(Some(info))
    }

    /// The model the collaborative channel serves from, if one was fitted.
    pub async fn collaborative_model(&self) -> Result<Option<ModelInfo>> {
        Ok(sqlx::query_as(
            "SELECT version, algorithm, users, items, pairs, neighbours, last_interaction_id,
                    seconds, fitted_at
             FROM collaborative_models ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// Whether interactions arrived after the current model was fitted (or there are
    /// interactions and no model yet).
    pub async fn collaborative_is_stale(&self) -> Result<bool> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0)::int8 FROM interactions")
            .fetch_one(self.pool())
            .await?;
        Ok(match self.collaborative_model().await? {
            Some(m) => last > m.last_interaction_id,
            None => last > 0,
        })
    }
}

/// λ chosen on the pairs by holding out each user's latest item; the search's trials
/// go to the log.
fn chosen_lambda(
    n_users: usize,
    n_items: usize,
    pairs: &[(u32, u32, i64)],
    max_items: usize,
) -> std::result::Result<f64, CollaborativeError> {
    let started = Instant::now();
    let choice = lambda::choose(n_users, n_items, pairs, max_items, FALLBACK_EASE_LAMBDA)?;
    let trials: Vec<String> = choice
        .trials
        .iter()
        .map(|t| format!("{}: {:.4}", t.lambda, t.ndcg))
        .collect();
    tracing::info!(
        lambda = choice.lambda,
        held_out_users = choice.users,
        secs = started.elapsed().as_secs_f32(),
        trials = %trials.join(", "),
        "collaborative model: EASE's λ chosen by held-out nDCG@10"
    );
    Ok(choice.lambda)
}
