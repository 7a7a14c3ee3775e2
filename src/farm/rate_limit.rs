//! Per-token request rate limits (token buckets), so one tenant's script cannot
//! flood the coordinator. Worker credentials are not limited: their traffic is
//! paced by the lease protocol itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests per second per token, with bursts of up to `burst` requests.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` 0 turns limiting off.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst: burst.max(1.0), buckets: Mutex::default() }
    }

    /// Takes one request from `key`'s bucket; `Err(wait)` when it is empty.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate limiter");
        if buckets.len() > 100_000 {
            // Stale buckets are full ones; dropping them changes nothing.
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() * self.per_second < self.burst);
        }
        let (level, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *level) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(10.0, 3.0);
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.take("a", t0).is_ok()));
        let wait = limiter.take("a", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert!(limiter.take("b", t0).is_ok(), "buckets are per token");
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_err());
        assert!(RateLimiter::new(0.0, 1.0).take("a", t0).is_ok() && RateLimiter::new(0.0, 1.0).take("a", t0).is_ok());
    }
}
