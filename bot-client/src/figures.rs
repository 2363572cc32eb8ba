//! A swarm's raw figures ([`RunFigures`]): what its bots measured, as
//! histogram counts and summed counters, before any percentile is read.
//! One swarm's report is computed from them ([`RunFigures::report`]); a
//! run split among agents adds each agent's figures ([`RunFigures::add`])
//! and computes the same report from the sum, so the merge is exact.

use serde::{Deserialize, Serialize};

use crate::measure::raw::{self, Counts, GroupFigures, SecondCounts};
use crate::measure::{self, Percentiles};
use crate::report::{BotCounts, Report};
use crate::swarm::{SwarmConfig, Transport, transport_of};

/// What a swarm (or a share of one) measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    /// Bots planned.
    pub planned: usize,
    /// Bots that joined their room.
    pub joined: usize,
    /// Of the joined well-behaved bots, those that decoded and verified
    /// every update.
    pub verifying: usize,
    /// The measurement window, seconds.
    pub window_s: f64,
    /// The bots' CPU time in the window, seconds.
    pub bot_cpu_s: f64,
    /// Connect and greet, microseconds.
    pub connect_us: Counts,
    /// Greeted to joined, microseconds.
    pub join_us: Counts,
    /// Joins that took no redirect.
    pub join_direct_us: Counts,
    /// Joins redirected to another node.
    pub join_redirected_us: Counts,
    /// The well-behaved bots.
    pub well_behaved: GroupFigures,
    /// The misbehaving bots (chaos runs).
    pub misbehaving: Option<GroupFigures>,
    /// The well-behaved bots' per-second series.
    pub timeline: Vec<SecondCounts>,
    /// The well-behaved bots' figures per network profile (`--network`).
    /// Not sent by agents: a distributed run reports none.
    #[serde(skip)]
    pub network: Vec<crate::network::NetworkGroup>,
    /// Failures the figures themselves do not show: bots that failed to
    /// join (their first ten), a join phase that ran out of time, bots
    /// that did not stop, resume failures.
    pub failures: Vec<String>,
    /// A scenario run's per-phase figures and bot-seconds (`None` for a
    /// swarm).
    #[serde(default)]
    pub scenario: Option<crate::scenario::phases::ScenarioFigures>,
}

impl RunFigures {
    /// Adds another share's figures: counts and histograms summed, the
    /// window the bot-weighted mean (so that per-client rates divide by
    /// the bot-seconds actually measured), CPU summed.
    pub fn add(&mut self, other: &Self) {
        let bot_seconds = self.bot_seconds() + other.bot_seconds();
        self.planned += other.planned;
        self.joined += other.joined;
        self.verifying += other.verifying;
        self.bot_cpu_s += other.bot_cpu_s;
        self.connect_us.add(&other.connect_us);
        self.join_us.add(&other.join_us);
        self.join_direct_us.add(&other.join_direct_us);
        self.join_redirected_us.add(&other.join_redirected_us);
        self.well_behaved.add(&other.well_behaved);
        match (&mut self.misbehaving, &other.misbehaving) {
            (Some(mine), Some(theirs)) => mine.add(theirs),
            (None, Some(theirs)) => self.misbehaving = Some(theirs.clone()),
            _ => {}
        }
        raw::add_timeline(&mut self.timeline, &other.timeline);
        self.failures.extend(other.failures.iter().cloned());
        match (&mut self.scenario, &other.scenario) {
            (Some(mine), Some(theirs)) => mine.add(theirs),
            (None, Some(theirs)) => self.scenario = Some(theirs.clone()),
            _ => {}
        }
        self.window_s = if self.well_behaved.bots > 0 {
            bot_seconds / self.well_behaved.bots as f64
        } else {
            self.window_s.max(other.window_s)
        };
    }

    /// Well-behaved bots times the window, seconds.
    fn bot_seconds(&self) -> f64 {
        self.well_behaved.bots as f64 * self.window_s
    }

    /// The report of these figures for the run `config` describes (its
    /// header: URL, rooms, seed, ...): percentiles read off the histogram
    /// counts, rates per bot-second, the verdict judged.
    pub fn report(&self, config: &SwarmConfig) -> Report {
        let overhead = Transport::of_url(&config.url).wire_overhead();
        let well = self.well_behaved.merged(self.bot_seconds(), overhead);
        let misbehaving = self
            .misbehaving
            .as_ref()
            .map(|m| m.merged(m.bots as f64 * self.window_s, overhead).report);
        let redirected = &self.join_redirected_us;
        let mut report = Report {
            tool: format!("tickwire-bot {}", env!("CARGO_PKG_VERSION")),
            url: config.url.clone(),
            transport: transport_of(&config.url).into(),
            behaviour: config.behaviour.name().into(),
            rooms: config.rooms,
            players_per_room: config.players,
            seed: config.seed,
            ramp_up_s: config.ramp_up.as_secs_f64(),
            settle_s: config.settle.as_secs_f64(),
            window_s: self.window_s,
            events_per_second: config.events_per_second,
            bots: BotCounts {
                planned: self.planned,
                connected: self.connect_us.0.len() as usize,
                joined: self.joined,
                failed: self.planned.saturating_sub(self.joined),
                redirected: redirected.0.len() as usize,
                verifying: self.verifying,
            },
            connect_ms: self.connect_us.percentiles(),
            join_ms: self.join_us.percentiles(),
            join_direct_ms: self.join_direct_us.percentiles(),
            join_redirected_ms: (!redirected.0.is_empty()).then(|| Percentiles::of(&redirected.0)),
            timeline: raw::timeline_report(&self.timeline, well.report.bots),
            latency_distribution: measure::distribution(&well.latency_us),
            well_behaved: well.report,
            misbehaving,
            bot_cpu_s: self.bot_cpu_s,
            server: None,
            resume: None,
            agents: Vec::new(),
            network_mix: config.network.as_ref().map(|m| m.describe()),
            network: self.network.clone(),
            phases: Vec::new(),
            failures: Vec::new(),
        };
        report.judge();
        report.failures.extend(self.failures.iter().cloned());
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_to_one_run() {
        let share = |bots: usize, window_s: f64, latencies: &[u64]| {
            let mut f = RunFigures {
                planned: bots,
                joined: bots,
                verifying: 1,
                window_s,
                bot_cpu_s: 0.5,
                ..RunFigures::default()
            };
            f.well_behaved.bots = bots;
            f.well_behaved.updates = 30 * bots as u64;
            for &us in latencies {
                f.well_behaved.latency_us.0.saturating_record(us);
            }
            f
        };
        let mut run = share(4, 2.0, &[1_000, 3_000]);
        run.add(&share(2, 5.0, &[9_000]));
        assert_eq!((run.planned, run.joined, run.verifying), (6, 6, 2));
        // 4 bots x 2 s + 2 bots x 5 s = 18 bot-seconds over 6 bots.
        assert!((run.window_s - 3.0).abs() < 1e-9);
        assert_eq!(run.bot_cpu_s, 1.0);
        assert_eq!(run.well_behaved.latency_us.0.len(), 3);
        let config = crate::swarm::tests::config();
        let report = run.report(&config);
        assert_eq!(report.well_behaved.updates, 180);
        assert!((report.well_behaved.updates_per_bot_per_s - 10.0).abs() < 1e-9);
        assert_eq!(report.bots.verifying, 2);
        assert!(report.passed(), "{:?}", report.failures);
    }
}
