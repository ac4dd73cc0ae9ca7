//! What operators plug in: Prometheus metrics on their own address
//! (`SEMREC_METRICS_ADDR`, loopback by default, never the public port) and
//! request ids in every log line of a request.

pub mod address;
pub mod http_metrics;
pub mod observed;
pub mod replicas;
pub mod request_id;
pub mod runtime;
pub mod signals;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::Engine;
use http::{header, StatusCode};
use prometheus_client::registry::Registry;

use crate::admission::Admission;
pub use http_metrics::HttpMetrics;
use signals::Signals;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry with every metric, and the request metrics the router records into.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    signals: Signals,
    pub http: HttpMetrics,
}

impl Metrics {
    pub fn new(engine: &Engine, admission: &Admission) -> Self {
        let mut registry = Registry::default();
        let http = HttpMetrics::register(&mut registry);
        let signals = Signals::new(engine.clone(), signals::DEFAULT_TTL);
        runtime::register(&mut registry, engine, admission, &signals);
        Self {
            registry: Arc::new(registry),
            signals,
            http,
        }
    }

    /// The exposition text (OpenMetrics), after refreshing the cached signals if stale.
    pub async fn render(&self) -> Result<String, std::fmt::Error> {
        self.signals.refresh_if_stale().await;
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    match metrics.render().await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        )
            .into_response(),
    }
}

/// 421 for a `Host` that is not a loopback name (see [`address::loopback_host`]).
async fn loopback_hosts_only(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !address::loopback_host(host) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "the metrics address answers only loopback host names (127.0.0.1, localhost, [::1])",
        )
            .into_response();
    }
    next.run(req).await
}

/// The metrics address's whole surface: `GET /metrics`; anything else 404.
/// On a loopback address only loopback `Host` names are answered.
pub fn router(metrics: Metrics, loopback: bool) -> Router {
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics);
    if loopback {
        router.layer(middleware::from_fn(loopback_hosts_only))
    } else {
        router
    }
}

/// Serves `/metrics` on `listener` until the task is aborted.
pub fn spawn(listener: tokio::net::TcpListener, metrics: Metrics) -> tokio::task::JoinHandle<()> {
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("metrics listening on http://{addr}/metrics");
    }
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(metrics, loopback)).await {
            tracing::error!("serving metrics: {e}");
        }
    })
}
