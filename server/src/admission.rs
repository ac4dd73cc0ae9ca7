//! Admission control at the HTTP edge: at most `limit` ranking requests (the
//! JSON API's recommendations and similar items, the web app's recommendations,
//! catalog search and item pages, and the server-rendered pages that rank) are
//! served at once; the next one is answered straight away: 429 with
//! `Retry-After` for the API and server functions, a "busy, retrying" page
//! (503, `Retry-After`, an automatic reload) for pages.
//!
//! It sits in front of everything else because the queueing it prevents happens
//! early: an overloaded server's requests wait for database connections in their
//! session and profile lookups before they reach the embedder or the ranking
//! query. A limit inside the engine was tried and measured (BENCHMARKS.md, "HTTP
//! load"): its refusals came after that wait and cost 400 ms each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use app::chips::SearchCatalog;
use app::pages::home::GetRecommendations;
use app::pages::item::OpenItem;
use app::session::USER_COOKIE;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use leptos::prelude::ServerFnError;
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::ServerFn;
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

    /// Ranking requests holding a place now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }

    /// Ranking requests refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A place among the requests in flight, held until dropped; `None` when all are taken.
    pub fn try_admit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }
}

/// Who sent a ranking request, which decides how a refusal is worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// `/api/v1/...`: errors in the API's JSON shape.
    Api,
    /// A Leptos server function: errors in its own encoding, for the island to show.
    ServerFunction,
    /// A server-rendered page that ranks while it renders: a page that reloads itself.
    Page,
}

/// The server functions that embed text or run a ranking query.
fn ranking_server_fn(path: &str) -> bool {
    [
        <GetRecommendations as ServerFn>::PATH,
        <SearchCatalog as ServerFn>::PATH,
        <OpenItem as ServerFn>::PATH,
    ]
    .contains(&path)
}

/// The JSON API's ranking endpoints, by the paths their handlers are routed
/// (and documented) at: `/recommendations`, `/items/{id}/similar`.
fn api_ranking(rest: &str) -> bool {
    use crate::api::recommendations::{__path_recommend, __path_similar};
    use utoipa::Path;
    static PATHS: LazyLock<[String; 2]> =
        LazyLock::new(|| [__path_recommend::path(), __path_similar::path()]);
    PATHS
        .iter()
        .any(|template| matches_template(template, rest))
}

/// `/items/ab/similar` matches `/items/{id}/similar`: the same literal segments,
/// and a non-empty segment for each `{parameter}`.
fn matches_template(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return false;
                }
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}

/// Whether the request carries an end user's session cookie (the home page
/// ranks only for a signed-in user; without one it is a sign-in form).
fn signed_in(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|kv| {
            kv.trim()
                .split_once('=')
                .is_some_and(|(k, _)| k == USER_COOKIE)
        })
}

/// The requests that embed text or run a ranking query, and so are limited.
pub(crate) fn ranking_request(method: &Method, path: &str, headers: &HeaderMap) -> Option<Caller> {
    if method == Method::GET || method == Method::HEAD {
        // Pages call the same server functions in process while they render.
        let item_page = path
            .strip_prefix("/item/")
            .is_some_and(|id| !id.is_empty() && !id.contains('/'));
        return (item_page || (path == "/" && signed_in(headers))).then_some(Caller::Page);
    }
    if method != Method::POST {
        return None;
    }
    if let Some(rest) = path.strip_prefix(api::PREFIX) {
        return api_ranking(rest).then_some(Caller::Api);
    }
    ranking_server_fn(path).then_some(Caller::ServerFunction)
}

