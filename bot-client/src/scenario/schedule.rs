//! When each bot of a scenario starts and stops, worked out before the
//! run. Pure: durations in, steps and bot counts out.
//!
//! Bots are numbered by slot. A start always takes the lowest free slot
//! and a stop always ends the newest bot, so the bots running are always
//! slots `0..n`: bot `n` is the one to start next and bot `n - 1` the one
//! to stop. Slot `s` sits in room `s % rooms` (a ramp fills rooms evenly),
//! and with created rooms slots `0..rooms` are the creators, which start
//! first and leave last.

use std::time::Duration;

use crate::behaviour::Behaviour;

use super::phases::PhaseCounts;
use super::{JoinFile, Phase, PhaseReport, Scenario};

/// A change in the bots running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Start the next bot (slot `n`).
    Start,
    /// Stop the newest bot (slot `n - 1`).
    Stop,
}

/// One change at one time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// From the scenario's start.
    pub at: Duration,
    /// What changes.
    pub change: Change,
}

/// A phase's place in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseSpan {
    /// The phase.
    pub phase: Phase,
    /// Its start, from the scenario's start.
    pub start: Duration,
    /// Its end.
    pub end: Duration,
}

/// Every start and stop of a scenario, in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The changes, in time order.
    pub steps: Vec<Step>,
    /// The phases with their times.
    pub spans: Vec<PhaseSpan>,
    /// `well[n]`: well-behaved bots among slots `0..n`.
    well: Vec<usize>,
    /// `playing[n]`: bots among slots `0..n` that play (well-behaved and
    /// resuming bots, whose updates the timeline counts).
    playing: Vec<usize>,
}

/// The behaviour of slot `slot` in `scenario`: creators play the arena so
/// that every room exists; the others follow the mix, drawn for the
/// slot's index in the whole run (an agent's share draws as the whole run
/// would, [`Scenario::global_slot`]).
pub fn behaviour(scenario: &Scenario, slot: usize) -> Behaviour {
    if scenario.join == JoinFile::Create && slot < scenario.rooms {
        Behaviour::Arena
    } else {
        scenario
            .mix
            .pick(scenario.seed, scenario.global_slot(slot) as u64)
    }
}

impl Schedule {
    /// The schedule of a scenario.
    pub fn of(scenario: &Scenario) -> Self {
        let mut steps = Vec::new();
        let mut spans = Vec::with_capacity(scenario.phases.len());
        let mut start = Duration::ZERO;
        for phase in &scenario.phases {
            let end = start + phase.duration;
            let spread = |n: usize, change: Change, steps: &mut Vec<Step>| {
                for k in 0..n {
                    steps.push(Step {
                        at: start + phase.duration.mul_f64(k as f64 / n as f64),
                        change,
                    });
                }
            };
            match phase.kind {
                super::PhaseKind::Ramp => spread(phase.to - phase.from, Change::Start, &mut steps),
                super::PhaseKind::Hold => {}
                super::PhaseKind::Spike => {
                    let extra = phase.peak - phase.from;
                    steps.extend((0..extra).map(|_| Step {
                        at: start,
                        change: Change::Start,
                    }));
                    steps.extend((0..extra).map(|_| Step {
                        at: end,
                        change: Change::Stop,
                    }));
                }
                super::PhaseKind::Drain => spread(phase.from - phase.to, Change::Stop, &mut steps),
            }
            spans.push(PhaseSpan {
                phase: phase.clone(),
                start,
                end,
            });
            start = end;
        }
        let (mut well, mut playing) = (vec![0], vec![0]);
        for slot in 0..scenario.peak() {
            let behaviour = behaviour(scenario, slot);
            well.push(well[slot] + usize::from(behaviour.is_well_behaved()));
            playing
                .push(playing[slot] + usize::from(!matches!(behaviour, Behaviour::Misbehave(_))));
        }
        Self {
            steps,
            spans,
            well,
            playing,
        }
    }

