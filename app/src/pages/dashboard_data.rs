//! The dashboard's figures for a day range, as the page and its CSV downloads
//! show them (server only).

use chrono::{Duration, NaiveDate, Utc};
use engine::{Engine, EngineError};

use crate::pages::dashboard_range::DayRange;
use crate::views::{AlertView, DashboardView, DismissedRow, RateRow, ShiftView, SimilarityPoint};

/// Label of the embedding-drift row that compares new items with the catalog.
pub const NEW_ITEMS: &str = "New items vs the existing catalog";

fn midnight(day: NaiveDate) -> chrono::DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

pub async fn dashboard_view(
    engine: &Engine,
    range: &DayRange,
) -> Result<DashboardView, EngineError> {
    let now = Utc::now();
    let end = midnight(range.to + Duration::days(1)).min(now);
    let d = engine.dashboard(midnight(range.from), end).await?;
    let most_dismissed = engine
        .store
        .most_dismissed(
            midnight(range.from),
            end,
            engine::dismissal_counts::MOST_DISMISSED_ROWS,
        )
        .await?
        .into_iter()
        .map(|c| DismissedRow {
            id: c.external_id,
            title: c.title,
            dismissed: c.dismissed,
            shown: c.shown,
        })
        .collect();
    let rows = |v: Vec<engine::metrics::Rate>| {
        v.into_iter()
            .map(|r| RateRow {
                key: r.key,
                shown: r.shown,
                clicked: r.clicked,
                rate: r.rate,
            })
            .collect()
    };
    let items = |v: Vec<engine::metrics::ItemCount>| {
        v.into_iter()
            .map(|i| RateRow {
                key: i.title,
                shown: i.shown,
                clicked: i.clicked,
                rate: if i.shown == 0 {
                    0.0
                } else {
                    i.clicked as f64 / i.shown as f64
                },
            })
            .collect()
    };
    let drift = &d.drift;
    let drift_summary = match drift.z {
        None => format!(
            "not enough data yet: the last {} days and the {} days before both need shown items.",
            drift.recent_days, drift.reference_days
        ),
        Some(z) => format!(
            "Last {} days {:.1}% vs previous {} days {:.1}% (z = {z:.2})",
            drift.recent_days,
            drift.recent.rate * 100.0,
            drift.reference_days,
            drift.reference.rate * 100.0
        ),
    };
    // One row per day of the range: days without lists show as gaps, not as missing days.
    let by_day: std::collections::HashMap<NaiveDate, &engine::metrics::DailyRate> =
        d.daily.iter().map(|r| (r.day, r)).collect();
    let daily = range
        .from
        .iter_days()
        .take_while(|day| *day <= range.to)
        .map(|day| {
            let (shown, clicked, rate) = by_day
                .get(&day)
                .map_or((0, 0, 0.0), |r| (r.shown, r.clicked, r.rate));
            RateRow {
                key: day.to_string(),
                shown,
                clicked,
                rate,
            }
        })
        .collect();
    let e = &d.embedding_drift;
    let shift = |label: &str, s: &engine::drift::CentroidShift| ShiftView {
        label: label.to_string(),
        recent: s.recent_count,
        reference: s.reference_count,
        distance: s.distance,
        judged: s.judged,
        alert: s.alert,
        // Items with nothing before them are the first import, not a shift.
        first_import: label == NEW_ITEMS && s.reference_count == 0 && s.recent_count > 0,
    };
    let shifts = vec![
        shift("Query centroid (what users ask for)", &e.queries),
        shift(NEW_ITEMS, &e.items),
    ];
    let top1_daily = e
        .top1
        .daily
        .iter()
        .map(|p| SimilarityPoint {
            day: p.day.to_string(),
            mean_top1: p.mean_top1,
            lists: p.lists,
        })
        .collect();
    Ok(DashboardView {
        from: range.from.to_string(),
        to: range.to.to_string(),
        days: range.days(),
        range_note: range.note.clone(),
        impressions: d.overview.impressions,
        shown: d.overview.shown,
        clicks: d.overview.clicks,
        interaction_rate: d.overview.interaction_rate,
        per_user_rate: d.overview.per_user_rate,
        coverage: d.overview.coverage,
        catalog_size: d.overview.catalog_size,
        model_id: d.overview.model_id,
        embedding_cache_hit_rate: d.overview.embedding_cache_hit_rate,
        daily,
        by_source: rows(d.by_source),
        by_language: rows(d.by_language),
        by_rank: rows(d.by_rank),
        by_surface: rows(d.by_surface),
        by_ranker: rows(d.by_ranker),
        top_clicked: items(d.top_clicked),
        never_clicked: items(d.never_clicked),
        most_dismissed,
        drift_alert: drift.alert,
        rate_judged: drift.z.is_some(),
        drift_summary,
        alerts: d
            .alerts
            .iter()
            .map(|a| AlertView {
                signal: serde_json::to_value(a.signal)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                message: a.message.clone(),
            })
            .collect(),
        drift_recent_days: e.recent_days,
        drift_reference_days: e.reference_days,
        shifts,
        top1_daily,
        top1_recent: e.top1.recent_mean,
        top1_reference: e.top1.reference_mean,
        top1_slope: e.top1.slope_per_day,
    })
}
