//! A group's raw figures: the merged histograms (as bucket counts) and the
//! summed counters from which its [`GroupReport`] is computed. They merge
//! exactly (histogram counts added bucket by bucket, counters summed), so
//! a run split among agents reports the same percentiles as one machine
//! would have; percentiles are only ever read off the merged counts.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tickwire_client::Traffic;

use super::{
    EventCounts, FinishedBot, GroupReport, Merged, Percentiles, SecondReport, TIMELINE_BUCKETS,
    Timeline, bucket_bound_us, merge_into, merged_histogram,
};

/// A microsecond histogram with the bots' bounds and precision, which
/// serialises as its non-empty buckets: `[[value, count], ...]`, each
/// value the highest one its bucket holds. Recording those pairs into a
/// histogram of the same bounds lands every count in the bucket it came
/// from, so nothing is lost in transit.
#[derive(Clone, Debug)]
pub struct Counts(pub Histogram<u64>);

impl Default for Counts {
    fn default() -> Self {
        Self(merged_histogram())
    }
}

impl PartialEq for Counts {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter_recorded()
                .zip(other.0.iter_recorded())
                .all(|(a, b)| {
                    a.value_iterated_to() == b.value_iterated_to()
                        && a.count_at_value() == b.count_at_value()
                })
    }
}

impl Counts {
    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &Self) {
        for v in other.0.iter_recorded() {
            self.0
                .saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }

    /// Its percentiles, in milliseconds.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles::of(&self.0)
    }

    fn pairs(&self) -> Vec<[u64; 2]> {
        self.0
            .iter_recorded()
            .map(|v| [v.value_iterated_to(), v.count_at_value()])
            .collect()
    }
}

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.pairs().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<[u64; 2]>::deserialize(deserializer)?;
        let mut counts = Self::default();
        for [value, count] in pairs {
            counts.0.saturating_record_n(value, count);
        }
        Ok(counts)
    }
}

/// A group of bots' raw figures (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    /// Bots in the group.
    pub bots: usize,
    /// Updates in the window.
    pub updates: u64,
    /// Ticks skipped between consecutive updates.
    pub missed: u64,
    /// Full snapshots among the updates.
    pub full_snapshots: u64,
    /// Rebuilt worlds that did not match the server's checksum.
    pub checksum_mismatches: u64,
    /// Updates that did not decode or had an unknown baseline.
    pub decode_errors: u64,
    /// Updates dropped for arriving after a newer one.
    pub updates_reordered: u64,
    /// Sum of the deltas' baseline ages, ticks.
    pub baseline_age_sum: u64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Events emitted with an ack and what became of them.
    pub events: EventCounts,
    /// Traffic in the window, summed over the group's bots.
    pub traffic: Traffic,
    /// Update latency, microseconds.
    pub latency_us: Counts,
    /// Inter-arrival jitter, microseconds.
    pub jitter_us: Counts,
    /// Ping round trips, microseconds.
    pub rtt_us: Counts,
    /// Event emit to answer, microseconds.
    pub answer_us: Counts,
}

impl GroupFigures {
    /// The figures of these finished bots.
    pub fn of(bots: &[FinishedBot]) -> Self {
        let mut g = Self {
            bots: bots.len(),
            ..Self::default()
        };
        for bot in bots {
            let b = &bot.recorder;
            merge_into(&mut g.latency_us.0, &b.latency_us);
            merge_into(&mut g.jitter_us.0, &b.jitter_us);
            merge_into(&mut g.rtt_us.0, &b.rtt_us);
            merge_into(&mut g.answer_us.0, &b.answer_us);
            g.events.add(&b.events);
            g.updates += b.updates;
            g.missed += b.missed;
            g.full_snapshots += b.full_snapshots;
            g.checksum_mismatches += b.checksum_mismatches;
            g.decode_errors += b.decode_errors;
            g.updates_reordered += b.updates_reordered;
            g.baseline_age_sum += b.baseline_age_sum;
            for (kind, n) in &b.errors {
                *g.errors.entry(kind.clone()).or_default() += n;
            }
            g.traffic += bot.traffic;
        }
        g
    }