/// The middleware: admits a ranking request or refuses it before any work.
pub async fn admit(State(admission): State<Admission>, req: Request, next: Next) -> Response {
    let Some(caller) = ranking_request(req.method(), req.uri().path(), req.headers()) else {
        return next.run(req).await;
    };
    let Some(permit) = admission.try_admit() else {
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
    let res = next.run(req).await;
    // The place is held until the body is sent: a page may still be rendering.
    let (parts, body) = res.into_parts();
    let body = Body::from_stream(futures_util::StreamExt::map(
        body.into_data_stream(),
        move |chunk| {
            let _held = &permit;
            chunk
        },
    ));
    Response::from_parts(parts, body)
}

/// A page that says the server is busy and reloads itself (no script needed).
fn busy_page() -> Response {
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{RETRY_AFTER_SECS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Busy — semrec</title></head>
<body><main><h1>The server is busy</h1>
<p>Too many recommendations are being computed right now. This page retries by itself in a moment.</p>
</main></body></html>"#
    );
    (StatusCode::SERVICE_UNAVAILABLE, Html(html)).into_response()
}

fn busy(caller: Caller) -> Response {
    match caller {
        Caller::Page => {
            let mut res = busy_page();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            res
        }
        _ => refuse(
            caller,
            StatusCode::TOO_MANY_REQUESTS,
            BUSY_MESSAGE,
            RETRY_AFTER_SECS,
        ),
    }
}

/// A refusal worded for its caller, with `Retry-After`: the API's JSON error
/// (code `busy`), a server function's own error encoding (the message the
/// island shows), or a plain page that says when to come back.
pub(crate) fn refuse(
    caller: Caller,
    status: StatusCode,
    message: &str,
    retry_after_secs: u64,
) -> Response {
    let mut res = match caller {
        Caller::Api => api::error_response(status, "busy", message),
        Caller::ServerFunction => {
            // The encoding the server function's client decodes into the error it shows.
            let error: ServerFnError = ServerFnError::ServerError(message.into());
            let content_type = HeaderValue::from_static("text/plain; charset=utf-8");
            (status, [(header::CONTENT_TYPE, content_type)], error.ser()).into_response()
        }
        Caller::Page => {
            let html = format!(
                r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Slow down — semrec</title></head>
<body><main><h1>Slow down</h1><p>{}</p></main></body></html>"#,
                html_escape(message)
            );
            (status, Html(html)).into_response()
        }
    };
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs.max(1)),
    );
    res
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ranking_requests_are_limited() {
        let post = Method::POST;
        let none = HeaderMap::new();
        let mut cookie = HeaderMap::new();
        cookie.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; semrec_session=x"),
        );
        let rank = |m: &Method, p: &str| ranking_request(m, p, &none);
        assert_eq!(rank(&post, "/api/v1/recommendations"), Some(Caller::Api));
        assert_eq!(rank(&post, "/api/v1/items/tt01/similar"), Some(Caller::Api));
        assert_eq!(
            rank(&post, "/api/get_recommendations"),
            Some(Caller::ServerFunction)
        );
        assert_eq!(rank(&post, "/api/open_item"), Some(Caller::ServerFunction));
        assert_eq!(
            rank(&post, "/api/search_catalog"),
            Some(Caller::ServerFunction)
        );
        assert_eq!(rank(&Method::GET, "/item/tt01"), Some(Caller::Page));
        assert_eq!(
            ranking_request(&Method::GET, "/", &cookie),
            Some(Caller::Page)
        );
        assert_eq!(rank(&Method::GET, "/"), None);
        assert_eq!(rank(&Method::GET, "/admin"), None);
        assert_eq!(rank(&Method::GET, "/pkg/semrec.js"), None);
        assert_eq!(rank(&post, "/api/v1/items"), None);
        assert_eq!(rank(&post, "/api/v1/items//similar"), None);
        assert_eq!(rank(&post, "/api/v1/events/clicks"), None);
        assert_eq!(rank(&post, "/api/sign_in"), None);
        assert_eq!(rank(&Method::GET, "/api/v1/recommendations"), None);
    }

    #[test]
    fn permits_are_returned_when_dropped() {
        let admission = Admission::new(2);
        let a = admission.try_admit().expect("first");
        let _b = admission.try_admit().expect("second");
        assert!(admission.try_admit().is_none());
        assert_eq!(admission.in_flight(), 2);
        drop(a);
        assert_eq!(admission.in_flight(), 1);
        assert!(admission.try_admit().is_some());
        assert_eq!(Admission::new(0).limit(), 1);
    }
}
