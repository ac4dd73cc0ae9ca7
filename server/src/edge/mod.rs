//! The HTTP edge: what every request meets before routing (host allow-list,
//! client address, security headers, request timeout) and the accept loop
//! (header read timeout, bounded graceful shutdown).

pub mod client_ip;
pub mod db_gate;
pub mod event_limits;
pub mod head_errors;
pub mod headers;
pub mod hosts;
pub mod serve;
pub mod timeouts;

use std::sync::Arc;

pub use client_ip::TrustedProxies;
pub use event_limits::EventLimits;
pub use hosts::AllowedHosts;
pub use timeouts::RequestTimeouts;

/// The edge's settings, resolved from the configuration.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    pub allowed_hosts: Arc<AllowedHosts>,
    pub trusted_proxies: Arc<TrustedProxies>,
    pub timeouts: RequestTimeouts,
    /// Impressions and clicks per client address (web pages and server functions).
    pub event_limits: EventLimits,
    /// Where request latencies and statuses are recorded (registered for
    /// `/metrics` by the binary; a default one records into nothing read).
    pub http_metrics: crate::observability::HttpMetrics,
}

impl EdgeConfig {
    /// Loopback defaults for a server listening on 127.0.0.1:`port`, trusting no proxy.
    pub fn loopback(port: u16) -> Self {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            allowed_hosts: Arc::new(
                AllowedHosts::for_loopback(addr, "http").expect("127.0.0.1 is loopback"),
            ),
            trusted_proxies: Arc::default(),
            timeouts: RequestTimeouts::default(),
            event_limits: EventLimits::default(),
            http_metrics: Default::default(),
        }
    }
}
