//! What bots measure (hdrhistogram recorders, one per bot, merged at the
//! end) and the figures a run reports. Only what happens inside the
//! measurement window counts: it opens once every bot has joined, so
//! connection storms and full snapshots on join do not skew steady-state
//! figures; connect and join times are recorded separately.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tickwire_shared::tick::Tick;

use tickwire_client::{AppliedUpdate, EmitOutcome, Traffic};

pub mod raw;
pub mod resume;
pub mod span;

use resume::ResumeRecorder;

/// Significant figures of the per-bot histograms: 1 % precision.
const SIGFIG: u8 = 2;
/// The largest value a per-bot histogram holds exactly, microseconds
/// (60 s); larger ones are recorded as this.
const HISTOGRAM_MAX_US: u64 = 60_000_000;

/// A per-bot histogram, allocated at its full range up front (about 10
/// KiB). An auto-resizing one reallocates and copies as larger values
/// arrive; with thousands of bots starting to record at once, that copying
/// stalled the whole swarm for half a second and showed up as latency.
fn histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, SIGFIG).expect("valid bounds")
}

/// A merged histogram (many bots' counts need 64 bits).
fn merged_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, SIGFIG).expect("valid bounds")
}

/// The window in which figures count, shared by all bots of a run.
#[derive(Debug, Default)]
pub struct Window {
    opened: OnceLock<Instant>,
    closed: AtomicBool,
}

impl Window {
    /// Opens the window (once).
    pub fn open(&self) {
        let _ = self.opened.set(Instant::now());
    }
    /// Closes it.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
    /// When it opened.
    pub fn opened_at(&self) -> Option<Instant> {
        self.opened.get().copied()
    }
    /// Whether figures count now.
    pub fn is_open(&self) -> bool {
        self.opened.get().is_some() && !self.closed.load(Ordering::Acquire)
    }
    /// Whole seconds since it opened.
    fn second(&self, now: Instant) -> Option<usize> {
        self.opened_at()
            .map(|t| now.saturating_duration_since(t).as_secs() as usize)
    }
}

/// Latency buckets per second: bound `i` is `TIMELINE_BASE_US * 1.25^i`,
/// so a percentile read off them is within about 12 %.
pub(crate) const TIMELINE_BUCKETS: usize = 72;
/// The first bucket's upper bound, microseconds.
const TIMELINE_BASE_US: f64 = 10.0;
/// Seconds the timeline holds past the planned window (stragglers land in
/// the last slot).
const TIMELINE_SLACK: usize = 5;

fn bucket_of(us: u64) -> usize {
    if (us as f64) <= TIMELINE_BASE_US {
        return 0;
    }
    let i = ((us as f64 / TIMELINE_BASE_US).ln() / 1.25f64.ln()).ceil() as usize;
    i.min(TIMELINE_BUCKETS - 1)
}

fn bucket_bound_us(i: usize) -> f64 {
    TIMELINE_BASE_US * 1.25f64.powi(i as i32)
}

/// One second of the run, summed over all well-behaved bots with atomics.
#[derive(Debug)]
struct Second {
    latency: [AtomicU64; TIMELINE_BUCKETS],
    updates: AtomicU64,
    bytes_down: AtomicU64,
    bytes_up: AtomicU64,
}

impl Default for Second {
    fn default() -> Self {
        Self {
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            updates: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
        }
    }
}

/// Per-second series shared by all bots. Recording is one relaxed atomic
/// add, so thousands of bots measuring at once never wait on each other
/// (a shared lock here showed up as latency spikes in the bots' own
/// figures).
#[derive(Debug)]
pub struct Timeline {
    seconds: Vec<Second>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(Duration::from_secs(60))
    }
}

impl Timeline {
    /// A timeline for a window of `window`.
    pub fn new(window: Duration) -> Self {
        let slots = window.as_secs() as usize + TIMELINE_SLACK;
        Self {
            seconds: (0..slots).map(|_| Second::default()).collect(),
        }
    }

    fn slot(&self, index: usize) -> &Second {
        &self.seconds[index.min(self.seconds.len() - 1)]
    }

    fn record_update(&self, index: usize, latency_us: u64) {
        let s = self.slot(index);
        s.latency[bucket_of(latency_us)].fetch_add(1, Ordering::Relaxed);
        s.updates.fetch_add(1, Ordering::Relaxed);
    }

