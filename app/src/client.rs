//! Who is asking: the client address the HTTP edge resolved (from the peer, or
//! from `X-Forwarded-For` when the peer is a trusted proxy), for the throttles
//! the server functions apply themselves.

use std::net::IpAddr;

use http::{HeaderValue, StatusCode};
use leptos::prelude::*;

use crate::error::fail;

/// Set by the server's edge middleware on every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The requesting client's address; unspecified when the request came without
/// a socket (a router driven in-process).
pub fn client_ip() -> IpAddr {
    use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<ClientIp>().copied())
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0)
}

/// A throttled request: 429 with `Retry-After`, and a message saying how long.
pub fn too_many(retry_after_secs: u64, what: &str) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            http::header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs),
        );
    }
    let wait = if retry_after_secs < 120 {
        format!("{retry_after_secs} s")
    } else {
        format!("{} min", retry_after_secs.div_ceil(60))
    };
    fail(
        StatusCode::TOO_MANY_REQUESTS,
        format!("{what}: try again in {wait}."),
    )
}
