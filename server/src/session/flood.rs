//! The per-client flood limiter (pure): a token bucket.

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
}