    fn record_bytes(&self, index: usize, down: u64, up: u64) {
        let s = self.slot(index);
        s.bytes_down.fetch_add(down, Ordering::Relaxed);
        s.bytes_up.fetch_add(up, Ordering::Relaxed);
    }

    /// The series, per second up to the last one with data, bytes divided
    /// by `clients`; latency percentiles at bucket resolution.
    pub fn report(&self, clients: usize) -> Vec<SecondReport> {
        raw::timeline_report(&self.counts(), clients)
    }

    /// The update latency p99 of the last complete second (the one before
    /// the newest second with data), ms; 0 before there is one. For
    /// progress lines.
    pub fn last_complete_p99_ms(&self) -> f64 {
        self.counts()
            .iter()
            .rev()
            .nth(1)
            .map_or(0.0, |s| raw::quantile_ms(&s.latency, 0.99))
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// What one bot saw.
#[derive(Debug)]
pub struct BotRecorder {
    /// Server tick start to world rebuilt, microseconds.
    pub latency_us: Histogram<u32>,
    /// |inter-arrival time - tick period|, microseconds.
    pub jitter_us: Histogram<u32>,
    /// Ping round trips, microseconds.
    pub rtt_us: Histogram<u32>,
    /// Updates applied in the window.
    pub updates: u64,
    /// Of them, full snapshots.
    pub full_snapshots: u64,
    /// Ticks skipped between consecutive updates in the window.
    pub missed: u64,
    /// Updates whose rebuilt world did not match the server's checksum.
    pub checksum_mismatches: u64,
    /// Updates that did not decode or had an unknown baseline.
    pub decode_errors: u64,
    /// Updates older than the newest world held (datagrams reordered or
    /// duplicated on the way; QUIC only): dropped, not an error.
    pub updates_reordered: u64,
    /// Sum of the baseline ages of the deltas in the window, ticks.
    pub baseline_age_sum: u64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// `echo` events emitted with an ack in the window, and what became of
    /// them.
    pub events: EventCounts,
    /// Emit to answer, microseconds (answered events only).
    pub answer_us: Histogram<u32>,
    /// Drops and resumes.
    pub resume: ResumeRecorder,
    /// The network profile the bot sat behind and what its link
    /// conditioner applied over the whole run (`None`: a perfect network).
    pub network: Option<(String, tickwire_client::NetworkStats)>,
    /// Traffic when the window opened.
    traffic_open: Option<Traffic>,
    last: Option<(Tick, Instant)>,
    period: Duration,
    /// The last traffic seen while the window was open (already added to
    /// the timeline): the window's end.
    traffic_last: Option<Traffic>,
}

impl BotRecorder {
    /// A recorder for a room ticking every `period`.
    pub fn new(period: Duration) -> Self {
        Self {
            latency_us: histogram(),
            jitter_us: histogram(),
            rtt_us: histogram(),
            updates: 0,
            full_snapshots: 0,
            missed: 0,
            checksum_mismatches: 0,
            decode_errors: 0,
            updates_reordered: 0,
            baseline_age_sum: 0,
            errors: BTreeMap::new(),
            events: EventCounts::default(),
            answer_us: histogram(),
            resume: ResumeRecorder::default(),
            network: None,
            traffic_open: None,
            last: None,
            period,
            traffic_last: None,
        }
    }

    /// Notes the traffic counters; call on every event so that the window's
    /// edges are caught and the timeline gets the bytes of each second.
    pub fn track(&mut self, window: &Window, timeline: &Timeline, traffic: Traffic, now: Instant) {
        if window.is_open() {
            self.traffic_open.get_or_insert(traffic);
            let before = self.traffic_last.replace(traffic).unwrap_or(traffic);
            let index = window.second(now).unwrap_or(0);
            timeline.record_bytes(
                index,
                traffic.payload_in - before.payload_in,
                traffic.payload_out - before.payload_out,
            );
        }
    }

    /// Records an applied update.
    pub fn on_update(
        &mut self,
        window: &Window,
        timeline: &Timeline,
        update: &AppliedUpdate,
        now: Instant,
    ) {
        let in_window = window.is_open();
        if in_window {
            self.updates += 1;
            if update.full {
                self.full_snapshots += 1;
            }
            self.baseline_age_sum += u64::from(update.baseline_age);
            self.latency_us.saturating_record(update.latency_us.max(1));
            timeline.record_update(window.second(now).unwrap_or(0), update.latency_us);
        }
        if let Some((last_tick, last_at)) = self.last
            && in_window
        {
            let gap = update.tick.0.saturating_sub(last_tick.0);
            self.missed += u64::from(gap.saturating_sub(1));
            let expected = self.period * gap.max(1);
            let arrival = now.saturating_duration_since(last_at);
            let jitter = arrival.abs_diff(expected);
            self.jitter_us
                .saturating_record((jitter.as_micros() as u64).max(1));
        }
        self.last = Some((update.tick, now));
    }

    /// Records a ping round trip.
    pub fn on_rtt(&mut self, window: &Window, rtt_us: u64) {
        if window.is_open() {
            self.rtt_us.saturating_record(rtt_us.max(1));
        }
    }

    /// Records an event emitted with an ack.
    pub fn on_emit(&mut self, window: &Window) {
        if window.is_open() {
            self.events.emitted += 1;
        }
    }

    /// Records an emit skipped because too many wait for an answer.
    pub fn on_emit_skipped(&mut self, window: &Window) {
        if window.is_open() {
            self.events.skipped += 1;
        }
    }

    /// Records how an emitted event ended.
    pub fn on_answer(&mut self, window: &Window, outcome: &EmitOutcome, elapsed: Duration) {
        if !window.is_open() {
            return;
        }
        match outcome {
            EmitOutcome::Answered(_) => {
                self.events.answered += 1;
                let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                self.answer_us.saturating_record(us.max(1));
            }
            EmitOutcome::Refused { code, .. } => {
                *self.events.refused.entry(format!("{code:?}")).or_default() += 1;
            }
            EmitOutcome::TimedOut => self.events.timed_out += 1,
            EmitOutcome::Closed | EmitOutcome::Interrupted => self.events.cut_by_close += 1,
        }
    }

    /// Records an error of some kind (counted whether or not the window is
    /// open: an error is never steady-state noise).
    pub fn on_error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    /// Traffic inside the window: from its opening to the last event seen
    /// before it closed.
    fn window_traffic(&self) -> Traffic {
        let (Some(open), Some(close)) = (self.traffic_open, self.traffic_last) else {
            return Traffic::default();
        };
        close - open
    }

    /// Finishes the recorder.
    pub fn finish(self) -> FinishedBot {
        let windowed = self.window_traffic();
        FinishedBot {
            recorder: self,
            traffic: windowed,
        }
    }
}

/// A bot's recorder and its traffic in the window.
#[derive(Debug)]
pub struct FinishedBot {
    recorder: BotRecorder,
    traffic: Traffic,
}

impl FinishedBot {
    /// Its drops and resumes.
    pub fn resume(&self) -> &ResumeRecorder {
        &self.recorder.resume
    }

    /// Its network profile's name and what the conditioner applied.
    pub fn network(&self) -> Option<&(String, tickwire_client::NetworkStats)> {
        self.recorder.network.as_ref()
    }
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// From a microsecond histogram.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// What became of the events bots emitted with an ack (the swarm's
/// `--events-per-second` load), in the window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// Emitted.
    pub emitted: u64,
    /// Answered by the game.
    pub answered: u64,
    /// Refused, by error code (`RateLimited`, `EventTooLarge`, ...).
    pub refused: BTreeMap<String, u64>,
    /// Not answered in time.
    pub timed_out: u64,
    /// Cut by the connection closing or dropping.
    pub cut_by_close: u64,
    /// Not emitted because too many waited for an answer already.
    pub skipped: u64,
}

impl EventCounts {
    fn add(&mut self, other: &Self) {
        self.emitted += other.emitted;
        self.answered += other.answered;
        for (code, n) in &other.refused {
            *self.refused.entry(code.clone()).or_default() += n;
        }
        self.timed_out += other.timed_out;
        self.cut_by_close += other.cut_by_close;
        self.skipped += other.skipped;
    }

    /// Refusals of every code.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// Figures of a group of bots (the well-behaved ones, or the misbehaving).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GroupReport {
    /// Bots in the group.
    pub bots: usize,
    /// Updates applied in the window.
    pub updates: u64,
    /// Updates per bot per second.
    pub updates_per_bot_per_s: f64,
    /// Ticks with no update between consecutive updates.
    pub updates_missed: u64,
    /// Full snapshots among the updates.
    pub full_snapshots: u64,
    /// Rebuilt worlds that did not match the server's checksum.
    pub checksum_mismatches: u64,
    /// Updates that did not decode or had an unknown baseline.
    pub decode_errors: u64,
    /// Updates that arrived after a newer one (QUIC datagrams reordered or
    /// duplicated) and were dropped: normal over QUIC, not an error.
    pub updates_reordered: u64,
    /// Mean age of the baselines deltas were encoded against, ticks: 1
    /// when every acknowledgement reaches the server before its next tick.
    pub mean_baseline_age: f64,
    /// Server tick start to world rebuilt.
    pub latency_ms: Percentiles,
    /// Update inter-arrival deviation from the tick period.
    pub jitter_ms: Percentiles,
    /// Ping round trip.
    pub rtt_ms: Percentiles,
    /// Downstream application payload, bytes per client per second.
    pub down_payload_bytes_per_client_s: f64,
    /// Downstream WebSocket bytes (payload and frame headers).
    pub down_framed_bytes_per_client_s: f64,
    /// Downstream estimate with TCP/IP headers (one segment per message).
    pub down_wire_estimate_bytes_per_client_s: f64,
    /// Upstream application payload, bytes per client per second.
    pub up_payload_bytes_per_client_s: f64,
    /// Upstream WebSocket bytes (payload, frame headers and masks).
    pub up_framed_bytes_per_client_s: f64,
    /// Upstream estimate with TCP/IP headers.
    pub up_wire_estimate_bytes_per_client_s: f64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Events emitted with an ack and what became of them.
    pub events: EventCounts,
    /// Event emit to answer (answered events).
    pub answer_latency_ms: Percentiles,
}

/// Histograms merged over a group, kept for the distribution plot.
#[derive(Debug)]
pub struct Merged {
    /// The group's figures.
    pub report: GroupReport,
    /// Latency histogram, microseconds.
    pub latency_us: Histogram<u64>,
}

/// Adds a per-bot histogram's counts to a merged one (same bounds and
/// precision, so every value lands in the bucket it came from).
fn merge_into(target: &mut Histogram<u64>, source: &Histogram<u32>) {
    for v in source.iter_recorded() {
        target.saturating_record_n(v.value_iterated_to(), u64::from(v.count_at_value()));
    }
}

/// Merges finished bots into a group's figures over a window of `seconds`.
/// `wire_overhead` is what each message costs on the wire beyond the
/// counted bytes (see `swarm::Transport::wire_overhead`).
pub fn merge(bots: &[FinishedBot], seconds: f64, wire_overhead: u64) -> Merged {
    raw::GroupFigures::of(bots).merged(bots.len() as f64 * seconds, wire_overhead)
}

/// One second of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecondReport {
    /// Seconds since the window opened.
    pub second: usize,
    /// Updates applied by all well-behaved bots in this second.
    pub updates: u64,
    /// Median update latency.
    pub latency_p50_ms: f64,
    /// 99th percentile update latency.
    pub latency_p99_ms: f64,
    /// Downstream payload bytes per client in this second.
    pub down_bytes_per_client: f64,
    /// Upstream payload bytes per client in this second.
    pub up_bytes_per_client: f64,
}

/// One bar of the latency distribution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatencyBucket {
    /// Upper bound of the bucket, milliseconds.
    pub upper_ms: f64,
    /// Updates in it.
    pub count: u64,
}

