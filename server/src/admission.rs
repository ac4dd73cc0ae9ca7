//! Admission control at the HTTP edge: at most `limit` ranking requests (the
//! JSON API's recommendations and similar items, the web app's recommendations
//! and catalog search) are served at once; the next one is answered 429 with
//! `Retry-After` straight away.
//!
//! It sits in front of everything else because the queueing it prevents happens
//! early: an overloaded server's requests wait for database connections in their
//! session and profile lookups before they reach the embedder or the ranking
//! query. A limit inside the engine was tried and measured (BENCHMARKS.md, "HTTP
//! load"): its refusals came after that wait and cost 400 ms each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, Method, StatusCode};
use leptos::prelude::ServerFnError;
use leptos::server_fn::error::FromServerFnError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api;

/// Ranking requests served at once by default: 8 per core. On 2 cores 16 already
/// keep the machine busy, and admitted requests waited 300 ms p99 at 64 clients
/// against 545 ms with 32 and 800–920 ms without a limit (BENCHMARKS.md, "HTTP load").
pub fn default_max_in_flight() -> usize {
    8 * std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// What a refused client is told to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

const BUSY_MESSAGE: &str = "The server is busy, try again in a moment.";

/// The shared in-flight limit; cloning shares it.
#[derive(Clone, Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    limit: usize,
    refused: Arc<AtomicU64>,
}

impl Default for Admission {
    fn default() -> Self {
        Self::new(default_max_in_flight())
    }
}

impl Admission {
    /// At most `limit` (at least 1) ranking requests at once.
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            refused: Arc::default(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A place among the requests in flight, held until dropped; `None` when all are taken.
    pub fn try_admit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }
}

/// Who sent a ranking request, which decides how a refusal is worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// `/api/v1/...`: errors in the API's JSON shape.
    Api,
    /// A Leptos server function: errors in its own encoding, for the island to show.
    ServerFunction,
}

/// The requests that embed text or run a ranking query, and so are limited.
fn ranking_request(method: &Method, path: &str) -> Option<Caller> {
    if method != Method::POST {
        return None;
    }
    if let Some(rest) = path.strip_prefix(api::PREFIX) {
        let similar = rest
            .strip_prefix("/items/")
            .and_then(|r| r.strip_suffix("/similar"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'));
        return (rest == "/recommendations" || similar).then_some(Caller::Api);
    }
    matches!(path, "/api/get_recommendations" | "/api/search_catalog")
        .then_some(Caller::ServerFunction)
}

/// The middleware: admits a ranking request or refuses it before any work.
pub async fn admit(State(admission): State<Admission>, req: Request, next: Next) -> Response {
    let Some(caller) = ranking_request(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let Some(_permit) = admission.try_admit() else {
        let refused = admission.refused.fetch_add(1, Ordering::Relaxed) + 1;
        // Sparse enough to survive a flood: the 1st, 2nd, 4th, 8th... refusal.
        if refused.is_power_of_two() {
            tracing::warn!(
                refused,
                limit = admission.limit,
                "ranking requests refused since start: SEMREC_MAX_IN_FLIGHT is reached"
            );
        }
        return busy(caller);
    };
    next.run(req).await
}

fn busy(caller: Caller) -> Response {
    let mut res = match caller {
        Caller::Api => api::error_response(StatusCode::TOO_MANY_REQUESTS, "busy", BUSY_MESSAGE),
        Caller::ServerFunction => {
            // The encoding the server function's client decodes into the error it shows.
            let error: ServerFnError = ServerFnError::ServerError(BUSY_MESSAGE.into());
            let body = error.ser();
            let content_type = HeaderValue::from_static("text/plain; charset=utf-8");
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, content_type)],
                body,
            )
                .into_response()
        }
    };
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ranking_requests_are_limited() {
        let post = Method::POST;
        assert_eq!(
            ranking_request(&post, "/api/v1/recommendations"),
            Some(Caller::Api)
        );
        assert_eq!(
            ranking_request(&post, "/api/v1/items/tt01/similar"),
            Some(Caller::Api)
        );
        assert_eq!(
            ranking_request(&post, "/api/get_recommendations"),
            Some(Caller::ServerFunction)
        );
        assert_eq!(ranking_request(&post, "/api/v1/items"), None);
        assert_eq!(ranking_request(&post, "/api/v1/items//similar"), None);
        assert_eq!(ranking_request(&post, "/api/v1/events/clicks"), None);
        assert_eq!(ranking_request(&post, "/api/sign_in"), None);
        assert_eq!(
            ranking_request(&Method::GET, "/api/v1/recommendations"),
            None
        );
    }

    #[test]
    fn permits_are_returned_when_dropped() {
        let admission = Admission::new(2);
        let a = admission.try_admit().expect("first");
        let _b = admission.try_admit().expect("second");
        assert!(admission.try_admit().is_none());
        drop(a);
        assert!(admission.try_admit().is_some());
        assert_eq!(Admission::new(0).limit(), 1);
    }
}
