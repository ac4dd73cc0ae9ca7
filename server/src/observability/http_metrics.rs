//! Per-route request metrics: latency histograms, responses by status class,
//! refusals (429/503) and requests in flight. Routes are labelled by the
//! pattern axum matched (`/api/v1/items/{id}`, a server function's endpoint
//! `/api/get_recommendations`), never the raw URI, so the label sets stay
//! bounded whatever clients send; requests no route matched share `unmatched`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Latency buckets, seconds: from a cached page (a few ms) to the request timeout.
const LATENCY_BUCKETS: [f64; 13] = [
    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    route: String,
    method: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    route: String,
    status: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The request metrics; cloning shares them. A default instance that was never
/// registered records into families nobody reads (routers built in tests).
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    responses: Family<StatusLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    in_flight: Gauge,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            latency: Family::new_with_constructor(latency_histogram),
            responses: Family::default(),
            refusals: Family::default(),
            in_flight: Gauge::default(),
        }
    }
}

impl HttpMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register_with_unit(
            "semrec_http_request_duration",
            "Time from a request's arrival to its response head, by matched route and method",
            Unit::Seconds,
            metrics.latency.clone(),
        );
        registry.register(
            "semrec_http_responses",
            "Responses by matched route, method and status class (2xx, 4xx...)",
            metrics.responses.clone(),
        );
        registry.register(
            "semrec_http_refusals",
            "Requests refused with 429 (rate and in-flight limits, a full embedding queue, imports) or 503 (busy page, database unavailable, timeout), by matched route and status",
            metrics.refusals.clone(),
        );
        registry.register(
            "semrec_http_requests_in_flight",
            "HTTP requests being answered now (all routes)",
            metrics.in_flight.clone(),
        );
        metrics
    }
}

/// Methods outside this list share one label value, so a client inventing
/// methods cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Lowers the in-flight gauge however the request ends (a dropped future too).
struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The middleware. Installed with `Router::layer`, so it runs after routing
/// and sees the matched route.
pub async fn record(State(metrics): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method());
    metrics.in_flight.inc();
    let _in_flight = InFlight(metrics.in_flight.clone());
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method,
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .responses
        .get_or_create(&StatusLabels {
            route: route.clone(),
            method,
            status_class: status_class(status),
        })
        .inc();
    let refused = match status {
        429 => Some("429"),
        503 => Some("503"),
        _ => None,
    };
    if let Some(status) = refused {
        metrics
            .refusals
            .get_or_create(&RefusalLabels { route, status })
            .inc();
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
