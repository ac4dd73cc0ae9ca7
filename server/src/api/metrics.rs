//! The admin dashboard's numbers as JSON: interaction rates overall, per day,
//! source, language and rank, coverage, top items, and drift (interaction
//! rate and embeddings) with the alerts it raises.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use engine::Engine;
use engine::EngineError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};

/// Window of the dashboard when `from` is not given.
const DEFAULT_DAYS: i64 = 30;
const MAX_DRIFT_DAYS: i64 = 366;

#[derive(Serialize, ToSchema)]
pub struct Overview {
    /// Lists served.
    pub impressions: i64,
    /// Items shown across all lists.
    pub shown: i64,
    pub clicks: i64,
    /// Clicked shown items / shown items.
    pub interaction_rate: f64,
    /// Mean over users of their own interaction rate.
    pub per_user_rate: f64,
    pub users: i64,
    /// Share of the catalog recommended at least once.
    pub coverage: f64,
    pub catalog_size: i64,
    pub model_id: String,
    /// Share of query-embedding lookups (profile texts, search phrases) the
    /// in-process cache answered since the server started; null before the first.
    pub embedding_cache_hit_rate: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct Rate {
    pub key: String,
    pub shown: i64,
    pub clicked: i64,
    pub rate: f64,
}

#[derive(Serialize, ToSchema)]
pub struct DailyRate {
    pub day: NaiveDate,
    pub shown: i64,
    pub clicked: i64,
    pub rate: f64,
}

#[derive(Serialize, ToSchema)]
pub struct ItemCount {
    pub id: String,
    pub title: String,
    pub shown: i64,
    pub clicked: i64,
}

/// The recent interaction rate against the reference window before it.
#[derive(Serialize, ToSchema)]
pub struct RateDrift {
    pub recent_days: i64,
    pub reference_days: i64,
    pub recent: Rate,
    pub reference: Rate,
    /// Two-proportion z statistic (recent − reference); null when a window is empty.
    pub z: Option<f64>,
    /// True when the recent rate is significantly lower (z < −1.645).
    pub alert: bool,
}

/// A recent set of vectors against a reference set: how far their centroids are apart.
#[derive(Serialize, ToSchema)]
pub struct CentroidShift {
    pub recent_count: i64,
    pub reference_count: i64,
    /// Cosine distance between the two centroids; null when a window has no vectors.
    pub distance: Option<f64>,
    /// Both windows hold enough vectors to judge.
    pub judged: bool,
    pub alert: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DailySimilarity {
    pub day: NaiveDate,
    /// Mean cosine similarity of the first item of each list served that day.
    pub mean_top1: f64,
    pub lists: i64,
}

/// The similarity of the best match per list, recent against reference.
#[derive(Serialize, ToSchema)]
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

/// Embedding drift: what users ask for (query centroid), what was imported
/// (item centroid) and how well the catalog answers (top-1 similarity).
#[derive(Serialize, ToSchema)]
pub struct EmbeddingDrift {
    pub recent_days: i64,
    pub reference_days: i64,
    /// Centroid of the recent query vectors against the reference window's.
    pub queries: CentroidShift,
    /// Centroid of items imported in the recent window against the older catalog.
    pub items: CentroidShift,
    pub top1: Top1Trend,
}

/// Which signal raised an alert.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftSignal {
    InteractionRate,
    QueryCentroid,
    ItemCentroid,
    Top1Similarity,
}

/// One raised drift alert, with a sentence an admin can act on.
#[derive(Serialize, ToSchema)]
pub struct DriftAlert {
    pub signal: DriftSignal,
    pub message: String,
}

/// Every drift signal at `as_of` and the alerts they raise (what the admin
/// dashboard's drift panel shows).
#[derive(Serialize, ToSchema)]
pub struct Drift {
    pub as_of: DateTime<Utc>,
    pub interaction_rate: RateDrift,
    pub embedding: EmbeddingDrift,
    /// Raised alerts, interaction rate first; empty when all is well.
    pub alerts: Vec<DriftAlert>,
}

#[derive(Serialize, ToSchema)]
pub struct Dashboard {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub overview: Overview,
    pub daily: Vec<DailyRate>,
    pub by_source: Vec<Rate>,
    pub by_language: Vec<Rate>,
    pub by_rank: Vec<Rate>,
    /// Per surface: `profile` (a profile's list), `similar` ("more like this"), `api`
    /// (lists another front end ranked and reported).
    pub by_surface: Vec<Rate>,
    /// Per learned-ranker model that ranked the lists ("shipped": the build's weights;
    /// "model N": version N trained by `semrec train`).
    pub by_ranker: Vec<Rate>,
    pub top_clicked: Vec<ItemCount>,
    pub never_clicked: Vec<ItemCount>,
    /// Interaction-rate drift at `to` over the configured windows.
    pub drift: RateDrift,
    /// Embedding drift at `to` over the configured windows.
    pub embedding_drift: EmbeddingDrift,
    /// Every raised drift alert (interaction rate and embeddings).
    pub alerts: Vec<DriftAlert>,
}

fn rate(r: engine::metrics::Rate) -> Rate {
    Rate {
        key: r.key,
        shown: r.shown,
        clicked: r.clicked,
        rate: r.rate,
    }
}

fn rates(v: Vec<engine::metrics::Rate>) -> Vec<Rate> {
    v.into_iter().map(rate).collect()
}

fn item_counts(v: Vec<engine::metrics::ItemCount>) -> Vec<ItemCount> {
    v.into_iter()
        .map(|c| ItemCount {
            id: c.external_id,
            title: c.title,
            shown: c.shown,
            clicked: c.clicked,
        })
        .collect()
}

impl From<engine::metrics::RateDrift> for RateDrift {
    fn from(d: engine::metrics::RateDrift) -> Self {
        Self {
            recent_days: d.recent_days,
            reference_days: d.reference_days,
            recent: rate(d.recent),
            reference: rate(d.reference),
            z: d.z,
            alert: d.alert,
        }
    }
}

impl From<engine::drift::CentroidShift> for CentroidShift {
    fn from(c: engine::drift::CentroidShift) -> Self {
        Self {
            recent_count: c.recent_count,
            reference_count: c.reference_count,
            distance: c.distance,
            judged: c.judged,
            alert: c.alert,
        }
    }
}

impl From<engine::drift::EmbeddingDrift> for EmbeddingDrift {
    fn from(e: engine::drift::EmbeddingDrift) -> Self {
        let t = e.top1;
        Self {
            recent_days: e.recent_days,
            reference_days: e.reference_days,
            queries: e.queries.into(),
            items: e.items.into(),
            top1: Top1Trend {
                daily: t
                    .daily
                    .into_iter()
                    .map(|d| DailySimilarity {
                        day: d.day,
                        mean_top1: d.mean_top1,
                        lists: d.lists,
                    })
                    .collect(),
                recent_mean: t.recent_mean,
                reference_mean: t.reference_mean,
                recent_lists: t.recent_lists,
                reference_lists: t.reference_lists,
                slope_per_day: t.slope_per_day,
                judged: t.judged,
                alert: t.alert,
            },
        }
    }
}

fn alerts(v: Vec<engine::drift::DriftAlert>) -> Vec<DriftAlert> {
    use engine::drift::DriftSignal as S;
    v.into_iter()
        .map(|a| DriftAlert {
            signal: match a.signal {
                S::InteractionRate => DriftSignal::InteractionRate,
                S::QueryCentroid => DriftSignal::QueryCentroid,
                S::ItemCentroid => DriftSignal::ItemCentroid,
                S::Top1Similarity => DriftSignal::Top1Similarity,
            },
            message: a.message,
        })
        .collect()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DashboardParams {
    /// Start of the window (RFC 3339, inclusive). Default: 30 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339, exclusive). Default: now.
    pub to: Option<DateTime<Utc>>,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::BadRequest(format!("bad query string: {}", e.body_text())))
}

/// Everything the admin dashboard shows, for the window [from, to).
#[utoipa::path(
    get, path = "/metrics", tag = "metrics",
    params(DashboardParams),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Dashboard),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn dashboard(
    State(engine): State<Engine>,
    params: Result<Query<DashboardParams>, QueryRejection>,
) -> Result<Json<Dashboard>, ApiError> {
    let params = query(params)?;
    let to = params.to.unwrap_or_else(Utc::now);
    let from = params
        .from
        .unwrap_or(to - chrono::Duration::days(DEFAULT_DAYS));
    if from >= to {
        return Err(EngineError::invalid("from", "must be before 'to'").into());
    }
    let d = engine.dashboard(from, to).await?;
    let o = d.overview;
    Ok(Json(Dashboard {
        from,
        to,
        overview: Overview {
            impressions: o.impressions,
            shown: o.shown,
            clicks: o.clicks,
            interaction_rate: o.interaction_rate,
            per_user_rate: o.per_user_rate,
            users: o.users,
            coverage: o.coverage,
            catalog_size: o.catalog_size,
            model_id: o.model_id,
            embedding_cache_hit_rate: o.embedding_cache_hit_rate,
        },
        daily: d
            .daily
            .into_iter()
            .map(|r| DailyRate {
                day: r.day,
                shown: r.shown,
                clicked: r.clicked,
                rate: r.rate,
            })
            .collect(),
        by_source: rates(d.by_source),
        by_language: rates(d.by_language),
        by_rank: rates(d.by_rank),
        by_surface: rates(d.by_surface),
        by_ranker: rates(d.by_ranker),
        top_clicked: item_counts(d.top_clicked),
        never_clicked: item_counts(d.never_clicked),
        drift: d.drift.into(),
        embedding_drift: d.embedding_drift.into(),
        alerts: alerts(d.alerts),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DriftParams {
    /// Days in the recent window (default: the server's `--drift-recent-days`, 7).
    pub recent_days: Option<i64>,
    /// Days in the reference window before it (default: `--drift-reference-days`, 28).
    pub reference_days: Option<i64>,
}

/// Drift now: the interaction rate and the embedding signals (query centroid,
/// item centroid, top-1 similarity) of the last `recent_days` against the
/// `reference_days` before, and the alerts they raise (the dashboard's drift panel).
#[utoipa::path(
    get, path = "/metrics/drift", tag = "metrics",
    params(DriftParams),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Drift),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn drift(
    State(engine): State<Engine>,
    params: Result<Query<DriftParams>, QueryRejection>,
) -> Result<Json<Drift>, ApiError> {
    let params = query(params)?;
    let configured = &engine.settings.drift;
    let recent = params.recent_days.unwrap_or(configured.recent_days);
    let reference = params.reference_days.unwrap_or(configured.reference_days);
    for (name, v) in [("recent_days", recent), ("reference_days", reference)] {
        if !(1..=MAX_DRIFT_DAYS).contains(&v) {
            return Err(EngineError::invalid(
                name,
                format!("must be between 1 and {MAX_DRIFT_DAYS}, got {v}"),
            )
            .into());
        }
    }
    let d = engine.drift_state(Utc::now(), recent, reference).await?;
    Ok(Json(Drift {
        as_of: d.now,
        interaction_rate: d.rate.into(),
        embedding: d.embedding.into(),
        alerts: alerts(d.alerts),
    }))
}
