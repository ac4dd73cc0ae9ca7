//! Events: impressions of lists a front end rendered itself, and clicks.
//! A click must name an item shown in the impression; it counts once.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use engine::events::{ClickOutcome, ImpressionContext, ShownItem};
use engine::recommend::MAX_K;
use engine::Engine;
use engine::EngineError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShownInput {
    /// The item's id in your catalog.
    pub id: String,
    /// Your own relevance score for it, −1 to 1 (0 when omitted).
    pub score: Option<f32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpressionRequest {
    /// The handle of the user the list was shown to (created if new).
    pub user: Option<String>,
    /// The items shown, in display order (first = rank 1); 1–100 items.
    pub items: Vec<ShownInput>,
}

#[derive(Serialize, ToSchema)]
pub struct ImpressionCreated {
    pub impression_id: uuid::Uuid,
}

/// Records a list your front end rendered itself (lists from
/// `POST /recommendations` are recorded already), so clicks on it count.
#[utoipa::path(
    post, path = "/events/impressions", tag = "events",
    request_body = ImpressionRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = ImpressionCreated),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn impression(
    State(engine): State<Engine>,
    ApiJson(req): ApiJson<ImpressionRequest>,
) -> Result<(StatusCode, Json<ImpressionCreated>), ApiError> {
    if req.items.is_empty() || req.items.len() > MAX_K {
        return Err(EngineError::invalid(
            "items",
            format!("must list 1–{MAX_K} shown items, got {}", req.items.len()),
        )
        .into());
    }
    let engine = &engine;
    // One query for every listed id, not one per entry.
    let ids: Vec<String> = req.items.iter().map(|s| s.id.clone()).collect();
    let known: HashMap<String, i64> = engine
        .items_by_external_ids(&ids)
        .await?
        .into_iter()
        .map(|item| (item.external_id, item.id))
        .collect();
    let mut seen = HashSet::with_capacity(req.items.len());
    let mut shown: Vec<ShownItem> = Vec::with_capacity(req.items.len());
    for (i, s) in req.items.iter().enumerate() {
        let score = s.score.unwrap_or(0.0);
        if !(-1.0..=1.0).contains(&score) {
            return Err(EngineError::invalid(
                format!("items[{i}].score"),
                "must be between -1 and 1",
            )
            .into());
        }
        let Some(&item_id) = known.get(&s.id) else {
            return Err(EngineError::invalid(
                format!("items[{i}]"),
                format!("item '{}' is not in the catalog", s.id),
            )
            .into());
        };
        if !seen.insert(item_id) {
            return Err(EngineError::invalid(
                format!("items[{i}]"),
                format!("item '{}' is listed twice", s.id),
            )
            .into());
        }
        shown.push(ShownItem {
            item_id,
            rank: i + 1,
            score,
            features: None,
        });
    }
    let user_id = match &req.user {
        Some(handle) => Some(engine.user_by_handle(handle, true).await?.id),
        None => None,
    };
    // A list ranked elsewhere has no query vector (stored as NULL).
    let impression_id = engine
        .record_impression(user_id, ImpressionContext::Api, None, &shown)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ImpressionCreated { impression_id }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickRequest {
    /// From the list the item was shown in.
    pub impression_id: uuid::Uuid,
    /// The clicked item's id in your catalog.
    pub item_id: String,
    /// When given, it must be the user the list was shown to.
    pub user: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClickRecorded {
    /// Always `recorded`.
    pub outcome: String,
}

/// Records a click on an item of a served list. Clicking an item that was not
/// shown in that impression is refused (422); a second click on the same item
/// of the same impression counts once and answers 409 `already_clicked`
/// (safe to treat as success when retrying).
#[utoipa::path(
    post, path = "/events/clicks", tag = "events",
    request_body = ClickRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, body = ClickRecorded),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown user", body = ErrorBody),
        (status = 409, description = "Already clicked: counted once", body = ErrorBody),
        (status = 422, description = "The item was not shown in that impression", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn click(
    State(engine): State<Engine>,
    ApiJson(req): ApiJson<ClickRequest>,
) -> Result<(StatusCode, Json<ClickRecorded>), ApiError> {
    let engine = &engine;
    let user_id = match &req.user {
        Some(handle) => Some(engine.user_by_handle(handle, false).await?.id),
        None => None,
    };
    match engine
        .record_click(req.impression_id, &req.item_id, user_id)
        .await?
    {
        ClickOutcome::Recorded => Ok((
            StatusCode::CREATED,
            Json(ClickRecorded {
                outcome: "recorded".into(),
            }),
        )),
        ClickOutcome::AlreadyRecorded => Err(ApiError::Conflict {
            code: "already_clicked",
            message: format!(
                "item '{}' was already clicked in impression {}; a click counts once",
                req.item_id, req.impression_id
            ),
        }),
    }
}
