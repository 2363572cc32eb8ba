//! Figures over a span of whole seconds of the [`Timeline`], for runs
//! whose bot count changes over time (scenario phases): the latency
//! buckets of the span's seconds merged into one percentile reading, and
//! the per-second series with bytes divided by the bots present in each
//! second rather than by one count for the whole run.

use std::ops::Range;
use std::sync::atomic::Ordering;

use super::raw::SecondCounts;
use super::{SecondReport, TIMELINE_BUCKETS, Timeline};

/// What the timeline holds for a span of seconds (the bots it records:
/// well-behaved and resuming).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Span {
    /// Updates applied.
    pub updates: u64,
    /// Median update latency, milliseconds, at bucket resolution (within
    /// about 12 %); 0 without updates.
    pub latency_p50_ms: f64,
    /// 99th percentile update latency, milliseconds, at bucket resolution.
    pub latency_p99_ms: f64,
    /// Downstream payload bytes, all bots together.
    pub bytes_down: u64,
    /// Upstream payload bytes, all bots together.
    pub bytes_up: u64,
}

impl Timeline {
    /// The figures of `seconds` (seconds since the window opened; those
    /// past the timeline's end read as its last slot, where stragglers
    /// land, so a span reaching the end includes them).
    pub fn span(&self, seconds: Range<usize>) -> Span {
        let counts = self.span_counts(seconds);
        Span {
            updates: counts.updates,
            latency_p50_ms: super::raw::quantile_ms(&counts.latency, 0.5),
            latency_p99_ms: super::raw::quantile_ms(&counts.latency, 0.99),
            bytes_down: counts.bytes_down,
            bytes_up: counts.bytes_up,
        }
    }

    /// The raw counts of `seconds` (as [`Timeline::span`] reads them),
    /// summed: mergeable with another timeline's.
    pub fn span_counts(&self, seconds: Range<usize>) -> SecondCounts {
        let mut span = SecondCounts {
            latency: vec![0; TIMELINE_BUCKETS],
            ..SecondCounts::default()
        };
        let last = self.seconds.len() - 1;
        let end = if seconds.end > last {
            self.seconds.len()
        } else {
            seconds.end
        };
        for second in &self.seconds[seconds.start.min(end)..end] {
            for (total, bucket) in span.latency.iter_mut().zip(&second.latency) {
                *total += bucket.load(Ordering::Relaxed);
            }
            span.updates += second.updates.load(Ordering::Relaxed);
            span.bytes_down += second.bytes_down.load(Ordering::Relaxed);
            span.bytes_up += second.bytes_up.load(Ordering::Relaxed);
        }
        span
    }

    /// The per-second series, like [`Timeline::report`], with each second's
    /// bytes divided by `clients(second)` (the recorded bots present in
    /// that second; at least one is assumed).
    pub fn report_varying(&self, clients: impl Fn(usize) -> f64) -> Vec<SecondReport> {
        let mut series = self.report(1);
        for second in &mut series {
            let n = clients(second.second).max(1.0);
            second.down_bytes_per_client /= n;
            second.up_bytes_per_client /= n;
        }
        series
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tickwire_client::{AppliedUpdate, Traffic};
    use tickwire_shared::tick::Tick;

    use super::*;
    use crate::measure::{BotRecorder, Window};

    #[test]
    fn a_span_merges_its_seconds_and_only_those() {
        let timeline = Timeline::new(Duration::from_secs(4));
        // Second 0: ten updates at 1 ms; second 2: ten at 8 ms.
        for _ in 0..10 {
            timeline.record_update(0, 1_000);
            timeline.record_update(2, 8_000);
        }
        timeline.record_bytes(0, 100, 10);
        timeline.record_bytes(2, 300, 30);
        let first = timeline.span(0..1);
        assert_eq!(
            (first.updates, first.bytes_down, first.bytes_up),
            (10, 100, 10)
        );
        assert!((0.9..1.3).contains(&first.latency_p99_ms), "{first:?}");
        let both = timeline.span(0..3);
        assert_eq!((both.updates, both.bytes_down), (20, 400));
        assert!((7.0..10.5).contains(&both.latency_p99_ms), "{both:?}");
        assert!(both.latency_p50_ms < 1.3, "{both:?}");
        let empty = timeline.span(1..2);
        assert_eq!(empty, Span::default());
        // Past the end: the last slot (stragglers) and nothing panics.
        assert_eq!(timeline.span(50..60).updates, 0);
        // The progress line's figure: the second before the newest with
        // data (second 1, empty), as the series reads it.
        let series = timeline.report(1);
        assert_eq!(
            timeline.last_complete_p99_ms(),
            series[series.len() - 2].latency_p99_ms
        );
        timeline.record_update(3, 2_000);
        assert_eq!(timeline.last_complete_p99_ms(), series_p99(&timeline, 2));
    }

    /// The p99 the series gives second `second`.
    fn series_p99(timeline: &Timeline, second: usize) -> f64 {
        let p99 = timeline.report(1)[second].latency_p99_ms;
        assert!(p99 > 7.0, "second {second}: {p99}");
        p99
    }

    #[test]
    fn the_varying_series_divides_by_each_seconds_bots() {
        let window = Window::default();
        let timeline = Timeline::new(Duration::from_secs(3));
        let mut bot = BotRecorder::new(Duration::from_millis(33));
        window.open();
        let t0 = window.opened_at().expect("opened");
        bot.track(&window, &timeline, Traffic::default(), t0);
        let traffic = Traffic {
            payload_in: 400,
            ..Traffic::default()
        };
        bot.on_update(
            &window,
            &timeline,
            &AppliedUpdate {
                tick: Tick(1),
                full: false,
                baseline_age: 1,
                bytes: 400,
                latency_us: 500,
            },
            Instant::now(),
        );
        bot.track(&window, &timeline, traffic, t0);
        let series = timeline.report_varying(|_| 4.0);
        assert_eq!(series[0].down_bytes_per_client, 100.0);
    }
}
