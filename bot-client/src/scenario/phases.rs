//! A scenario run's raw, mergeable figures beyond a swarm's
//! ([`ScenarioFigures`], carried in [`crate::figures::RunFigures`]): per
//! phase, the latency bucket counts and summed counters of its seconds
//! and the bots it scheduled; for the whole run, the bot-seconds its rates
//! divide by. Shares of a distributed run add them ([`ScenarioFigures::add`])
//! and the phase figures are read off the sums ([`reports`]), so a merged
//! phase's percentiles are those of the union of the agents' counts.

use serde::{Deserialize, Serialize};

use crate::measure::raw::{self, SecondCounts};

use super::{PhaseBots, PhaseReport, Scenario};

/// One phase's raw figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseCounts {
    /// The timeline over the phase's seconds: latency bucket counts,
    /// updates and bytes of the playing bots.
    pub span: SecondCounts,
    /// Bots running when the phase started.
    pub at_start: usize,
    /// Bots running when it ended.
    pub at_end: usize,
    /// Most bots running at once (the phase's shape puts every share's
    /// peak at the same moment: a ramp's or drain's end or start, a
    /// spike's top, so peaks add).
    pub peak: usize,
    /// Bot-seconds run over the phase (mean bots times its length).
    pub bot_seconds: f64,
    /// Playing bot-seconds over the phase (the divisor of its rates).
    pub playing_seconds: f64,
    /// Bots that joined their room during the phase.
    pub joined: usize,
    /// Bots that failed to connect or join during the phase.
    pub failed: usize,
    /// Ticks missed.
    pub missed: u64,
    /// Checksum mismatches.
    pub checksum_mismatches: u64,
    /// Errors.
    pub errors: u64,
}

impl PhaseCounts {
    /// Adds another share's figures of the same phase.
    pub fn add(&mut self, other: &Self) {
        raw::add_second(&mut self.span, &other.span);
        self.at_start += other.at_start;
        self.at_end += other.at_end;
        self.peak += other.peak;
        self.bot_seconds += other.bot_seconds;
        self.playing_seconds += other.playing_seconds;
        self.joined += other.joined;
        self.failed += other.failed;
        self.missed += other.missed;
        self.checksum_mismatches += other.checksum_mismatches;
        self.errors += other.errors;
    }
}

/// What a scenario run measured beyond a swarm's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioFigures {
    /// Bots that failed to connect or join.
    pub failed: usize,
    /// Well-behaved bot-seconds run (the divisor of the well-behaved
    /// group's rates: bots come and go).
    pub well_behaved_seconds: f64,
    /// Playing bot-seconds in each second of the timeline (the divisor of
    /// that second's bytes).
    pub playing: Vec<f64>,
    /// Each phase's figures, in the scenario's order.
    pub phases: Vec<PhaseCounts>,
}

impl ScenarioFigures {
    /// Adds another share's figures: everything summed, phase by phase
    /// and second by second.
    pub fn add(&mut self, other: &Self) {
        self.failed += other.failed;
        self.well_behaved_seconds += other.well_behaved_seconds;
        if self.playing.len() < other.playing.len() {
            self.playing.resize(other.playing.len(), 0.0);
        }
        for (mine, theirs) in self.playing.iter_mut().zip(&other.playing) {
            *mine += theirs;
        }
        if self.phases.len() < other.phases.len() {
            self.phases
                .resize(other.phases.len(), PhaseCounts::default());
        }
        for (mine, theirs) in self.phases.iter_mut().zip(&other.phases) {
            mine.add(theirs);
        }
    }
}

/// The phase reports of `scenario` (the whole run: names, kinds, times)
/// from `counts`: percentiles read off the summed bucket counts, rates per
/// playing bot-second.
pub fn reports(scenario: &Scenario, counts: &[PhaseCounts]) -> Vec<PhaseReport> {
    let mut start = 0.0;
    scenario
        .phases
        .iter()
        .zip(counts)
        .map(|(phase, c)| {
            let length = phase.duration.as_secs_f64();
            let end = start + length;
            let per = |v: u64| {
                if c.playing_seconds > 0.0 {
                    v as f64 / c.playing_seconds
                } else {
                    0.0
                }
            };
            let report = PhaseReport {
                name: phase.name.clone(),
                kind: phase.kind,
                start_s: start,
                end_s: end,
                bots: PhaseBots {
                    at_start: c.at_start,
                    at_end: c.at_end,
                    peak: c.peak,
                    mean: if length > 0.0 {
                        c.bot_seconds / length
                    } else {
                        0.0
                    },
                    joined: c.joined,
                    failed: c.failed,
                },
                updates: c.span.updates,
                updates_per_bot_per_s: per(c.span.updates),
                latency_p50_ms: raw::quantile_ms(&c.span.latency, 0.5),
                latency_p99_ms: raw::quantile_ms(&c.span.latency, 0.99),
                down_bytes_per_client_s: per(c.span.bytes_down),
                up_bytes_per_client_s: per(c.span.bytes_up),
                missed: c.missed,
                checksum_mismatches: c.checksum_mismatches,
                errors: c.errors,
            };
            start = end;
            report
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(latencies: &[(usize, u64)], bots: usize) -> PhaseCounts {
        let mut span = SecondCounts {
            latency: vec![0; crate::measure::TIMELINE_BUCKETS],
            ..SecondCounts::default()
        };
        for &(bucket, n) in latencies {
            span.latency[bucket] += n;
            span.updates += n;
        }
        PhaseCounts {
            span,
            at_start: 0,
            at_end: bots,
            peak: bots,
            bot_seconds: bots as f64,
            playing_seconds: bots as f64,
            joined: bots,
            ..PhaseCounts::default()
        }
    }

    #[test]
    fn merged_phases_read_percentiles_off_the_union_of_counts() {
        // Agent a: 98 fast updates; agent b: 2 slow ones. Alone, b's p99 is
        // slow and a's fast; together 2 of 100 are slow, so the p99 is slow
        // while the p50 stays fast (an average of percentiles would not be).
        let a = ScenarioFigures {
            phases: vec![phase(&[(10, 98)], 3)],
            playing: vec![3.0],
            ..ScenarioFigures::default()
        };
        let b = ScenarioFigures {
            phases: vec![phase(&[(60, 2)], 1)],
            playing: vec![1.0, 1.0],
            ..ScenarioFigures::default()
        };
        let mut merged = a.clone();
        merged.add(&b);
        let c = &merged.phases[0];
        assert_eq!((c.span.updates, c.at_end, c.peak, c.joined), (100, 4, 4, 4));
        assert_eq!(merged.playing, [4.0, 1.0]);
        let scenario = Scenario::parse(
            "name = \"t\"\n[target]\nurl = \"ws://h:1\"\n[rooms]\ncount = 2\nplayers = 2\n\
             [[phase]]\nkind = \"ramp\"\nto = 4\nduration = \"1s\"\n",
        )
        .expect("valid");
        let report = &reports(&scenario, &merged.phases)[0];
        let slow = raw::quantile_ms(&b.phases[0].span.latency, 0.99);
        let fast = raw::quantile_ms(&a.phases[0].span.latency, 0.5);
        assert!(slow > fast);
        assert_eq!(report.latency_p99_ms, slow);
        assert_eq!(report.latency_p50_ms, fast);
        assert_eq!(report.updates_per_bot_per_s, 25.0);
        assert_eq!((report.start_s, report.end_s), (0.0, 1.0));
    }
}
