//! API errors: `{"error": {"code", "message"}}` with the matching status.
//! Internal details are logged, never sent.

use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::EngineError;
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid`, `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `already_clicked`, `payload_too_large`, `rate_limited`,
    /// `busy`, `unavailable`, `starting`, `internal`.
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
}

pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }),
    )
        .into_response()
}

/// Every way an API request fails.
#[derive(Debug)]
pub enum ApiError {
    Engine(EngineError),
    /// 400: the request cannot be read (bad JSON, bad query string).
    BadRequest(String),
    /// 401: no key, or a key that is unknown or revoked.
    Unauthorized(String),
    /// 403: the key's scope does not allow this.
    Forbidden(String),
    /// 404 for a route, not a resource (resources come as `EngineError::NotFound`).
    NoRoute(String),
    /// 409 with its own code, e.g. `already_clicked`.
    Conflict {
        code: &'static str,
        message: String,
    },
    /// 413: the body is larger than `limit` bytes.
    TooLarge {
        limit: usize,
    },
    /// 429 from the rate limit; retry after this many seconds.
    RateLimited {
        retry_after_secs: u64,
    },
    /// 503 while the server is still getting ready (the first start's demo catalog).
    Starting(String),
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        Self::Engine(e)
    }
}

fn with_retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(m) => error_response(StatusCode::BAD_REQUEST, "bad_request", &m),
            ApiError::Unauthorized(m) => {
                let mut r = error_response(StatusCode::UNAUTHORIZED, "unauthorized", &m);
                r.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"semrec\""),
                );
                r
            }
            ApiError::Forbidden(m) => error_response(StatusCode::FORBIDDEN, "forbidden", &m),
            ApiError::NoRoute(m) => error_response(StatusCode::NOT_FOUND, "not_found", &m),
            ApiError::Conflict { code, message } => {
                error_response(StatusCode::CONFLICT, code, &message)
            }
            ApiError::TooLarge { limit } => error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &format!(
                    "the request body is larger than {limit} bytes; split it into smaller requests"
                ),
            ),
            ApiError::Starting(m) => with_retry_after(
                error_response(StatusCode::SERVICE_UNAVAILABLE, "starting", &m),
                5,
            ),
            ApiError::RateLimited { retry_after_secs } => with_retry_after(
                error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    &format!("too many requests: retry in {retry_after_secs} s"),
                ),
                retry_after_secs,
            ),
            ApiError::Engine(e) => engine_error(e),
        }
    }
}

/// The one mapping (`app::error::public`), in the API's JSON shape.
fn engine_error(e: EngineError) -> Response {
    let p = app::error::public(&e);
    let r = error_response(p.status, p.code, &p.message);
    match p.retry_after {
        Some(secs) => with_retry_after(r, secs),
        None => r,
    }
}
