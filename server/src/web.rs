//! The HTTP surface: Leptos pages and server functions, static files, the JSON
//! API, and the middleware around them.

use std::path::Path;
use std::sync::Arc;

use app::{shell, App};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{header, Method, StatusCode};
use leptos::config::LeptosOptions;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::admission::{self, Admission};
use crate::api;
use crate::edge::db_gate::{self, DatabaseGate};
use crate::edge::headers::CspNonce;
use crate::edge::{client_ip, event_limits, headers, hosts, timeouts, AllowedHosts, EdgeConfig};
use crate::state::AppState;

/// Request bodies above this are refused with 413 (imports have their own limit).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The router with the edge's loopback defaults for port 3000 (tests).
pub fn router(
    state: impl Into<AppState>,
    options: LeptosOptions,
    site_root: &Path,
    api_config: &api::ApiConfig,
    admission: Admission,
) -> Router {
    router_with_edge(
        state,
        options,
        site_root,
        api_config,
        admission,
        &EdgeConfig::loopback(3000),
    )
}

/// Gives Leptos this request's CSP nonce, so its inline scripts carry the one
/// the `Content-Security-Policy` header names.
fn provide_csp_nonce() {
    if let Some(nonce) =
        use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<CspNonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
}

pub fn router_with_edge(
    state: impl Into<AppState>,
    options: LeptosOptions,
    site_root: &Path,
    api_config: &api::ApiConfig,
    admission: Admission,
    edge: &EdgeConfig,
) -> Router {
    // Not generic below this line: the page types are built in this crate, where
    // the recursion limit is raised, not in each caller's.
    build(
        state.into(),
        options,
        site_root,
        api_config,
        admission,
        edge,
    )
}

fn build(
    state: AppState,
    options: LeptosOptions,
    site_root: &Path,
    api_config: &api::ApiConfig,
    admission: Admission,
    edge: &EdgeConfig,
) -> Router {
    let routes = generate_route_list(App);
    let gate = DatabaseGate::new(state.engine.store.clone());
    let context_state = state.server_functions();
    let pkg_dir = site_root.join(options.site_pkg_dir.as_ref());
    let pages = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || {
                provide_context(context_state.clone());
                provide_csp_nonce();
            },
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .nest_service("/pkg", crate::static_files::pkg_router(&pkg_dir))
        .fallback(leptos_axum::file_and_error_handler_with_context(
            provide_csp_nonce,
            shell,
        ))
        .with_state(options)
        .layer(middleware::from_fn(crate::server_fn_errors::malformed_args))
        // The API sets its own limits (larger for imports) and answers 413 in JSON.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ));
    // Layers run outermost (last added) first.
    let router = Router::new()
        .merge(api::router(state.clone(), api_config))
        .merge(crate::dashboard_export::router(state))
        .merge(pages)
        .layer(middleware::from_fn_with_state(
            edge.allowed_hosts.clone(),
            same_origin_writes,
        ))
        // Before the CSRF check and the handlers: a refused request costs no database work.
        .layer(middleware::from_fn_with_state(admission, admission::admit))
        // Per client, before admission: a flood from one address takes no place in flight.
        .layer(middleware::from_fn_with_state(
            edge.event_limits.clone(),
            event_limits::limit,
        ))
        .layer(middleware::from_fn_with_state(
            edge.timeouts,
            timeouts::limit,
        ))
        .layer(middleware::from_fn_with_state(gate, db_gate::gate))
        .layer(middleware::from_fn_with_state(
            edge.trusted_proxies.clone(),
            client_ip::resolve,
        ))
        .layer(middleware::from_fn_with_state(
            edge.allowed_hosts.clone(),
            hosts::check_host,
        ))
        .layer(middleware::from_fn(headers::security_headers))
        .layer(middleware::from_fn(crate::static_files::html_not_stored))
        // Outside every refusal above, so 421s, 429s and 503s are counted too.
        .layer(middleware::from_fn_with_state(
            edge.http_metrics.clone(),
            crate::observability::http_metrics::record,
        ));
    // The request id and its span around everything, so every log line has it.
    crate::observability::request_id::layers(router)
}

/// CSRF defence: a state-changing request from a browser must come from one of
/// our own origins (SEMREC_ALLOWED_HOSTS, scheme included; never the request's
/// own `Host`, which a DNS-rebinding page controls). Browsers always send Origin
/// (or at least Referer) on such requests; clients without either carry no
/// ambient cookies worth forging (SameSite=Lax). A request with a Bearer key and
/// no cookies is not checked: a browser cannot be tricked into adding that
/// header cross-site (and semrec sends no CORS headers).
async fn same_origin_writes(
    State(hosts): State<Arc<AllowedHosts>>,
    req: Request,
    next: Next,
) -> Response {
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
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .map(|v| v.to_str().unwrap_or("(not text)"));
    if let Some(claimed) = claimed {
        if !hosts.allows_origin(claimed) {
            tracing::warn!(origin = claimed, "refused a cross-origin write");
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
