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

/// Maps an engine error to a status and a safe message.
#[cfg(feature = "ssr")]
pub fn engine_error(err: engine::EngineError) -> ServerFnError {
    use engine::EngineError as E;
    use http::StatusCode as S;
    match err {
        E::Invalid(m) => fail(S::UNPROCESSABLE_ENTITY, m),
        E::NotFound(m) => fail(S::NOT_FOUND, format!("{m} not found")),
        E::Conflict(m) => fail(S::CONFLICT, m),
        E::Busy => {
            // A full embedding queue clears within a second or so: say when to retry.
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response.insert_header(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
            }
            fail(
                S::TOO_MANY_REQUESTS,
                "The server is busy, try again in a moment.",
            )
        }
        E::TooManyImports { max } => fail(
            S::TOO_MANY_REQUESTS,
            format!("{max} import(s) already running, the most at once: try again when one has finished."),
        ),
        E::Unavailable(m) => {
            tracing::warn!("database unavailable: {m}");
            fail(
                S::SERVICE_UNAVAILABLE,
                "The database is unavailable right now, try again shortly.",
            )
        }
        other => {
            tracing::error!("internal error: {other}");
            fail(
                S::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
        }
    }
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