/// The latency distribution in about `buckets` log-spaced buckets.
pub fn distribution(latency_us: &Histogram<u64>) -> Vec<LatencyBucket> {
    if latency_us.is_empty() {
        return Vec::new();
    }
    latency_us
        .iter_log(50, 1.25)
        .map(|v| LatencyBucket {
            upper_ms: ms(v.value_iterated_to()),
            count: v.count_since_last_iteration(),
        })
        .collect()
}

/// This process's CPU time (user + system), from getrusage.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass and has no other effect.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(tick: u32, latency_us: u64) -> AppliedUpdate {
        AppliedUpdate {
            tick: Tick(tick),
            full: false,
            baseline_age: 1,
            bytes: 20,
            latency_us,
        }
    }

    #[test]
    fn only_the_window_counts_and_gaps_are_missed_updates() {
        let window = Window::default();
        let timeline = Timeline::default();
        let mut r = BotRecorder::new(Duration::from_millis(33));
        let t0 = Instant::now();
        r.on_update(&window, &timeline, &update(1, 500), t0);
        assert_eq!(r.updates, 0, "window not open yet");
        window.open();
        r.track(&window, &timeline, Traffic::default(), t0);
        r.on_update(
            &window,
            &timeline,
            &update(2, 1_000),
            t0 + Duration::from_millis(33),
        );
        r.on_update(
            &window,
            &timeline,
            &update(5, 2_000),
            t0 + Duration::from_millis(133),
        );
        assert_eq!((r.updates, r.missed), (2, 2));
        let traffic = Traffic {
            messages_in: 3,
            payload_in: 60,
            framed_in: 66,
            ..Traffic::default()
        };
        r.track(&window, &timeline, traffic, t0 + Duration::from_millis(150));
        window.close();
        let late = Traffic {
            payload_in: 90,
            ..traffic
        };
        r.track(&window, &timeline, late, t0 + Duration::from_secs(1));
        let finished = r.finish();
        let merged = merge(&[finished], 1.0, 52);
        assert_eq!(merged.report.down_payload_bytes_per_client_s, 60.0);
        assert_eq!(
            merged.report.down_wire_estimate_bytes_per_client_s,
            66.0 + 3.0 * 52.0
        );
        assert!((merged.report.latency_ms.p50 - 1.0).abs() < 0.01);
        let second = &timeline.report(1)[0];
        assert_eq!(second.updates, 2);
        assert_eq!(second.down_bytes_per_client, 60.0);
        // 1 ms and 2 ms samples: the median lands in 1 ms's bucket.
        assert!(
            (0.9..1.3).contains(&second.latency_p50_ms),
            "{}",
            second.latency_p50_ms
        );
    }

    #[test]
    fn event_answers_refusals_and_timeouts_are_counted_in_the_window() {
        let window = Window::default();
        let mut r = BotRecorder::new(Duration::from_millis(33));
        r.on_emit(&window);
        r.on_answer(
            &window,
            &EmitOutcome::Answered(vec![]),
            Duration::from_millis(9),
        );
        window.open();
        for ms in [2, 4] {
            r.on_emit(&window);
            r.on_answer(
                &window,
                &EmitOutcome::Answered(vec![]),
                Duration::from_millis(ms),
            );
        }
        r.on_emit(&window);
        r.on_answer(
            &window,
            &EmitOutcome::Refused {
                code: tickwire_client::ErrorCode::RateLimited,
                message: String::new(),
            },
            Duration::ZERO,
        );
        r.on_emit(&window);
        r.on_answer(&window, &EmitOutcome::TimedOut, Duration::from_secs(5));
        r.on_emit_skipped(&window);
        let merged = merge(&[r.finish()], 1.0, 0).report;
        let e = &merged.events;
        assert_eq!(
            (e.emitted, e.answered, e.timed_out, e.skipped),
            (4, 2, 1, 1)
        );
        assert_eq!(e.refused.get("RateLimited"), Some(&1));
        assert_eq!(e.refused_total(), 1);
        assert_eq!(merged.answer_latency_ms.count, 2);
        assert!(
            (merged.answer_latency_ms.p99 - 4.0).abs() < 0.05,
            "{:?}",
            merged.answer_latency_ms
        );
        assert!((merged.answer_latency_ms.p50 - 2.0).abs() < 0.05);
    }

    #[test]
    fn timeline_buckets_are_monotonic_and_bounded() {
        let mut last = 0;
        for us in [1, 10, 11, 100, 1_000, 33_333, 10_000_000, u64::MAX] {
            let b = bucket_of(us);
            assert!(b >= last && b < TIMELINE_BUCKETS);
            if us > 10 && us < 10_000_000 {
                assert!(
                    bucket_bound_us(b) >= us as f64 && bucket_bound_us(b) < us as f64 * 1.26,
                    "{us} -> {b}"
                );
            }
            last = b;
        }
    }

    #[test]
    fn cpu_time_is_readable() {
        let spin: u64 = (0..2_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0);
        assert!(process_cpu() > Duration::ZERO);
    }
}
