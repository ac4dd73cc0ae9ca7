//! "Not interested" through the API: dismiss an item for a user, or undo it. A
//! dismissed item leaves the user's lists and pushes items like it down
//! (a negative element); undoing restores both.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use engine::Engine;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};

#[derive(Serialize, ToSchema)]
pub struct DismissalUndone {
    /// False when the item was not dismissed (nothing to undo).
    pub undone: bool,
}

/// Marks an item "not interested" for a user (created if new). Idempotent.
#[utoipa::path(
    put, path = "/users/{user}/dismissals/{item}", tag = "events",
    params(
        ("user" = String, Path, description = "The user's handle"),
        ("item" = String, Path, description = "The item's id in your catalog"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Dismissed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown item", body = ErrorBody),
        (status = 422, description = "Invalid handle", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn dismiss(
    State(engine): State<Engine>,
    Path((user, item)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    // The item first: an unknown item creates no user.
    engine.item_by_external_id(&item).await?;
    let user = engine.user_by_handle(&user, true).await?;
    engine.dismiss(user.id, &item).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undoes "not interested" on an item for a user.
#[utoipa::path(
    delete, path = "/users/{user}/dismissals/{item}", tag = "events",
    params(
        ("user" = String, Path, description = "The user's handle"),
        ("item" = String, Path, description = "The item's id in your catalog"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, body = DismissalUndone),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown user or item", body = ErrorBody),
        (status = 422, description = "Invalid handle", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    )
)]
pub async fn undo(
    State(engine): State<Engine>,
    Path((user, item)): Path<(String, String)>,
) -> Result<Json<DismissalUndone>, ApiError> {
    let user = engine.user_by_handle(&user, false).await?;
    let undone = engine.undo_dismiss(user.id, &item).await?;
    Ok(Json(DismissalUndone { undone }))
}
