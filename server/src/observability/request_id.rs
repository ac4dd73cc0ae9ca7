//! Request ids: every request gets one, taken from a well-formed incoming
//! `x-request-id` (a proxy's or the client's, so logs can be joined across
//! hops) or made here; it is returned in the `x-request-id` response header
//! and is a field of the request's tracing span, so every log line written
//! while the request is served names it.

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::HeaderName;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id kept.
pub const MAX_LEN: usize = 64;

/// Whether an incoming id is kept: 1 to 64 characters of letters, digits and
/// `-_.:+=/`. Anything else (control characters that would forge log lines,
/// spaces, quotes, an id longer than a UUID needs) is replaced.
pub fn well_formed(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+=/".contains(b))
}

/// New ids: a random UUID, 32 hex digits.
#[derive(Clone, Copy, Debug, Default)]
struct NewId;

impl MakeRequestId for NewId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        http::HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Drops an incoming id that is not kept (or that comes twice), so that one is
/// made in its place.
async fn drop_malformed(mut req: Request, next: Next) -> Response {
    let ids = req.headers().get_all(&HEADER).iter().count();
    let keep = ids == 1
        && req
            .headers()
            .get(&HEADER)
            .is_some_and(|v| well_formed(v.as_bytes()));
    if ids > 0 && !keep {
        req.headers_mut().remove(&HEADER);
    }
    next.run(req).await
}

fn span(req: &Request<Body>) -> tracing::Span {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    // The route pattern, not the path: paths can carry user handles.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    tracing::info_span!("request", id = %id, method = %req.method(), route = %route)
}

/// Adds the id layers (outermost) and the request span around `router`.
pub fn layers(router: Router) -> Router {
    // Layers run outermost (last added) first.
    router
        .layer(TraceLayer::new_for_http().make_span_with(span))
        .layer(PropagateRequestIdLayer::new(HEADER))
        .layer(SetRequestIdLayer::new(HEADER, NewId))
        .layer(middleware::from_fn(drop_malformed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(well_formed(b"4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(well_formed(b"Root=1-67891233-abcdef012345678912345678"));
        assert!(well_formed(&[b'a'; 64]));
        assert!(!well_formed(&[b'a'; 65]));
        assert!(!well_formed(b""));
        assert!(!well_formed(b"two words"));
        assert!(!well_formed(b"line\nforged"));
        assert!(!well_formed(b"\"quoted\""));
        assert!(!well_formed("caf\u{e9}".as_bytes()));
    }
}
