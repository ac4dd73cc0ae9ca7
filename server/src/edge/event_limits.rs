//! Clicks and impressions per client: the web requests that record one (an item
//! page, which records the click of its `?imp=` link and the impression of its
//! "more like this" list; the signed-in home page; the `get_recommendations` and
//! `open_item` server functions) are limited per client address, in memory, to
//! `SEMREC_EVENT_RATE` a minute with bursts of `SEMREC_EVENT_BURST`. Beyond it the
//! request is answered 429 with `Retry-After` before any database work.
//!
//! The key is the address, not the session: a session costs nothing to open
//! (signing in again with a known handle opens a new one), so a limit per
//! session would be reset by every new sign-in. The JSON API's events are
//! limited per API key by the API's own rate limit instead.

use std::net::IpAddr;

use app::chips::SearchCatalog;
use app::client::ClientIp;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use leptos::server_fn::ServerFn;

use crate::admission::{self, Caller};
use crate::api::limits::{Client, RateLimiter};

/// Default web events (impressions and clicks) per minute per client address.
pub const DEFAULT_PER_MINUTE: u32 = 120;
/// Default burst: how many may come at once before the rate applies.
pub const DEFAULT_BURST: u32 = 60;

const MESSAGE: &str = "Too many pages and lists from your address in a short time; slow down";

/// The shared limiter; cloning shares it.
#[derive(Clone, Debug)]
pub struct EventLimits {
    limiter: RateLimiter,
    per_minute: u32,
    burst: u32,
}

impl Default for EventLimits {
    fn default() -> Self {
        Self::new(DEFAULT_PER_MINUTE, DEFAULT_BURST)
    }
}

impl EventLimits {
    /// `per_minute` events sustained per client address, `burst` at once (each at least 1).
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = per_minute.max(1);
        Self {
            limiter: RateLimiter::new(f64::from(per_minute) / 60.0, burst.max(1)),
            per_minute,
            burst: burst.max(1),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Takes one event for `ip`, or the whole seconds to wait.
    fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        self.limiter.check(ip.map_or(Client::Unknown, |ip| {
            // IPv6 clients are counted per /64, as the other per-address limits do.
            Client::Ip(match ip.to_canonical() {
                IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
                v4 => v4,
            })
        }))
    }
}

/// Whether a request records impressions or clicks for a web client.
fn records_events(req: &Request) -> Option<Caller> {
    let caller = admission::ranking_request(req.method(), req.uri().path(), req.headers())?;
    // Catalog search (the history picker) ranks but records nothing.
    let search = req.uri().path() == <SearchCatalog as ServerFn>::PATH;
    match caller {
        Caller::Page | Caller::ServerFunction if !search => Some(caller),
        _ => None,
    }
}

/// The middleware: behind the client address's resolution, before admission.
pub async fn limit(State(limits): State<EventLimits>, req: Request, next: Next) -> Response {
    let Some(caller) = records_events(&req) else {
        return next.run(req).await;
    };
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    match limits.check(ip) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::warn!(ip = ?ip, wait, "web events refused: SEMREC_EVENT_RATE reached");
            admission::refuse(
                caller,
                StatusCode::TOO_MANY_REQUESTS,
                &format!("{MESSAGE}: try again in {wait} s."),
                wait,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn get(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    #[test]
    fn only_requests_that_record_web_events_are_counted() {
        assert_eq!(records_events(&get("/item/x?imp=1")), Some(Caller::Page));
        let post = |p: &str| {
            Request::builder()
                .method("POST")
                .uri(p)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            records_events(&post("/api/open_item")),
            Some(Caller::ServerFunction)
        );
        assert_eq!(
            records_events(&post("/api/get_recommendations")),
            Some(Caller::ServerFunction)
        );
        assert_eq!(records_events(&post("/api/search_catalog")), None);
        assert_eq!(records_events(&post("/api/v1/recommendations")), None);
        assert_eq!(records_events(&get("/")), None);
        assert_eq!(records_events(&get("/admin")), None);
    }

    #[test]
    fn a_burst_then_a_wait_per_address_and_per_ipv6_network() {
        let limits = EventLimits::new(60, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limits.check(Some(a)).is_ok());
        assert!(limits.check(Some(a)).is_ok());
        assert_eq!(limits.check(Some(a)), Err(1));
        assert!(limits.check(Some("10.0.0.2".parse().unwrap())).is_ok());
        let v6 = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(limits.check(v6("2001:db8::1")).is_ok());
        assert!(limits.check(v6("2001:db8::2")).is_ok());
        assert!(limits.check(v6("2001:db8::3")).is_err(), "one /64");
    }
}