    /// The whole run.
    pub fn duration(&self) -> Duration {
        self.spans.last().map_or(Duration::ZERO, |s| s.end)
    }

    /// Bots running at `at` (changes at `at` included).
    pub fn running_at(&self, at: Duration) -> usize {
        self.steps
            .iter()
            .take_while(|s| s.at <= at)
            .fold(0usize, |n, s| match s.change {
                Change::Start => n + 1,
                Change::Stop => n.saturating_sub(1),
            })
    }

    /// The integral of `weight(bots running)` over `from..to`, in
    /// bot-seconds when `weight` counts bots.
    fn integral(&self, from: Duration, to: Duration, weight: impl Fn(usize) -> f64) -> f64 {
        let mut total = 0.0;
        let mut n = 0usize;
        let mut since = Duration::ZERO;
        let mut add = |n: usize, a: Duration, b: Duration| {
            let (a, b) = (a.max(from), b.min(to));
            if b > a {
                total += weight(n) * (b - a).as_secs_f64();
            }
        };
        for step in &self.steps {
            add(n, since, step.at);
            since = step.at;
            n = match step.change {
                Change::Start => n + 1,
                Change::Stop => n.saturating_sub(1),
            };
        }
        add(n, since, to.max(since));
        total
    }

    /// Mean bots running over `from..to`.
    pub fn mean_running(&self, from: Duration, to: Duration) -> f64 {
        let span = (to.saturating_sub(from)).as_secs_f64();
        if span <= 0.0 {
            return 0.0;
        }
        self.integral(from, to, |n| n as f64) / span
    }

    /// Well-behaved bot-seconds over `from..to` (the divisor of the
    /// well-behaved group's per-bot rates).
    pub fn well_behaved_seconds(&self, from: Duration, to: Duration) -> f64 {
        self.integral(from, to, |n| self.well[n.min(self.well.len() - 1)] as f64)
    }

    /// Playing bot-seconds over `from..to`, well-behaved and resuming
    /// bots (the divisor of the timeline's per-bot rates).
    pub fn playing_seconds(&self, from: Duration, to: Duration) -> f64 {
        self.integral(from, to, |n| {
            self.playing[n.min(self.playing.len() - 1)] as f64
        })
    }

    /// Each phase's scheduled figures: bots at its start, end and peak,
    /// bot-seconds and playing bot-seconds run; what the bots measured
    /// still zero (the driver fills it).
    pub fn phase_counts(&self) -> Vec<PhaseCounts> {
        self.spans
            .iter()
            .map(|span| PhaseCounts {
                at_start: span.phase.from,
                at_end: span.phase.to,
                peak: span.phase.peak,
                bot_seconds: self.mean_running(span.start, span.end)
                    * (span.end - span.start).as_secs_f64(),
                playing_seconds: self.playing_seconds(span.start, span.end),
                ..PhaseCounts::default()
            })
            .collect()
    }
}

