//! A room's tick schedule (pure): when each tick is due, the instants the
//! room pings its members on and its members' heartbeats beat on, and the
//! timing a joining client is told.

use std::time::{Duration, Instant};

use tickwire_shared::tick::{Tick, TickRate};

/// A room's tick schedule on the monotonic clock: tick `n` is due at
/// `start + period * n`. Members are pinged on it, and their sessions'
/// heartbeats (idle checks) beat on its instants, so neither wakes the
/// shard between ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickClock {
    start: Instant,
    period: Duration,
}

impl TickClock {
    /// A schedule whose tick 0 is `start`.
    pub fn new(start: Instant, period: Duration) -> Self {
        Self { start, period }
    }

    /// The time between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// When tick `n` is due.
    pub fn due(&self, n: u32) -> Instant {
        self.start + self.period * n
    }

    /// Starts the schedule again so that tick `n` is due at `at` (after a
    /// stall, rather than running the missed ticks back to back).
    pub fn restart(&mut self, n: u32, at: Instant) {
        self.start = at.checked_sub(self.period * n).unwrap_or(at);
    }

    /// The first tick instant strictly after `at`.
    pub fn next_after(&self, at: Instant) -> Instant {
        let elapsed = at.saturating_duration_since(self.start).as_nanos();
        let n = elapsed / self.period.as_nanos().max(1) + 1;
        u32::try_from(n).map_or(at, |n| self.due(n))
    }

    /// How many ticks `every` is, rounded (at least one).
    pub fn ticks_in(&self, every: Duration) -> u32 {
        let ticks = (every.as_secs_f64() / self.period.as_secs_f64()).round();
        ticks.clamp(1.0, f64::from(u32::MAX)) as u32
    }

    /// `every` rounded to a whole number of ticks (at least one).
    pub fn whole_ticks(&self, every: Duration) -> Duration {
        self.period * self.ticks_in(every)
    }
}

/// The room's schedule, for a client's `Joined` and its session's
/// heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomTiming {
    /// The room's tick rate.
    pub tick_rate: TickRate,
    /// When tick 0 was due, microseconds since the Unix epoch.
    pub tick_zero_unix_us: u64,
    /// The newest tick simulated when the client joined.
    pub tick: Tick,
    /// The schedule on the monotonic clock.
    pub clock: TickClock,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> TickClock {
        TickClock::new(
            Instant::now(),
            TickRate::new(30).expect("valid rate").period(),
        )
    }

    #[test]
    fn next_after_lands_on_the_following_tick_instant() {
        let clock = clock();
        assert_eq!(clock.next_after(clock.start), clock.due(1));
        assert_eq!(clock.next_after(clock.due(5)), clock.due(6));
        let inside = clock.due(7) + clock.period / 3;
        assert_eq!(clock.next_after(inside), clock.due(8));
        // Before the schedule began: its first tick.
        let before = clock.start.checked_sub(Duration::from_secs(1));
        if let Some(before) = before {
            assert_eq!(clock.next_after(before), clock.due(1));
        }
    }

    #[test]
    fn whole_ticks_rounds_to_the_nearest_number_of_ticks_and_stays_aligned() {
        let clock = clock();
        assert_eq!(clock.whole_ticks(Duration::from_secs(1)), clock.period * 30);
        assert_eq!(
            clock.whole_ticks(Duration::from_millis(100)),
            clock.period * 3
        );
        assert_eq!(clock.whole_ticks(Duration::from_millis(1)), clock.period);
        // A heartbeat stepped from a tick instant stays on tick instants,
        // exactly: the same instants the room sleeps until.
        let step = clock.whole_ticks(Duration::from_secs(1));
        let mut beat = clock.next_after(clock.start);
        for n in 1..=5u32 {
            beat += step;
            assert_eq!(beat, clock.due(1 + 30 * n));
        }
    }

    #[test]
    fn restart_makes_the_given_tick_due_at_the_given_instant() {
        let mut clock = clock();
        let later = clock.due(100) + Duration::from_secs(3);
        clock.restart(101, later);
        assert_eq!(clock.due(101), later);
    }
}
