//! Reading request bodies: size limits that answer 413 in JSON, and JSON
//! parsing that tells unreadable JSON (400) from well-formed but wrong (422).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use engine::EngineError;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Bodies of JSON requests above this are refused with 413.
pub const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;
/// Bulk imports may be larger; still bounded, since the body is held in memory.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// The body limit in force for a route, for the 413 message
/// (set next to axum's `DefaultBodyLimit`, which enforces it).
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// The whole body, or 413 when it exceeds the route's limit.
pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(MAX_JSON_BYTES, |l| l.0);
    Bytes::from_request(req, &()).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(ref f)
            if f.status() == http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::TooLarge { limit }
        }
        other => ApiError::BadRequest(format!(
            "cannot read the request body: {}",
            other.body_text()
        )),
    })
}

/// A JSON body. An empty body counts as `{}`, so requests whose fields are all
/// optional need none. The Content-Type is not checked: the API takes no
/// cookies, so there is no form-based CSRF to guard against.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::Engine(EngineError::invalid("", format!("invalid request: {e}")))
        }
        _ => ApiError::BadRequest(format!("the request body is not valid JSON: {e}")),
    })
}