/// Reports carrying only the phases' names, for checking figure paths
/// (`phases.hold.latency_p99_ms`) before a run.
pub fn phase_shapes(phases: &[Phase]) -> Vec<PhaseReport> {
    phases
        .iter()
        .map(|p| PhaseReport {
            name: p.name.clone(),
            kind: p.kind,
            ..PhaseReport::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(phases: &str) -> Scenario {
        Scenario::parse(&format!(
            "name = \"t\"\n[target]\nurl = \"ws://h:1\"\n[rooms]\ncount = 2\nplayers = 10\n[mix]\nidle = 0.5\n{phases}"
        ))
        .expect("valid")
    }

    const RAMP_HOLD_SPIKE_DRAIN: &str = r#"
[[phase]]
kind = "ramp"
to = 4
duration = "4s"
[[phase]]
kind = "hold"
duration = "2s"
[[phase]]
kind = "spike"
add = 2
duration = "2s"
[[phase]]
kind = "drain"
duration = "2s"
"#;

    #[test]
    fn steps_follow_the_phases() {
        let s = Schedule::of(&scenario(RAMP_HOLD_SPIKE_DRAIN));
        let secs = |d: Duration| d.as_secs_f64();
        let starts: Vec<f64> = s
            .steps
            .iter()
            .filter(|s| s.change == Change::Start)
            .map(|s| secs(s.at))
            .collect();
        assert_eq!(starts, [0.0, 1.0, 2.0, 3.0, 6.0, 6.0]);
        let stops: Vec<f64> = s
            .steps
            .iter()
            .filter(|s| s.change == Change::Stop)
            .map(|s| secs(s.at))
            .collect();
        // The spike's two leave at its end, with the drain's first.
        assert_eq!(stops, [8.0, 8.0, 8.0, 8.5, 9.0, 9.5]);
        assert_eq!(s.duration(), Duration::from_secs(10));
        assert!(s.steps.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(s.running_at(Duration::from_millis(2500)), 3);
        assert_eq!(s.running_at(Duration::from_secs(5)), 4);
        assert_eq!(s.running_at(Duration::from_secs(7)), 6);
        assert_eq!(s.running_at(Duration::from_millis(8500)), 2);
        assert_eq!(s.running_at(Duration::from_secs(10)), 0);
    }

    #[test]
    fn phase_reports_carry_times_and_bot_counts() {
        let scenario = scenario(RAMP_HOLD_SPIKE_DRAIN);
        let s = Schedule::of(&scenario);
        let phases = super::super::phases::reports(&scenario, &s.phase_counts());
        let names: Vec<_> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ramp", "hold", "spike", "drain"]);
        // Ramp: starts at 0, 1, 2 and 3 s: 1, 2, 3, 4 bots a second each.
        assert!((phases[0].bots.mean - 2.5).abs() < 1e-9, "{:?}", phases[0]);
        assert_eq!(phases[1].bots.mean, 4.0);
        assert_eq!((phases[2].bots.peak, phases[2].bots.mean), (6, 6.0));
        // Drain from 4: stops at 8, 8.5, 9, 9.5: (3+2+1+0)/4.
        assert!((phases[3].bots.mean - 1.5).abs() < 1e-9, "{:?}", phases[3]);
        assert_eq!((phases[3].start_s, phases[3].end_s), (8.0, 10.0));
        assert_eq!((phases[3].bots.at_start, phases[3].bots.at_end), (4, 0));
    }

    #[test]
    fn creators_play_and_well_behaved_seconds_follow_the_mix() {
        let scenario = scenario(RAMP_HOLD_SPIKE_DRAIN);
        assert_eq!(behaviour(&scenario, 0), Behaviour::Arena);
        assert_eq!(behaviour(&scenario, 1), Behaviour::Arena);
        let s = Schedule::of(&scenario);
        // Idle bots are well-behaved too: every bot counts here.
        let hold = s.well_behaved_seconds(Duration::from_secs(4), Duration::from_secs(6));
        assert_eq!(hold, 8.0);
        assert_eq!(
            s.playing_seconds(Duration::from_secs(4), Duration::from_secs(6)),
            8.0
        );
        // Resuming bots play but are not well-behaved; misbehaving ones
        // do neither.
        let mut churn = scenario.clone();
        churn.mix = super::super::Mix {
            resume: 0.5,
            flood: 0.5,
            ..Default::default()
        };
        let s = Schedule::of(&churn);
        let (well, playing) = (
            s.well_behaved_seconds(Duration::from_secs(4), Duration::from_secs(6)),
            s.playing_seconds(Duration::from_secs(4), Duration::from_secs(6)),
        );
        let resuming = (2..4)
            .filter(|&slot| behaviour(&churn, slot) == Behaviour::Resume)
            .count();
        assert_eq!(well, 4.0, "only the two creators");
        assert_eq!(playing, 4.0 + 2.0 * resuming as f64);
    }
}
