//! Liveness and readiness, for load balancers and orchestrators (no key needed).

use axum::extract::State;
use axum::Json;
use engine::seed::{SeedState, DEMO_CATALOG};
use engine::Engine;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};

#[derive(Serialize, ToSchema)]
pub struct Live {
    /// Always `ok`.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: String,
    pub model: String,
    pub catalog_size: i64,
}

/// The process is up (says nothing about the database).
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Live)))]
pub async fn live() -> Json<Live> {
    Json(Live {
        status: "ok".into(),
    })
}

/// The database answers, the model is loaded and the first start's demo catalog
/// is in (while it loads, pages are served but the catalog is partial).
#[utoipa::path(
    get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, body = Ready),
        (status = 503, description = "Database unavailable (`unavailable`), or the demo catalog still loading (`starting`)", body = ErrorBody),
    )
)]
pub async fn ready(State(engine): State<Engine>) -> Result<Json<Ready>, ApiError> {
    engine.store.ping().await?;
    if engine.seed_state(DEMO_CATALOG).await? == SeedState::Started {
        return Err(ApiError::Starting(format!(
            "the demo catalog is still loading ({} items so far); if this lasts, the server log says why",
            engine.catalog_size().await?
        )));
    }
    Ok(Json(Ready {
        status: "ready".into(),
        model: engine.model_id().to_string(),
        catalog_size: engine.catalog_size().await?,
    }))
}
