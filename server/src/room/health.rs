//! How one room's ticks are going, for operators: tick durations and
//! lateness over the last few seconds, and the update bytes it offers its
//! members. Pure: the room's task records each tick with the times it
//! measured; the operator page reads a [`HealthReport`].

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

/// Ticks kept for the recent figures: 10 s at 30 Hz.
pub const RECENT_TICKS: usize = 300;

/// One tick as the room measured it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TickSample {
    /// From the tick's start to the end of its fan-out.
    took: Duration,
    /// How late it started.
    lateness: Duration,
    /// Update bytes offered to members (each member's frame counted).
    update_bytes: u64,
}

/// A room's tick health (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct RoomHealth {
    ticks: u64,
    late_ticks: u64,
    recent: VecDeque<TickSample>,
}

/// The figures an operator sees for one room.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HealthReport {
    /// Ticks run since the room was created.
    pub ticks: u64,
    /// Of them, ticks that started more than a period late.
    pub late_ticks: u64,
    /// Over the recent ticks: mean tick duration, milliseconds.
    pub tick_mean_ms: f64,
    /// Over the recent ticks: 99th percentile tick duration, milliseconds.
    pub tick_p99_ms: f64,
    /// Over the recent ticks: the longest, milliseconds.
    pub tick_max_ms: f64,
    /// Over the recent ticks: the largest lateness, milliseconds.
    pub lateness_max_ms: f64,
    /// Over the recent ticks: update bytes offered per second (all
    /// members together).
    pub update_bytes_per_s: f64,
    /// Over the recent ticks: mean update bytes per tick.
    pub update_bytes_per_tick: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl RoomHealth {
    /// Records one tick of a room ticking every `period`.
    pub fn record(&mut self, period: Duration, took: Duration, lateness: Duration, bytes: u64) {
        self.ticks += 1;
        if lateness > period {
            self.late_ticks += 1;
        }
        if self.recent.len() == RECENT_TICKS {
            self.recent.pop_front();
        }
        self.recent.push_back(TickSample {
            took,
            lateness,
            update_bytes: bytes,
        });
    }

    /// The figures, for a room ticking every `period`.
    pub fn report(&self, period: Duration) -> HealthReport {
        let n = self.recent.len();
        if n == 0 {
            return HealthReport {
                ticks: self.ticks,
                late_ticks: self.late_ticks,
                ..HealthReport::default()
            };
        }
        let mut took: Vec<Duration> = self.recent.iter().map(|s| s.took).collect();
        took.sort_unstable();
        let total: Duration = took.iter().sum();
        let p99 = took[((n * 99).div_ceil(100)).saturating_sub(1).min(n - 1)];
        let bytes: u64 = self.recent.iter().map(|s| s.update_bytes).sum();
        let span = period.as_secs_f64() * n as f64;
        HealthReport {
            ticks: self.ticks,
            late_ticks: self.late_ticks,
            tick_mean_ms: ms(total) / n as f64,
            tick_p99_ms: ms(p99),
            tick_max_ms: ms(took[n - 1]),
            lateness_max_ms: self
                .recent
                .iter()
                .map(|s| ms(s.lateness))
                .fold(0.0, f64::max),
            update_bytes_per_s: if span > 0.0 { bytes as f64 / span } else { 0.0 },
            update_bytes_per_tick: bytes as f64 / n as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_micros(33_333);

    #[test]
    fn recent_figures_cover_the_last_ticks_and_late_ones_are_counted() {
        let mut h = RoomHealth::default();
        assert_eq!(h.report(PERIOD).ticks, 0);
        for i in 0..400u64 {
            let took = Duration::from_micros(100 + i % 100);
            let late = if i == 399 {
                PERIOD * 2
            } else {
                Duration::from_micros(50)
            };
            h.record(PERIOD, took, late, 30 * 16);
        }
        let r = h.report(PERIOD);
        assert_eq!((r.ticks, r.late_ticks), (400, 1));
        assert!((r.tick_max_ms - 0.199).abs() < 1e-9, "{r:?}");
        assert!(r.tick_p99_ms <= r.tick_max_ms && r.tick_p99_ms >= 0.19);
        assert!((r.tick_mean_ms - 0.1495).abs() < 1e-3, "{r:?}");
        assert!((r.lateness_max_ms - ms(PERIOD * 2)).abs() < 1e-9);
        assert!((r.update_bytes_per_tick - 480.0).abs() < 1e-9);
        assert!((r.update_bytes_per_s - 480.0 * 30.0).abs() < 1.0, "{r:?}");
    }
}
