//! Embedding drift: is what users ask for moving away from what the catalog holds?
//!
//! Three signals, each comparing a recent window with a reference window:
//! - the centroid of recent query vectors (profiles and API queries, stored on
//!   every impression) against the centroid of the reference window's queries;
//! - the centroid of newly imported items against the catalog as it was before;
//! - the mean top-1 similarity per day: when it falls, the best match users get
//!   is getting worse, i.e. the catalog no longer covers what they ask for.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::metrics::RateDrift;
use crate::Engine;

/// Windows and thresholds of drift monitoring (server flags `--drift-*`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftSettings {
    /// Length of the recent window, in days.
    pub recent_days: i64,
    /// Length of the reference window just before it, in days.
    pub reference_days: i64,
    /// Interaction-rate alert when the two-proportion z is below −this (1.645 = one-sided 5 %).
    pub rate_z: f64,
    /// Alert when the cosine distance between two centroids exceeds this.
    pub centroid_shift: f64,
    /// Alert when the mean top-1 similarity drops by more than this (absolute).
    pub top1_drop: f64,
    /// Fewest vectors (or impressions) per window before a signal is judged.
    pub min_samples: i64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl DriftSettings {
    /// The defaults, also the server's `SEMREC_DRIFT_*` defaults.
    pub const DEFAULT: Self = Self {
        recent_days: 7,
        reference_days: 28,
        rate_z: 1.645,
        centroid_shift: 0.15,
        top1_drop: 0.05,
        min_samples: 20,
    };

    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(EngineError::invalid("", m));
        if self.recent_days < 1 || self.reference_days < 1 {
            return bad("drift windows must be at least one day long");
        }
        if !(self.rate_z > 0.0 && self.centroid_shift > 0.0 && self.top1_drop > 0.0) {
            return bad("drift thresholds must be positive");
        }
        if self.min_samples < 1 {
            return bad("drift min_samples must be at least 1");
        }
        Ok(())
    }
}

/// Centroid of a recent set of vectors against a reference set.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CentroidShift {
    pub recent_count: i64,
    pub reference_count: i64,
    /// Cosine distance between the two centroids; None when a window has no vectors.
    pub distance: Option<f64>,
    /// Both windows hold at least `min_samples` vectors.
    pub judged: bool,
    pub alert: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DailySimilarity {
    pub day: NaiveDate,
    /// Mean cosine similarity of the first item of each list served that day.
    pub mean_top1: f64,
    pub lists: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Top1Trend {
    pub daily: Vec<DailySimilarity>,
    pub recent_mean: Option<f64>,
    pub reference_mean: Option<f64>,
    pub recent_lists: i64,
    pub reference_lists: i64,
    /// Least-squares slope of the daily means, per day (negative = falling).
    pub slope_per_day: Option<f64>,
    pub judged: bool,
    pub alert: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftSignal {
    InteractionRate,
    QueryCentroid,
    ItemCentroid,
    Top1Similarity,
}

/// One raised alert, with a sentence an admin can act on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DriftAlert {
    pub signal: DriftSignal,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingDrift {
    pub recent_days: i64,
    pub reference_days: i64,
    pub queries: CentroidShift,
    pub items: CentroidShift,
    pub top1: Top1Trend,
}

/// Every drift signal at one moment and the alerts they raise: the dashboard's
/// drift panel and `/api/v1/metrics/drift` show the same thing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DriftState {
    pub now: DateTime<Utc>,
    pub rate: RateDrift,
    pub embedding: EmbeddingDrift,
    /// Raised alerts, interaction rate first.
    pub alerts: Vec<DriftAlert>,
}

/// Impressions whose query vector came from what users asked for (not "similar to item").
const QUERY_CONTEXTS: &str = "context IN ('profile', 'api')";

/// Least-squares slope of `ys` over `xs`; None with fewer than two distinct xs.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    Some(sxy / sxx)
}

