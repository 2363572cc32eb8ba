//! Room creations per address (pure): one token bucket per IP address,
//! bounded in number. A bucket full again (a minute without creating)
//! is forgotten: a new one would allow the same.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use crate::session::FloodGuard;

/// Creations between sweeps of the forgotten buckets: keeps the map near
/// the addresses active in the last minute without a sweep per request.
const SWEEP_EVERY: u32 = 1024;

/// Rooms created a minute per address.
#[derive(Debug)]
pub struct CreationLimiter {
    per_minute: u32,
    max_tracked: usize,
    buckets: HashMap<IpAddr, FloodGuard>,
    since_sweep: u32,
}

impl CreationLimiter {
    /// `per_minute` creations per address, at most `max_tracked` addresses
    /// remembered.
    pub fn new(per_minute: u32, max_tracked: usize) -> Self {
        Self {
            per_minute,
            max_tracked: max_tracked.max(1),
            buckets: HashMap::new(),
            since_sweep: 0,
        }
    }

    /// The allowance per address.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Addresses remembered now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Takes one creation for `ip` at `now`; false when it is over its
    /// allowance.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY
            || (self.buckets.len() >= self.max_tracked && !self.buckets.contains_key(&ip))
        {
            self.since_sweep = 0;
            self.buckets.retain(|_, bucket| !bucket.is_full(now));
        }
        if self.buckets.len() >= self.max_tracked && !self.buckets.contains_key(&ip) {
            // Every address is busy: forget the one idle longest (it gets
            // a full allowance back, which bounds memory, not creations:
            // max_rooms still does).
            let oldest = self
                .buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.last())
                .map(|(&ip, _)| ip);
            if let Some(oldest) = oldest {
                self.buckets.remove(&oldest);
            }
        }
        let per_minute = self.per_minute;
        self.buckets
            .entry(ip)
            .or_insert_with(|| FloodGuard::per_minute(per_minute, now))
            .allow(now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn each_address_has_its_allowance_per_minute() {
        let t0 = Instant::now();
        let mut limiter = CreationLimiter::new(3, 100);
        assert!((0..3).all(|_| limiter.allow(ip(1), t0)));
        assert!(!limiter.allow(ip(1), t0), "over its allowance");
        assert!(limiter.allow(ip(2), t0), "another address is not affected");
        assert!(
            limiter.allow(ip(1), t0 + Duration::from_secs(20)),
            "one back every 20 s"
        );
        assert!(!limiter.allow(ip(1), t0 + Duration::from_secs(21)));
    }

    #[test]
    fn remembered_addresses_are_bounded_and_idle_ones_forgotten() {
        let t0 = Instant::now();
        let mut limiter = CreationLimiter::new(2, 4);
        for n in 0..4 {
            assert!(limiter.allow(ip(n), t0));
        }
        assert_eq!(limiter.tracked(), 4);
        // A minute later all are full again: a new address sweeps them.
        let later = t0 + Duration::from_secs(61);
        assert!(limiter.allow(ip(9), later));
        assert_eq!(limiter.tracked(), 1);
        // All busy at once: the one idle longest makes room.
        for n in 10..13 {
            assert!(limiter.allow(ip(n), later + Duration::from_millis(u64::from(n))));
        }
        assert!(limiter.allow(ip(20), later + Duration::from_secs(1)));
        assert_eq!(limiter.tracked(), 4);
        for _ in 0..10_000 {
            limiter.allow(ip(30), later);
        }
        assert!(limiter.tracked() <= 4);
    }
}
