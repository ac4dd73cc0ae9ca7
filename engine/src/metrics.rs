//! Interaction metrics, all computed in SQL from impressions and clicks.
//!
//! Interaction rate = clicked shown items / shown items. The per-user variant
//! averages each user's own rate (as Gorse does), so heavy users don't dominate.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::drift::{DriftAlert, DriftSignal, EmbeddingDrift};
use crate::error::Result;
use crate::Engine;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Overview {
    /// Lists served.
    pub impressions: i64,
    /// Items shown across all lists.
    pub shown: i64,
    pub clicks: i64,
    pub interaction_rate: f64,
    /// Mean over users (with at least one shown item) of their own rate.
    pub per_user_rate: f64,
    pub users: i64,
    /// Share of the catalog recommended at least once.
    pub coverage: f64,
    pub catalog_size: i64,
    pub model_id: String,
    /// Share of query-embedding lookups the cache answered since the process
    /// started (not windowed); `None` before the first lookup.
    #[serde(default)]
    pub embedding_cache_hit_rate: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Rate {
    pub key: String,
    pub shown: i64,
    pub clicked: i64,
    pub rate: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DailyRate {
    pub day: NaiveDate,
    pub shown: i64,
    pub clicked: i64,
    pub rate: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ItemCount {
    pub external_id: String,
    pub title: String,
    pub shown: i64,
    pub clicked: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Dashboard {
    pub overview: Overview,
    pub daily: Vec<DailyRate>,
    pub by_source: Vec<Rate>,
    pub by_language: Vec<Rate>,
    pub by_rank: Vec<Rate>,
    /// Per surface: `profile` (a profile's list), `similar` ("more like this"),
    /// `api` (lists another front end ranked and reported).
    pub by_surface: Vec<Rate>,
    /// Per learned-ranker model that ranked the lists ("shipped": the build's
    /// weights): a new model's canary share beside the model before it.
    pub by_ranker: Vec<Rate>,
    pub top_clicked: Vec<ItemCount>,
    pub never_clicked: Vec<ItemCount>,
    pub drift: RateDrift,
    pub embedding_drift: EmbeddingDrift,
    /// Every raised drift alert (interaction rate and embeddings).
    pub alerts: Vec<DriftAlert>,
}

/// Interaction-rate drift: a recent window against the reference window before it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RateDrift {
    pub recent_days: i64,
    pub reference_days: i64,
    pub recent: Rate,
    pub reference: Rate,
    /// Two-proportion z statistic (recent − reference); None when a window is empty.
    pub z: Option<f64>,
    /// True when the recent rate is significantly lower (one-sided; z below −`DriftSettings::rate_z`).
    pub alert: bool,
}

impl RateDrift {
    /// The alert this signal raises, if any, worded for the dashboard and the API.
    pub fn raised_alert(&self) -> Option<DriftAlert> {
        self.alert.then(|| DriftAlert {
            signal: DriftSignal::InteractionRate,
            message: format!(
                "The interaction rate dropped significantly: {:.1}% in the last {} days vs {:.1}% in the {} days before (z = {:.2}).",
                self.recent.rate * 100.0,
                self.recent_days,
                self.reference.rate * 100.0,
                self.reference_days,
                self.z.unwrap_or_default()
            ),
        })
    }
}

fn rate(shown: i64, clicked: i64) -> f64 {
    if shown == 0 {
        0.0
    } else {
        clicked as f64 / shown as f64
    }
}

/// Two-proportion z-test statistic with pooled variance.
pub fn two_proportion_z(x1: i64, n1: i64, x2: i64, n2: i64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let p = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return Some(0.0);
    }
    Some((p1 - p2) / se)
}

/// Shown items joined with whether they were clicked, limited to a time window.
const SHOWN: &str = "SELECT ii.item_id, ii.rank, im.user_id, im.created_at, im.ranker_version, im.context,
        EXISTS (SELECT 1 FROM clicks c WHERE c.impression_id = ii.impression_id AND c.item_id = ii.item_id) AS clicked
   FROM impression_items ii JOIN impressions im ON im.id = ii.impression_id
  WHERE im.created_at >= $1 AND im.created_at < $2";

impl Engine {
    /// Everything the admin dashboard shows for the window [from, to).
    pub async fn dashboard(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Dashboard> {
        // Counts are exact: lists served so far count, queued or not. (On a
        // replica, up to SEMREC_REPLICA_MAX_LAG_BYTES of WAL later.)
        self.flush_impressions().await?;
        self.on_read_pool(|pool| async move { self.dashboard_on(&pool, from, to).await })
            .await
    }

    async fn dashboard_on(
        &self,
        pool: &sqlx::PgPool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Dashboard> {
        let (impressions,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM impressions WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
        let (shown, clicks, users, per_user_rate, recommended): (i64, i64, i64, Option<f64>, i64) = sqlx::query_as(
            &format!(
                "WITH s AS ({SHOWN}),
                      u AS (SELECT user_id, avg(clicked::int)::float8 AS r FROM s WHERE user_id IS NOT NULL GROUP BY user_id)
                 SELECT (SELECT count(*) FROM s), (SELECT count(*) FILTER (WHERE clicked) FROM s),
                        (SELECT count(*) FROM u), (SELECT avg(r) FROM u),
                        (SELECT count(DISTINCT item_id) FROM s)"
            ),
        )
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
        let catalog_size = self.catalog_size().await?;
        let overview = Overview {
            impressions,
            shown,
            clicks,
            interaction_rate: rate(shown, clicks),
            per_user_rate: per_user_rate.unwrap_or(0.0),
            users,
            coverage: if catalog_size == 0 {
                0.0
            } else {
                recommended as f64 / catalog_size as f64
            },
            catalog_size,
            model_id: self.model_id().to_string(),
            embedding_cache_hit_rate: self.embed_cache.stats().hit_rate(),
        };

        let daily: Vec<(NaiveDate, i64, i64)> = sqlx::query_as(&format!(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*), count(*) FILTER (WHERE clicked)
               FROM ({SHOWN}) s GROUP BY day ORDER BY day"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        let daily = daily
            .into_iter()
            .map(|(day, shown, clicked)| DailyRate {
                day,
                shown,
                clicked,
                rate: rate(shown, clicked),
            })
            .collect();

        let breakdown = |key: &'static str| {
            let sql = format!(
                "SELECT {key}::text AS k, count(*), count(*) FILTER (WHERE clicked)
                   FROM ({SHOWN}) s JOIN items i ON i.id = s.item_id GROUP BY k ORDER BY min(s.rank), k"
            );
            async move {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(&sql)
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await?;
                Ok::<_, crate::EngineError>(
                    rows.into_iter()
                        .map(|(key, shown, clicked)| Rate {
                            key,
                            shown,
                            clicked,
                            rate: rate(shown, clicked),
                        })
                        .collect::<Vec<_>>(),
                )
            }
        };
        let by_source = breakdown("i.source").await?;
        let by_language = breakdown("i.language").await?;
        let by_rank = breakdown("s.rank").await?;
        // profile: a profile's list (web home page, API); similar: "more like this";
        // api: lists another front end ranked and reported.
        let by_surface = breakdown("s.context").await?;
        let by_ranker = breakdown("coalesce('model ' || s.ranker_version, 'shipped')").await?;

        let item_counts = |order: &'static str, having: &'static str| {
            let sql = format!(
                "SELECT i.external_id, i.title, count(*), count(*) FILTER (WHERE clicked)
                   FROM ({SHOWN}) s JOIN items i ON i.id = s.item_id
                  GROUP BY i.id {having} ORDER BY {order} LIMIT 10"
            );
            async move {
                let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(&sql)
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await?;
                Ok::<_, crate::EngineError>(
                    rows.into_iter()
                        .map(|(external_id, title, shown, clicked)| ItemCount {
                            external_id,
                            title,
                            shown,
                            clicked,
                        })
                        .collect::<Vec<_>>(),
                )
            }
        };
        let top_clicked = item_counts(
            "4 DESC, 3 DESC, i.id",
            "HAVING count(*) FILTER (WHERE clicked) > 0",
        )
        .await?;
        let never_clicked =
            item_counts("3 DESC, i.id", "HAVING count(*) FILTER (WHERE clicked) = 0").await?;
        let settings = &self.settings.drift;
        let drift = self
            .drift_state(to, settings.recent_days, settings.reference_days)
            .await?;
        Ok(Dashboard {
            overview,
            daily,
            by_source,
            by_language,
            by_rank,
            by_surface,
            by_ranker,
            top_clicked,
            never_clicked,
            drift: drift.rate,
            embedding_drift: drift.embedding,
            alerts: drift.alerts,
        })
    }

    /// Compares the interaction rate of the last `recent_days` before `now`
    /// with the `reference_days` before that.
    pub async fn rate_drift(
        &self,
        now: DateTime<Utc>,
        recent_days: i64,
        reference_days: i64,
    ) -> Result<RateDrift> {
        self.flush_impressions().await?;
        let split = now - chrono::Duration::days(recent_days);
        let start = split - chrono::Duration::days(reference_days);
        let window = |from: DateTime<Utc>, to: DateTime<Utc>, key: &'static str| async move {
            let (shown, clicked): (i64, i64) = sqlx::query_as(&format!(
                "SELECT count(*), count(*) FILTER (WHERE clicked) FROM ({SHOWN}) s"
            ))
            .bind(from)
            .bind(to)
            .fetch_one(self.pool())
            .await?;
            Ok::<_, crate::EngineError>(Rate {
                key: key.into(),
                shown,
                clicked,
                rate: rate(shown, clicked),
            })
        };
        let recent = window(split, now, "recent").await?;
        let reference = window(start, split, "reference").await?;
        let z = two_proportion_z(
            recent.clicked,
            recent.shown,
            reference.clicked,
            reference.shown,
        );
        Ok(RateDrift {
            recent_days,
            reference_days,
            alert: z.is_some_and(|z| z < -self.settings.drift.rate_z),
            recent,
            reference,
            z,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_proportion_z_matches_a_hand_computation() {
        // p1 = 0.1 (10/100), p2 = 0.2 (40/200); pooled p = 50/300.
        let p: f64 = 50.0 / 300.0;
        let se = (p * (1.0 - p) * (1.0 / 100.0 + 1.0 / 200.0)).sqrt();
        let z = two_proportion_z(10, 100, 40, 200).unwrap();
        assert!((z - (0.1 - 0.2) / se).abs() < 1e-12);
        assert!(z < -1.645);
        assert_eq!(two_proportion_z(0, 0, 1, 10), None);
    }
}
