//! The HTTP surface: Leptos pages and server functions, static files, the JSON
//! API, and the middleware around them.

use std::path::Path;

use app::session::ServerState;
use app::{shell, App};
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{header, Method, StatusCode};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::admission::{self, Admission};
use crate::api;

/// Request bodies above this are refused with 413 (imports have their own limit).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub fn router(
    state: ServerState,
    options: LeptosOptions,
    site_root: &Path,
    api_config: &api::ApiConfig,
    admission: Admission,
) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let pkg_dir = site_root.join(options.site_pkg_dir.as_ref());
    let pages = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || provide_context(context_state.clone()),
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .nest_service("/pkg", ServeDir::new(pkg_dir).precompressed_gzip())
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .layer(middleware::from_fn(crate::server_fn_errors::malformed_args))
        // The API sets its own limits (larger for imports) and answers 413 in JSON.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ));
    Router::new()
        .merge(api::router(state, api_config))
        .merge(pages)
        .layer(middleware::from_fn(same_origin_writes))
        // Outermost but for tracing: a refused request costs no database work.
        .layer(middleware::from_fn_with_state(admission, admission::admit))
        .layer(TraceLayer::new_for_http())
}

/// CSRF defence: a state-changing request from a browser must come from our own
/// origin. Browsers always send Origin (or at least Referer) on such requests;
/// clients without either carry no ambient cookies worth forging (SameSite=Lax).
/// A request with a Bearer key and no cookies is not checked: a browser cannot
/// be tricked into adding that header cross-site (and semrec sends no CORS headers).
async fn same_origin_writes(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("bearer "));
    if bearer && !headers.contains_key(header::COOKIE) {
        return next.run(req).await;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    if let Some(claimed) = claimed {
        if origin_authority(claimed) != Some(host) {
            tracing::warn!(origin = claimed, host, "refused a cross-origin write");
            return api::error_response(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "Cross-origin requests may not change data.",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// "http://host:port/path" → "host:port"; "null" and garbage → None.
fn origin_authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::origin_authority;

    #[test]
    fn origin_authority_extracts_host_and_port() {
        assert_eq!(
            origin_authority("http://127.0.0.1:3000"),
            Some("127.0.0.1:3000")
        );
        assert_eq!(
            origin_authority("https://evil.example/x?y"),
            Some("evil.example")
        );
        assert_eq!(origin_authority("null"), None);
    }
}
