//! The OpenAPI document, generated from the handlers' annotations by utoipa and
//! served at `/api/v1/openapi.json`.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::Extension;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "semrec JSON API",
        description = "Semantic recommendations for other front ends. Send an API key as \
            `Authorization: Bearer <key>` (operators create keys with `semrec api-key create`). \
            Errors are `{\"error\": {\"code\", \"message\"}}`.",
    ),
    modifiers(&BearerKeys),
    tags(
        (name = "recommendations", description = "Lists for a profile, and more like an item"),
        (name = "events", description = "Impressions and clicks"),
        (name = "items", description = "The catalog"),
        (name = "interactions", description = "What users did with items (the collaborative model learns from them)"),
        (name = "metrics", description = "Interaction rates (admin keys)"),
        (name = "health", description = "Liveness and readiness"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An API key; scope `write` (recommendations, events, items) or `admin` (also metrics)",
                        ))
                        .build(),
                ),
            );
    }
}

/// The serialized document, made once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        doc.0.as_str().to_owned(),
    )
        .into_response()
}
