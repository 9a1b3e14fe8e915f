//! Per-account API rate limit: a token bucket held in memory.
//!
//! Each account may make `per_hour` authenticated requests in a burst, and
//! earns them back evenly over an hour, as Heroku's API does. Every
//! authenticated response says how many are left in `RateLimit-Remaining`;
//! an empty bucket answers 429 `rate_limit`.
//!
//! Known limits: the buckets live in one process, so each `slipway serve`
//! node counts on its own and a restart refills every bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Heroku's documented allowance.
pub const DEFAULT_PER_HOUR: u32 = 4500;

#[derive(Clone)]
pub struct RateLimits {
    per_hour: f64,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimits {
    pub fn new(per_hour: u32) -> Self {
        RateLimits {
            per_hour: f64::from(per_hour.max(1)),
            buckets: Arc::default(),
        }
    }

    /// Takes one request from the account's bucket: the requests left, or
    /// None when the account must wait.
    pub fn take(&self, account_id: &str) -> Option<u32> {
        self.take_at(account_id, Instant::now())
    }

    fn take_at(&self, account_id: &str, now: Instant) -> Option<u32> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(account_id.to_string()).or_insert(Bucket {
            tokens: self.per_hour,
            updated: now,
        });
        let earned =
            now.saturating_duration_since(bucket.updated).as_secs_f64() * self.per_hour / 3600.0;
        bucket.tokens = (bucket.tokens + earned).min(self.per_hour);
        bucket.updated = now;
        if bucket.tokens < 1.0 {
            return None;
        }
        bucket.tokens -= 1.0;
        Some(bucket.tokens.floor() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_down_refuses_when_empty_and_refills_over_time() {
        let limits = RateLimits::new(3600);
        let start = Instant::now();
        assert_eq!(limits.take_at("a", start), Some(3599));
        assert_eq!(limits.take_at("a", start), Some(3598));
        // Another account has its own bucket.
        assert_eq!(limits.take_at("b", start), Some(3599));

        let small = RateLimits::new(2);
        assert_eq!(small.take_at("a", start), Some(1));
        assert_eq!(small.take_at("a", start), Some(0));
        assert_eq!(small.take_at("a", start), None);
        // One request is earned back every 30 minutes at 2 per hour.
        assert_eq!(
            small.take_at("a", start + Duration::from_secs(1801)),
            Some(0)
        );
        assert_eq!(small.take_at("a", start + Duration::from_secs(1802)), None);
    }
}
