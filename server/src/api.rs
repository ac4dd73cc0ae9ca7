//! The JSON API for other front ends: `/api/v1/...`. Errors are
//! `{"error": {"code", "message"}}` with the matching status; internal
//! details are logged, never sent.

use app::session::ServerState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use engine::EngineError;
use http::StatusCode;
use serde_json::json;

pub fn router(state: ServerState) -> Router {
    Router::new()
        .route(
            "/health/live",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route("/health/ready", get(ready))
        .with_state(state)
}

pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// An engine error as an API response.
pub struct ApiError(pub EngineError);

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            EngineError::Invalid(m) => {
                error_response(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &m)
            }
            EngineError::NotFound(m) => error_response(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("{m} not found"),
            ),
            EngineError::Conflict(m) => error_response(StatusCode::CONFLICT, "conflict", &m),
            EngineError::Busy => {
                let mut r = error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "busy",
                    "The embedding queue is full, retry shortly.",
                );
                r.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
                r
            }
            EngineError::Unavailable(m) => {
                tracing::warn!("database unavailable: {m}");
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The database is unavailable, retry shortly.",
                )
            }
            other => {
                tracing::error!("internal error: {other}");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error.",
                )
            }
        }
    }
}

async fn ready(State(state): State<ServerState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.engine.store.ping().await?;
    Ok(Json(json!({
        "status": "ready",
        "model": state.engine.model_id(),
        "catalog_size": state.engine.catalog_size().await?,
    })))
}
