//! Rate limiting: a token bucket per API key, and per client IP for requests
//! without a valid key. In memory, so each semrec process limits on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Who a bucket belongs to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Client {
    Key(i64),
    Ip(IpAddr),
    /// No peer address known (e.g. a router driven without a socket).
    Unknown,
}

/// Buckets kept before idle (full) ones are dropped, bounding memory.
const MAX_BUCKETS: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Clone, Debug)]
pub struct RateLimiter {
    buckets: Arc<Mutex<HashMap<Client, Bucket>>>,
    per_second: f64,
    burst: f64,
}

impl RateLimiter {
    /// `per_second` requests sustained, up to `burst` at once.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            buckets: Arc::default(),
            per_second: per_second.max(1e-6),
            burst: f64::from(burst.max(1)),
        }
    }

    /// Takes a token for `client`, or returns the whole seconds until one is available.
    pub fn check(&self, client: Client) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: Client, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&client) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.saturating_duration_since(bucket.last).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let t0 = Instant::now();
        let a = Client::Key(1);
        for _ in 0..3 {
            assert_eq!(limiter.check_at(a, t0), Ok(()));
        }
        assert_eq!(limiter.check_at(a, t0), Err(1));
        // Another client has its own bucket.
        assert_eq!(limiter.check_at(Client::Key(2), t0), Ok(()));
        // Half a second at 2/s refills one token.
        assert_eq!(limiter.check_at(a, t0 + Duration::from_millis(500)), Ok(()));
        assert!(limiter
            .check_at(a, t0 + Duration::from_millis(500))
            .is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let limiter = RateLimiter::new(0.1, 1);
        let t0 = Instant::now();
        assert_eq!(limiter.check_at(Client::Unknown, t0), Ok(()));
        assert_eq!(limiter.check_at(Client::Unknown, t0), Err(10));
    }
}
