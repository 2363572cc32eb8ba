//! The per-client flood limiter (pure): a token bucket, per second (messages,
//! events) or per minute (room creations).

use std::time::Instant;

/// A token bucket: `rate` messages per second sustained, `burst` at once.
#[derive(Clone, Debug)]
pub struct FloodGuard {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl FloodGuard {
    /// A full bucket at `now`.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// A full bucket of `count` at `now`, refilling `count` a minute.
    pub fn per_minute(count: u32, now: Instant) -> Self {
        let mut guard = Self::new(0, count, now);
        guard.rate = f64::from(count.max(1)) / 60.0;
        guard
    }

    /// Whether the bucket is full again at `now` (so it could be forgotten
    /// and made anew without changing what it allows).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.tokens + elapsed.as_secs_f64() * self.rate >= self.burst
    }

    /// When a token was last asked for.
    pub fn last(&self) -> Instant {
        self.last
    }

    /// Takes a token for a message arriving at `now`; false when the client
    /// is over its rate.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn flood_guard_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(10, 5, t0);
        assert!((0..5).all(|_| guard.allow(t0)));
        assert!(!guard.allow(t0), "burst spent");
        assert!(
            guard.allow(t0 + Duration::from_millis(100)),
            "one token per 100 ms"
        );
        assert!(!guard.allow(t0 + Duration::from_millis(100)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| guard.allow(later)).count(), 5);
    }

    #[test]
    fn per_minute_allows_the_count_then_one_every_60_over_n_seconds() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::per_minute(10, t0);
        assert!((0..10).all(|_| guard.allow(t0)));
        assert!(!guard.allow(t0 + Duration::from_secs(5)), "6 s per room");
        assert!(guard.allow(t0 + Duration::from_millis(6_100)));
        assert!(!guard.is_full(t0 + Duration::from_secs(59)));
        assert!(guard.is_full(t0 + Duration::from_secs(70)));
    }
}
