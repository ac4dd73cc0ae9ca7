//! The request timeout: a request (body read included) that has no response
//! after `SEMREC_REQUEST_TIMEOUT` is answered 503 and its work dropped. Imports
//! (the API's bulk import, the dashboard's upload) embed every new line and get
//! `SEMREC_IMPORT_TIMEOUT` instead.

use std::sync::LazyLock;
use std::time::Duration;

use app::pages::import::ImportCatalog;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, Method, StatusCode};
use leptos::server_fn::ServerFn;

use crate::api;

#[derive(Clone, Copy, Debug)]
pub struct RequestTimeouts {
    pub default: Duration,
    pub import: Duration,
}

impl Default for RequestTimeouts {
    fn default() -> Self {
        Self {
            default: Duration::from_secs(30),
            import: Duration::from_secs(30 * 60),
        }
    }
}

/// The API's bulk import and the dashboard's upload, by their routes' own paths.
fn is_import(method: &Method, path: &str) -> bool {
    use crate::api::items::__path_import;
    use utoipa::Path;
    static API_IMPORT: LazyLock<String> = LazyLock::new(__path_import::path);
    method == Method::POST
        && (path.strip_prefix(api::PREFIX) == Some(API_IMPORT.as_str())
            || path == <ImportCatalog as ServerFn>::PATH)
}

/// The middleware.
pub async fn limit(State(t): State<RequestTimeouts>, req: Request, next: Next) -> Response {
    let after = if is_import(req.method(), req.uri().path()) {
        t.import
    } else {
        t.default
    };
    let api = req.uri().path().starts_with(api::PREFIX);
    match tokio::time::timeout(after, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(secs = after.as_secs(), "a request timed out");
            let message = format!(
                "the request took longer than {} s and was stopped: retry later",
                after.as_secs()
            );
            let mut res = if api {
                api::error_response(StatusCode::SERVICE_UNAVAILABLE, "timeout", &message)
                    .into_response()
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, message).into_response()
            };
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_slow_request_is_answered_503_with_retry_after() {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        };
        let app = axum::Router::new()
            .route("/slow", get(slow))
            .route("/api/v1/slow", get(slow))
            .route("/fast", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                RequestTimeouts {
                    default: Duration::from_millis(100),
                    import: Duration::from_secs(60),
                },
                limit,
            ));
        let call = |path: &'static str| {
            let app = app.clone();
            async move {
                let req = http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .unwrap();
                app.oneshot(req).await.unwrap()
            }
        };
        let started = std::time::Instant::now();
        let page = call("/slow").await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.headers()[header::RETRY_AFTER], "5");
        let api = call("/api/v1/slow").await;
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(call("/fast").await.status(), StatusCode::OK);
    }

    #[test]
    fn imports_get_the_long_timeout() {
        assert!(is_import(&Method::POST, "/api/v1/items"));
        assert!(is_import(&Method::POST, "/api/import_catalog"));
        assert!(!is_import(&Method::GET, "/api/v1/items"));
        assert!(!is_import(&Method::POST, "/api/v1/recommendations"));
    }
}