impl Engine {
    /// Interaction-rate and embedding drift at `now` over the given windows,
    /// with the configured thresholds, and the alerts they raise.
    pub async fn drift_state(
        &self,
        now: DateTime<Utc>,
        recent_days: i64,
        reference_days: i64,
    ) -> Result<DriftState> {
        let settings = DriftSettings {
            recent_days,
            reference_days,
            ..self.settings.drift.clone()
        };
        settings.validate()?;
        let rate = self.rate_drift(now, recent_days, reference_days).await?;
        let embedding = self.embedding_drift_with(now, &settings).await?;
        let alerts = rate
            .raised_alert()
            .into_iter()
            .chain(embedding.alerts())
            .collect();
        Ok(DriftState {
            now,
            rate,
            embedding,
            alerts,
        })
    }

    /// Embedding drift at `now` with the configured windows and thresholds.
    pub async fn embedding_drift(&self, now: DateTime<Utc>) -> Result<EmbeddingDrift> {
        self.embedding_drift_with(now, &self.settings.drift).await
    }

    /// Embedding drift at `now` with the given windows and thresholds.
    pub async fn embedding_drift_with(
        &self,
        now: DateTime<Utc>,
        s: &DriftSettings,
    ) -> Result<EmbeddingDrift> {
        s.validate()?;
        self.flush_impressions().await?;
        let split = now - Duration::days(s.recent_days);
        let start = split - Duration::days(s.reference_days);
        let model = self.model_id();

        let (rq, fq, dq): (i64, i64, Option<f64>) = sqlx::query_as(&format!(
            "WITH r AS (SELECT query_embedding AS v FROM impressions
                         WHERE {QUERY_CONTEXTS} AND model_id = $1 AND query_embedding IS NOT NULL
                           AND created_at >= $3 AND created_at < $4),
                  f AS (SELECT query_embedding AS v FROM impressions
                         WHERE {QUERY_CONTEXTS} AND model_id = $1 AND query_embedding IS NOT NULL
                           AND created_at >= $2 AND created_at < $3)
             SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM f),
                    ((SELECT avg(v) FROM r) <=> (SELECT avg(v) FROM f))::float8"
        ))
        .bind(model)
        .bind(start)
        .bind(split)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        let queries = shift(rq, fq, dq, s);

        // New items against the catalog as it stood before the recent window.
        let (ri, fi, di): (i64, i64, Option<f64>) = sqlx::query_as(
            "WITH r AS (SELECT embedding AS v FROM items
                         WHERE model_id = $1 AND created_at >= $2 AND created_at < $3),
                  f AS (SELECT embedding AS v FROM items WHERE model_id = $1 AND created_at < $2)
             SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM f),
                    ((SELECT avg(v) FROM r) <=> (SELECT avg(v) FROM f))::float8",
        )
        .bind(model)
        .bind(split)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        let items = shift(ri, fi, di, s);

        let daily: Vec<(NaiveDate, f64, i64)> = sqlx::query_as(&format!(
            "SELECT (im.created_at AT TIME ZONE 'UTC')::date AS day, avg(ii.score)::float8, count(*)
               FROM impressions im JOIN impression_items ii ON ii.impression_id = im.id AND ii.rank = 1
              WHERE im.{QUERY_CONTEXTS} AND im.model_id = $1 AND im.created_at >= $2 AND im.created_at < $3
              GROUP BY day ORDER BY day"
        ))
        .bind(model)
        .bind(start)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let split_day = split.date_naive();
        let window = |recent: bool| {
            let (sum, n) = daily
                .iter()
                // A day that straddles the split counts as recent.
                .filter(|d| (d.0 >= split_day) == recent)
                .fold((0.0, 0), |(s, n), d| (s + d.1 * d.2 as f64, n + d.2));
            (n, (n > 0).then(|| sum / n as f64))
        };
        let (recent_lists, recent_mean) = window(true);
        let (reference_lists, reference_mean) = window(false);
        let first = daily.first().map(|d| d.0);
        let points: Vec<(f64, f64)> = daily
            .iter()
            .map(|d| ((d.0 - first.unwrap_or(d.0)).num_days() as f64, d.1))
            .collect();
        let judged = recent_lists >= s.min_samples && reference_lists >= s.min_samples;
        let alert = judged
            && matches!((recent_mean, reference_mean), (Some(r), Some(f)) if f - r > s.top1_drop);
        let top1 = Top1Trend {
            daily: daily
                .into_iter()
                .map(|(day, mean_top1, lists)| DailySimilarity {
                    day,
                    mean_top1,
                    lists,
                })
                .collect(),
            recent_mean,
            reference_mean,
            recent_lists,
            reference_lists,
            slope_per_day: slope(&points),
            judged,
            alert,
        };
        Ok(EmbeddingDrift {
            recent_days: s.recent_days,
            reference_days: s.reference_days,
            queries,
            items,
            top1,
        })
    }
}

