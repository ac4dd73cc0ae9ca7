//! The JSON API for other front ends: `/api/v1/...`.
//!
//! Every endpoint except health and the OpenAPI document needs an API key
//! (`Authorization: Bearer <key>`); scope `write` for recommendations, events
//! and items, `admin` for metrics. Errors are `{"error": {"code", "message"}}`.

pub mod auth;
pub mod body;
pub mod dismissals;
pub mod error;
pub mod events;
pub mod health;
pub mod interactions;
pub mod items;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod recommendations;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Extension, Router};
use engine::api_keys::Scope;
use http::{header, StatusCode, Uri};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{error_response, ApiError};

use crate::state::AppState;

use auth::Guard;
use body::{BodyLimit, MAX_IMPORT_BYTES, MAX_JSON_BYTES};
use limits::RateLimiter;

pub const PREFIX: &str = "/api/v1";

/// Tunables of the API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Requests per second sustained per API key (and per client IP without a valid key).
    pub rate_per_second: f64,
    /// Requests allowed at once before the rate applies.
    pub burst: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            rate_per_second: 20.0,
            burst: 40,
        }
    }
}

/// The API with its routes at their full paths (`/api/v1/...`), ready to merge.
pub fn router(state: AppState, config: &ApiConfig) -> Router {
    let (router, doc) = openapi_router(state, config).split_for_parts();
    let json = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        tracing::error!("cannot serialize the OpenAPI document: {e}");
        "{}".into()
    });
    router
        // The nest's fallback answers /api/v1/<anything>; the prefix with a
        // trailing slash would otherwise reach the web app's HTML 404.
        .route(&format!("{PREFIX}/"), axum::routing::any(no_route))
        .layer(Extension(openapi::OpenApiJson(Arc::new(json))))
}

/// The routes and, collected from the same registrations, their OpenAPI document:
/// a route cannot exist undocumented.
pub fn openapi_router(state: AppState, config: &ApiConfig) -> OpenApiRouter {
    let limiter = RateLimiter::new(config.rate_per_second, config.burst);
    let guard = |scope| {
        middleware::from_fn_with_state(
            Guard {
                store: state.engine.store.clone(),
                limiter: limiter.clone(),
                scope,
            },
            auth::guard,
        )
    };
    let public = OpenApiRouter::new()
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(openapi::openapi_json));
    let write = OpenApiRouter::new()
        .routes(routes!(recommendations::recommend))
        .routes(routes!(recommendations::similar))
        .routes(routes!(events::impression))
        .routes(routes!(events::click))
        .routes(routes!(dismissals::dismiss, dismissals::undo))
        .routes(routes!(
            items::get_item,
            items::put_item,
            items::delete_item
        ))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(items::import))
                .routes(routes!(interactions::post_interactions))
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
                .layer(Extension(BodyLimit(MAX_IMPORT_BYTES))),
        )
        .route_layer(guard(Scope::Write));
    let admin = OpenApiRouter::new()
        .routes(routes!(metrics::dashboard))
        .routes(routes!(metrics::drift))
        .route_layer(guard(Scope::Admin));
    let api = public
        .merge(write)
        .merge(admin)
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(Extension(BodyLimit(MAX_JSON_BYTES)))
        .layer(middleware::from_fn(json_errors))
        .with_state(state);
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi()).nest(PREFIX, api)
}

/// Who the import history names for an import made with this key.
pub fn api_key_actor(key: &engine::api_keys::ApiKey) -> String {
    format!("API key {}", key.name)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(format!(
        "there is no API endpoint {}: see {PREFIX}/openapi.json",
        uri.path()
    ))
}

/// Errors made by axum itself (405, extractor rejections) come as plain text;
/// the API answers every error in its JSON shape.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty());
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("this endpoint does not take this HTTP method: see {PREFIX}/openapi.json"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is too large".to_string(),
        ),
        s if s.is_server_error() => ("internal", "Internal error.".to_string()),
        s => (
            "bad_request",
            text.unwrap_or_else(|| s.canonical_reason().unwrap_or("bad request").to_string()),
        ),
    };
    let mut out = error_response(status, code, &message);
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}
