//! Malformed server-function arguments (a missing field, `offset=-1`, a word
//! where a number goes) are the caller's mistake: 400 with what was wrong,
//! instead of the 500 Leptos answers them with.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{header, StatusCode};

/// The header Leptos marks a server function's error response with
/// (`server_fn::error::SERVER_FN_ERROR_HEADER`).
const SERVER_FN_ERROR: &str = "serverfnerror";

/// Largest error body read back; argument errors are one short line.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Turns a server function's argument-decoding failure (`ServerFnError::Args`,
/// encoded as `Args|…`, or `MissingArg|…`) into 400 with a message that names
/// the function. Every other response passes untouched.
pub async fn malformed_args(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key(SERVER_FN_ERROR)
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from("ServerError|Internal error."));
    };
    let text = String::from_utf8_lossy(&bytes);
    let detail = text
        .strip_prefix("Args|")
        .or_else(|| text.strip_prefix("MissingArg|"));
    let Some(detail) = detail else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let function = parts
        .headers
        .get(SERVER_FN_ERROR)
        .and_then(|v| v.to_str().ok())
        .and_then(|path| path.rsplit('/').next())
        .unwrap_or("the server function")
        .to_string();
    parts.status = StatusCode::BAD_REQUEST;
    parts.headers.remove(header::CONTENT_LENGTH);
    // ServerError, so the app shows the message itself (not "error deserializing …").
    let message = format!("ServerError|{}", malformed_message(&function, detail));
    Response::from_parts(parts, Body::from(message))
}

/// "the arguments of get_recommendations are malformed: …", with a hint when
/// a number field holds something else.
fn malformed_message(function: &str, detail: &str) -> String {
    let hint = if detail.contains("invalid digit") || detail.contains("parse") {
        " (a number field needs a whole number of 0 or more)"
    } else {
        ""
    };
    format!(
        "the arguments of {function} are malformed: {detail}{hint}; send every field of the form"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_name_the_function_and_hint_at_numbers() {
        let m = super::malformed_message("get_recommendations", "invalid digit found in string");
        assert!(m.contains("get_recommendations"), "{m}");
        assert!(m.contains("whole number"), "{m}");
        let m = super::malformed_message("save_profile", "missing field `about`");
        assert!(
            m.contains("missing field `about`") && !m.contains("whole number"),
            "{m}"
        );
    }
}