    /// Adds another group's figures (another agent's share of the run).
    pub fn add(&mut self, other: &Self) {
        self.bots += other.bots;
        self.updates += other.updates;
        self.missed += other.missed;
        self.full_snapshots += other.full_snapshots;
        self.checksum_mismatches += other.checksum_mismatches;
        self.decode_errors += other.decode_errors;
        self.updates_reordered += other.updates_reordered;
        self.baseline_age_sum += other.baseline_age_sum;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        self.events.add(&other.events);
        self.traffic += other.traffic;
        self.latency_us.add(&other.latency_us);
        self.jitter_us.add(&other.jitter_us);
        self.rtt_us.add(&other.rtt_us);
        self.answer_us.add(&other.answer_us);
    }

    /// The group's report over `bot_seconds` (bots times the window,
    /// seconds: per-client rates divide by it). `wire_overhead` is what
    /// each message costs on the wire beyond the counted bytes (see
    /// `swarm::Transport::wire_overhead`).
    pub fn merged(&self, bot_seconds: f64, wire_overhead: u64) -> Merged {
        let per = |total: u64| {
            if self.bots == 0 || bot_seconds <= 0.0 {
                0.0
            } else {
                total as f64 / bot_seconds
            }
        };
        let t = &self.traffic;
        let deltas = self.updates - self.full_snapshots;
        let report = GroupReport {
            bots: self.bots,
            updates: self.updates,
            updates_per_bot_per_s: per(self.updates),
            updates_missed: self.missed,
            full_snapshots: self.full_snapshots,
            checksum_mismatches: self.checksum_mismatches,
            decode_errors: self.decode_errors,
            updates_reordered: self.updates_reordered,
            mean_baseline_age: if deltas > 0 {
                self.baseline_age_sum as f64 / deltas as f64
            } else {
                0.0
            },
            latency_ms: self.latency_us.percentiles(),
            jitter_ms: self.jitter_us.percentiles(),
            rtt_ms: self.rtt_us.percentiles(),
            down_payload_bytes_per_client_s: per(t.payload_in),
            down_framed_bytes_per_client_s: per(t.framed_in),
            down_wire_estimate_bytes_per_client_s: per(t.framed_in + t.messages_in * wire_overhead),
            up_payload_bytes_per_client_s: per(t.payload_out),
            up_framed_bytes_per_client_s: per(t.framed_out),
            up_wire_estimate_bytes_per_client_s: per(t.framed_out + t.messages_out * wire_overhead),
            errors: self.errors.clone(),
            events: self.events.clone(),
            answer_latency_ms: self.answer_us.percentiles(),
        };
        Merged {
            report,
            latency_us: self.latency_us.0.clone(),
        }
    }
}

/// One second of the run's timeline, as counts: latency bucket counts
/// (the timeline's log buckets) and summed updates and bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondCounts {
    /// Updates per latency bucket.
    pub latency: Vec<u64>,
    /// Updates.
    pub updates: u64,
    /// Downstream payload bytes, all bots.
    pub bytes_down: u64,
    /// Upstream payload bytes, all bots.
    pub bytes_up: u64,
}

/// Adds one second's (or span's) counts to another's.
pub fn add_second(into: &mut SecondCounts, other: &SecondCounts) {
    into.add(other);
}

impl SecondCounts {
    fn add(&mut self, other: &Self) {
        if self.latency.len() < other.latency.len() {
            self.latency.resize(other.latency.len(), 0);
        }
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            *mine += theirs;
        }
        self.updates += other.updates;
        self.bytes_down += other.bytes_down;
        self.bytes_up += other.bytes_up;
    }
}

impl Timeline {
    /// The series as counts, per second up to the last one with data.
    pub fn counts(&self) -> Vec<SecondCounts> {
        use std::sync::atomic::Ordering::Relaxed;
        let used = self
            .seconds
            .iter()
            .rposition(|s| s.updates.load(Relaxed) > 0 || s.bytes_down.load(Relaxed) > 0)
            .map_or(0, |i| i + 1);
        self.seconds[..used]
            .iter()
            .map(|s| SecondCounts {
                latency: s.latency.iter().map(|c| c.load(Relaxed)).collect(),
                updates: s.updates.load(Relaxed),
                bytes_down: s.bytes_down.load(Relaxed),
                bytes_up: s.bytes_up.load(Relaxed),
            })
            .collect()
    }
}