fn shift(recent: i64, reference: i64, distance: Option<f64>, s: &DriftSettings) -> CentroidShift {
    // A zero centroid makes the cosine distance NaN: treat it as unknown.
    let distance = distance.filter(|d| d.is_finite());
    let judged = recent >= s.min_samples && reference >= s.min_samples && distance.is_some();
    CentroidShift {
        recent_count: recent,
        reference_count: reference,
        distance,
        judged,
        alert: judged && distance.is_some_and(|d| d > s.centroid_shift),
    }
}

impl EmbeddingDrift {
    /// The alerts raised by the embedding signals, worded for the dashboard and the API.
    pub fn alerts(&self) -> Vec<DriftAlert> {
        let mut out = Vec::new();
        if self.queries.alert {
            out.push(DriftAlert {
                signal: DriftSignal::QueryCentroid,
                message: format!(
                    "What users ask for has shifted: the centroid of the last {} days' queries is {:.3} (cosine distance) from the previous {} days'.",
                    self.recent_days,
                    self.queries.distance.unwrap_or_default(),
                    self.reference_days
                ),
            });
        }
        if self.items.alert {
            out.push(DriftAlert {
                signal: DriftSignal::ItemCentroid,
                message: format!(
                    "Newly imported items differ from the catalog: their centroid is {:.3} (cosine distance) from the existing items'.",
                    self.items.distance.unwrap_or_default()
                ),
            });
        }
        if self.top1.alert {
            out.push(DriftAlert {
                signal: DriftSignal::Top1Similarity,
                message: format!(
                    "The best match per list got worse: mean top-1 similarity {:.3} in the last {} days vs {:.3} before. The catalog may no longer cover what users ask for.",
                    self.top1.recent_mean.unwrap_or_default(),
                    self.recent_days,
                    self.top1.reference_mean.unwrap_or_default()
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_falling_line_is_negative_and_degenerate_input_has_none() {
        let s = slope(&[(0.0, 0.8), (1.0, 0.7), (2.0, 0.6)]).unwrap();
        assert!((s + 0.1).abs() < 1e-12);
        assert_eq!(slope(&[(0.0, 0.5)]), None);
        assert_eq!(slope(&[(1.0, 0.5), (1.0, 0.6)]), None);
    }

    #[test]
    fn a_shift_is_only_judged_with_enough_samples() {
        let s = DriftSettings {
            min_samples: 5,
            ..Default::default()
        };
        assert!(shift(10, 10, Some(0.3), &s).alert);
        assert!(!shift(10, 10, Some(0.1), &s).alert);
        let few = shift(4, 10, Some(0.9), &s);
        assert!(!few.judged && !few.alert);
        assert!(!shift(10, 10, Some(f64::NAN), &s).judged);
    }

    #[test]
    fn settings_are_validated() {
        assert!(DriftSettings::default().validate().is_ok());
        assert!(DriftSettings {
            recent_days: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(DriftSettings {
            top1_drop: -1.0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
