//! The admin dashboard's numbers as JSON: interaction rates overall, per day,
//! source, language and rank, coverage, top items and rate drift.

use app::session::ServerState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
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

#[derive(Serialize, ToSchema)]
pub struct Dashboard {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub overview: Overview,
    pub daily: Vec<DailyRate>,
    pub by_source: Vec<Rate>,
    pub by_language: Vec<Rate>,
    pub by_rank: Vec<Rate>,
    pub top_clicked: Vec<ItemCount>,
    pub never_clicked: Vec<ItemCount>,
    pub drift: RateDrift,
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
    State(state): State<ServerState>,
    params: Result<Query<DashboardParams>, QueryRejection>,
) -> Result<Json<Dashboard>, ApiError> {
    let params = query(params)?;
    let to = params.to.unwrap_or_else(Utc::now);
    let from = params
        .from
        .unwrap_or(to - chrono::Duration::days(DEFAULT_DAYS));
    if from >= to {
        return Err(EngineError::Invalid("'from' must be before 'to'".into()).into());
    }
    let d = state.engine.dashboard(from, to).await?;
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
        top_clicked: item_counts(d.top_clicked),
        never_clicked: item_counts(d.never_clicked),
        drift: d.drift.into(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DriftParams {
    /// Days in the recent window (default 7).
    pub recent_days: Option<i64>,
    /// Days in the reference window before it (default 28).
    pub reference_days: Option<i64>,
}

/// Interaction-rate drift: the last `recent_days` against the `reference_days` before.
#[utoipa::path(
    get, path = "/metrics/drift", tag = "metrics",
    params(DriftParams),
    security(("api_key" = [])),
    responses(
        (status = 200, body = RateDrift),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn drift(
    State(state): State<ServerState>,
    params: Result<Query<DriftParams>, QueryRejection>,
) -> Result<Json<RateDrift>, ApiError> {
    let params = query(params)?;
    let recent = params.recent_days.unwrap_or(7);
    let reference = params.reference_days.unwrap_or(28);
    for (name, v) in [("recent_days", recent), ("reference_days", reference)] {
        if !(1..=MAX_DRIFT_DAYS).contains(&v) {
            return Err(EngineError::Invalid(format!(
                "'{name}' must be between 1 and {MAX_DRIFT_DAYS}, got {v}"
            ))
            .into());
        }
    }
    let d = state
        .engine
        .rate_drift(Utc::now(), recent, reference)
        .await?;
    Ok(Json(d.into()))
}
