//! How server functions fail. On the server, engine errors become an HTTP
//! status plus a message meant for the user; internal details are logged, never sent.

use leptos::prelude::ServerFnError;

#[cfg(feature = "ssr")]
pub fn fail(status: http::StatusCode, message: impl Into<String>) -> ServerFnError {
    if !is_form_post() {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
    }
    ServerFnError::ServerError(message.into())
}

/// A plain HTML form posted to a server function (no JavaScript: the sign-in and
/// sign-out forms). Leptos answers it with a redirect back to the page, the error
/// carried in the URL for the page to show; a status set here would replace that
/// redirect with a bare error body.
#[cfg(feature = "ssr")]
fn is_form_post() -> bool {
    leptos::prelude::use_context::<http::request::Parts>().is_some_and(|p| {
        p.method == http::Method::POST
            && p.headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
    })
}

/// What a client is told about an engine error: the one mapping from error
/// kind to HTTP status, used by the server functions here and by the JSON API
/// (`server::api::error`). Internal causes are logged here, never sent.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Public {
    pub status: http::StatusCode,
    /// The JSON API's stable `code`.
    pub code: &'static str,
    /// For people: what went wrong and what to do.
    pub message: String,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

#[cfg(feature = "ssr")]
pub fn public(err: &engine::EngineError) -> Public {
    use engine::EngineError as E;
    use http::StatusCode as S;
    let (status, code, message, retry_after) = match err {
        E::Invalid { .. } => (S::UNPROCESSABLE_ENTITY, "invalid", err.to_string(), None),
        E::NotFound(_) => (S::NOT_FOUND, "not_found", err.to_string(), None),
        E::Conflict(m) => (S::CONFLICT, "conflict", m.clone(), None),
        // A full embedding queue clears within a second or so.
        E::Busy => (
            S::TOO_MANY_REQUESTS,
            "busy",
            "The server is busy, try again in a moment.".into(),
            Some(1),
        ),
        // An import takes a while: retry in seconds, not at once.
        E::TooManyImports { .. } => (S::TOO_MANY_REQUESTS, "busy", err.to_string(), Some(10)),
        E::Unavailable { .. } => {
            tracing::warn!(error = %err, "database unavailable");
            (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "The database is unavailable, retry shortly.".into(),
                Some(5),
            )
        }
        E::Embedding(_) | E::Database(_) | E::Internal(_) => {
            tracing::error!(error = %err, source = ?std::error::Error::source(err), "internal error");
            (
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error.".into(),
                None,
            )
        }
    };
    Public {
        status,
        code,
        message,
        retry_after,
    }
}

/// A server function's failure from an engine error: its status and
/// `Retry-After` on the response, the public message as the error.
#[cfg(feature = "ssr")]
pub fn engine_error(err: engine::EngineError) -> ServerFnError {
    let p = public(&err);
    if let (Some(secs), Some(response)) = (
        p.retry_after,
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) {
        response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
    }
    fail(p.status, p.message)
}

/// The message of a server function error, without the transport prefix, as a
/// sentence (engine messages start in lower case).
pub fn user_message(err: &ServerFnError) -> String {
    let mut message = match err {
        ServerFnError::ServerError(m) => m.clone(),
        // Transport failures: say what to do, not what the fetch API said.
        ServerFnError::Request(_) => {
            "Cannot reach the server: check your connection and try again.".into()
        }
        ServerFnError::Response(_)
        | ServerFnError::Deserialization(_)
        | ServerFnError::Serialization(_) => {
            "The server's answer could not be read: reload the page and try again.".into()
        }
        other => other.to_string(),
    };
    if let Some(first) = message.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_say_what_to_do_and_server_messages_pass_through() {
        let offline = user_message(&ServerFnError::Request("TypeError: Failed to fetch".into()));
        assert!(offline.starts_with("Cannot reach the server"), "{offline}");
        assert!(!offline.contains("TypeError"), "{offline}");
        assert_eq!(
            user_message(&ServerFnError::ServerError("the profile is empty".into())),
            "The profile is empty"
        );
    }
}
