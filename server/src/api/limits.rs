//! Rate limiting: a GCRA limiter (the `governor` crate) per API key, and per
//! client IP for requests without a valid key. In memory, so each semrec
//! process limits on its own.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

/// Who a limit belongs to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Client {
    Key(i64),
    Ip(IpAddr),
    /// No peer address known (e.g. a router driven without a socket).
    Unknown,
}

/// Clients remembered before those back at a full burst are forgotten, bounding memory.
const MAX_CLIENTS: usize = 10_000;

type Keyed<C> = governor::RateLimiter<
    Client,
    DashMapStateStore<Client>,
    C,
    NoOpMiddleware<<C as Clock>::Instant>,
>;

#[derive(Clone)]
pub struct RateLimiter<C: Clock + Clone = DefaultClock> {
    limiter: Arc<Keyed<C>>,
    clock: C,
}

impl<C: Clock + Clone> std::fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("clients", &self.limiter.len())
            .finish()
    }
}

fn quota(per_second: f64, burst: u32) -> Quota {
    let per_second = per_second.max(1e-6);
    // One request is replenished every 1/rate seconds; at most `burst` at once.
    let period = Duration::from_secs_f64((1.0 / per_second).min(1e9));
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl RateLimiter {
    /// `per_second` requests sustained, up to `burst` at once.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self::with_clock(per_second, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    fn with_clock(per_second: f64, burst: u32, clock: C) -> Self {
        Self {
            limiter: Arc::new(Keyed::dashmap_with_clock(
                quota(per_second, burst),
                clock.clone(),
            )),
            clock,
        }
    }

    /// Takes one request for `client`, or returns the whole seconds until one is allowed.
    pub fn check(&self, client: Client) -> Result<(), u64> {
        if self.limiter.len() >= MAX_CLIENTS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(2.0, 3, clock.clone());
        let a = Client::Key(1);
        for _ in 0..3 {
            assert_eq!(limiter.check(a), Ok(()));
        }
        assert_eq!(limiter.check(a), Err(1));
        // Another client has its own allowance.
        assert_eq!(limiter.check(Client::Key(2)), Ok(()));
        // Half a second at 2/s allows one more.
        clock.advance(Duration::from_millis(500));
        assert_eq!(limiter.check(a), Ok(()));
        assert!(limiter.check(a).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let limiter = RateLimiter::with_clock(0.1, 1, FakeRelativeClock::default());
        assert_eq!(limiter.check(Client::Unknown), Ok(()));
        assert_eq!(limiter.check(Client::Unknown), Err(10));
    }

    #[test]
    fn idle_clients_are_forgotten_beyond_the_bound() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(1000.0, 1, clock.clone());
        for n in 0..MAX_CLIENTS as i64 {
            assert_eq!(limiter.check(Client::Key(n)), Ok(()));
        }
        clock.advance(Duration::from_secs(1));
        assert_eq!(limiter.check(Client::Key(-1)), Ok(()));
        assert!(limiter.limiter.len() < 10, "{}", limiter.limiter.len());
    }
}