/// Adds one timeline's counts to another, second by second (both count
/// from their own window's opening).
pub fn add_timeline(into: &mut Vec<SecondCounts>, other: &[SecondCounts]) {
    if into.len() < other.len() {
        into.resize(other.len(), SecondCounts::default());
    }
    for (mine, theirs) in into.iter_mut().zip(other) {
        mine.add(theirs);
    }
}

/// The per-second report of a timeline's counts, bytes divided by
/// `clients`; latency percentiles at bucket resolution.
pub fn timeline_report(counts: &[SecondCounts], clients: usize) -> Vec<SecondReport> {
    let clients = clients.max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, s)| SecondReport {
            second: i,
            updates: s.updates,
            latency_p50_ms: quantile_ms(&s.latency, 0.5),
            latency_p99_ms: quantile_ms(&s.latency, 0.99),
            down_bytes_per_client: s.bytes_down as f64 / clients,
            up_bytes_per_client: s.bytes_up as f64 / clients,
        })
        .collect()
}

/// The `q` quantile of timeline bucket counts, milliseconds (the bound of
/// the bucket it falls in).
pub fn quantile_ms(counts: &[u64], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let target = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, &n) in counts.iter().enumerate() {
        seen += n;
        if seen >= target {
            return bucket_bound_us(i) / 1000.0;
        }
    }
    bucket_bound_us(TIMELINE_BUCKETS - 1) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(values: &[u64]) -> Counts {
        let mut c = Counts::default();
        for &v in values {
            c.0.saturating_record(v);
        }
        c
    }

    #[test]
    fn counts_survive_json_and_merge_to_the_union() {
        let a = counts(&[100, 250, 250, 1_000, 33_000]);
        let b = counts(&[90, 5_000_000, 1_200]);
        let json = serde_json::to_string(&a).expect("serialises");
        let back: Counts = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, a);
        let mut merged = back;
        merged.add(&serde_json::from_str(&serde_json::to_string(&b).expect("b")).expect("b"));
        let union = counts(&[100, 250, 250, 1_000, 33_000, 90, 5_000_000, 1_200]);
        assert_eq!(merged, union);
        assert_eq!(merged.0.len(), 8);
        for q in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(
                merged.0.value_at_quantile(q),
                union.0.value_at_quantile(q),
                "q {q}"
            );
        }
    }

    #[test]
    fn groups_add_counters_and_rates_divide_by_bot_seconds() {
        let mut a = GroupFigures {
            bots: 2,
            updates: 120,
            full_snapshots: 20,
            baseline_age_sum: 100,
            traffic: Traffic {
                payload_in: 4_000,
                messages_in: 10,
                framed_in: 4_100,
                ..Traffic::default()
            },
            latency_us: counts(&[1_000, 2_000]),
            ..GroupFigures::default()
        };
        a.errors.insert("x".into(), 1);
        let mut b = a.clone();
        b.bots = 1;
        b.full_snapshots = 0;
        a.add(&b);
        assert_eq!((a.bots, a.updates, a.full_snapshots), (3, 240, 20));
        assert_eq!(a.errors["x"], 2);
        let m = a.merged(3.0 * 2.0, 50).report;
        assert_eq!(m.updates_per_bot_per_s, 40.0);
        assert_eq!(m.down_payload_bytes_per_client_s, 8_000.0 / 6.0);
        assert_eq!(
            m.down_wire_estimate_bytes_per_client_s,
            (8_200.0 + 20.0 * 50.0) / 6.0
        );
        assert_eq!(m.mean_baseline_age, 200.0 / 220.0);
        assert_eq!(m.latency_ms.count, 4);
    }

    #[test]
    fn timelines_add_second_by_second() {
        let one = SecondCounts {
            latency: vec![0, 3, 1],
            updates: 4,
            bytes_down: 400,
            bytes_up: 40,
        };
        let mut into = vec![one.clone()];
        add_timeline(&mut into, &[one.clone(), one.clone()]);
        assert_eq!(into.len(), 2);
        assert_eq!(into[0].latency, vec![0, 6, 2]);
        let report = timeline_report(&into, 2);
        assert_eq!((report[0].updates, report[1].updates), (8, 4));
        assert_eq!(report[0].down_bytes_per_client, 400.0);
        assert_eq!(report[0].latency_p50_ms, bucket_bound_us(1) / 1000.0);
    }
}
