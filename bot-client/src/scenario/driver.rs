//! Runs a [`Scenario`]: starts and stops bots on its [`Schedule`], on the
//! swarm's bot threads, with one measurement window over the whole run,
//! and reads each phase's figures off the per-second timeline and the
//! bots' running counters at the phase boundaries.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::behaviour::{BehaviourKind, ChaosMix};
use crate::bot::{self, Outcome, Plan, RoomSlot, Shared, Target};
use crate::figures::RunFigures;
use crate::measure::resume::ResumeReport;
use crate::measure::{self, GroupReport, Timeline, raw};
use crate::report::Report;
use crate::swarm::{self, BOTS_PER_THREAD_GROUP, BotThreads, JoinMode, SwarmConfig};
use crate::tokens::BotTokens;

use super::phases::{self, PhaseCounts, ScenarioFigures};
use super::schedule::{self, Change, Schedule};
use super::{JoinFile, PhaseKind, Scenario};

/// Longest wait for bots to stop after the last phase (the swarm's).
pub use crate::swarm::STOP_GRACE;

/// How often the progress line is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// How a scenario is run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Each bot's token, when the server authenticates clients.
    pub tokens: Option<BotTokens>,
    /// No progress display.
    pub quiet: bool,
}

/// The bots' running counters at one moment, for per-phase differences.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    joined: usize,
    failed: usize,
    missed: u64,
    mismatches: u64,
    errors: u64,
}

impl Counters {
    fn read(shared: &Shared) -> Self {
        Self {
            joined: shared.joined.load(Ordering::Relaxed),
            failed: shared.failed.load(Ordering::Relaxed),
            missed: shared.missed.load(Ordering::Relaxed),
            mismatches: shared.checksum_mismatches.load(Ordering::Relaxed),
            errors: shared.errors.load(Ordering::Relaxed),
        }
    }
}

/// What happens at one point of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Moment {
    /// Phase `i` ends (its counters are read before any change at the
    /// same time).
    PhaseEnd(usize),
    /// A bot starts or stops.
    Step(usize),
}

/// Where the bots of each room go: creators get a fresh channel each time
/// they start (the room they created before may be gone), followers
/// watch the latest.
struct Rooms {
    join: JoinFile,
    name: String,
    /// The whole run's index of room 0 (an agent's share starts further on).
    first_room: usize,
    seats: u16,
    rooms: Vec<Option<watch::Receiver<RoomSlot>>>,
}

impl Rooms {
    fn target(&mut self, slot: usize) -> Target {
        if self.join == JoinFile::QuickJoin {
            return Target::QuickJoin;
        }
        let room = slot % self.rooms.len();
        if slot < self.rooms.len() {
            let (tx, rx) = watch::channel(RoomSlot::Pending);
            self.rooms[room] = Some(rx);
            return Target::Create {
                name: format!("{}-{}", self.name, self.first_room + room),
                seats: self.seats,
                publish: Arc::new(tx),
            };
        }
        let rx = self.rooms[room]
            .clone()
            .expect("a room's creator (a lower slot) starts before its followers");
        Target::Follow(rx)
    }
}

/// The swarm configuration a scenario amounts to, for the report's
/// header fields.
fn swarm_config(scenario: &Scenario, options: &RunOptions) -> SwarmConfig {
    SwarmConfig {
        url: scenario.url.clone(),
        tls: scenario.tls.clone(),
        rooms: scenario.rooms,
        players: scenario.players,
        duration: scenario.duration(),
        ramp_up: scenario
            .phases
            .iter()
            .filter(|p| p.kind == PhaseKind::Ramp)
            .map(|p| p.duration)
            .sum(),
        settle: Duration::ZERO,
        seed: scenario.seed,
        threads: scenario.threads,
        behaviour: if scenario.mix.has_chaos() {
            BehaviourKind::Chaos
        } else if scenario.mix.idle >= 1.0 {
            BehaviourKind::Idle
        } else {
            BehaviourKind::Arena
        },
        chaos: ChaosMix::default(),
        join: match scenario.join {
            JoinFile::Create => JoinMode::CreateRooms,
            JoinFile::QuickJoin => JoinMode::QuickJoin,
        },
        events_per_second: scenario.mix.events_per_second,
        quiet: options.quiet,
        tokens: options.tokens.clone(),
        verify_every: scenario.verify_every,
        first_bot: 0,
        network: scenario.network.clone(),
        storm_at: None,
    }
}

fn progress(options: &RunOptions, total: Duration) -> Option<ProgressBar> {
    if options.quiet {
        return None;
    }
    let bar = ProgressBar::new(total.as_secs().max(1));
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    Some(bar)
}

/// Runs `scenario` to its end and reports; `[pass]` thresholds that do not
/// hold are among the report's failures.
pub async fn run(scenario: &Scenario, options: RunOptions) -> Report {
    run_with_figures(scenario, options).await.0
}

/// The report of a scenario run's raw figures (one machine's, or the sum
/// of a distributed run's shares): the swarm report of `figures` with the
/// well-behaved rates and the timeline divided by the bot-seconds
/// actually run, the phases read off their counts, and `[pass]` judged.
/// `scenario` is the whole run (names, times, header); `resume` is the
/// local run's resume report (not mergeable: a distributed run has none).
pub fn report(scenario: &Scenario, figures: &RunFigures, resume: Option<ResumeReport>) -> Report {
    let config = swarm_config(scenario, &RunOptions::default());
    let mut report = figures.report(&config);
    if let Some(run) = &figures.scenario {
        report.bots.failed = run.failed;
        rescale(
            &mut report.well_behaved,
            figures.window_s,
            run.well_behaved_seconds,
        );
        report.timeline = raw::timeline_report(&figures.timeline, 1);
        for second in &mut report.timeline {
            let n = run.playing.get(second.second).copied().unwrap_or(1.0);
            second.down_bytes_per_client /= n.max(1.0);
            second.up_bytes_per_client /= n.max(1.0);
        }
        report.phases = phases::reports(scenario, &run.phases);
    }
    report.judge();
    report.failures.extend(figures.failures.iter().cloned());
    report.resume = resume;
    let json = serde_json::to_value(&report).expect("a report always serialises");
    report.failures.extend(scenario.judge(&json));
    report
}

/// Runs `scenario` (a whole run or an agent's share of one,
/// [`Scenario::share`]) to its end, and returns its report beside the raw
/// figures it was built from ([`report`]), which shares of a distributed
/// run add up.
pub async fn run_with_figures(scenario: &Scenario, options: RunOptions) -> (Report, RunFigures) {
    let schedule = Schedule::of(scenario);
    let total = schedule.duration();
    let config = swarm_config(scenario, &options);
    let shared = Arc::new(Shared {
        timeline: Timeline::new(total),
        ..Shared::default()
    });
    let threads = match BotThreads::start(scenario.threads) {
        Ok(threads) => threads,
        Err(e) => {
            let (mut figures, _) =
                swarm::collect(&config, &shared, Vec::new(), 0.0, Duration::ZERO, None);
            figures
                .failures
                .push(format!("starting the bot threads: {e}"));
            return (report(scenario, &figures, None), figures);
        }
    };
    let mut rooms = Rooms {
        join: scenario.join,
        name: scenario.name.clone(),
        first_room: scenario.global_room(0),
        seats: u16::try_from(scenario.players).unwrap_or(u16::MAX),
        rooms: vec![None; scenario.rooms],
    };
    let mut moments: Vec<(Duration, Moment)> = schedule
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| (step.at, Moment::Step(i)))
        .chain(
            schedule
                .spans
                .iter()
                .enumerate()
                .map(|(i, span)| (span.end, Moment::PhaseEnd(i))),
        )
        .collect();
    moments.sort();

    let bar = progress(&options, total);
    // Each bot slot's network, drawn over every seat the rooms have.
    let networks = scenario
        .network
        .as_ref()
        .map(|mix| mix.assign(scenario.total_seats(), scenario.seed));
    let mut live: Vec<CancellationToken> = Vec::new();
    let mut tasks: Vec<tokio::task::JoinHandle<Outcome>> = Vec::new();
    let mut boundaries = vec![Counters::default()];
    let mut phase = 0;
    shared.window.open();
    let cpu_open = measure::process_cpu();
    let opened = Instant::now();
    let start = tokio::time::Instant::now();
    let mut next_progress = start;
    for (at, moment) in moments {
        let due = start + at;
        // Refresh progress while waiting.
        while let Some(bar) = &bar {
            let now = tokio::time::Instant::now();
            if now >= next_progress {
                show(bar, &shared, &schedule, phase, live.len(), opened);
                next_progress = now + PROGRESS_EVERY;
            }
            if next_progress >= due {
                break;
            }
            tokio::time::sleep_until(next_progress).await;
        }
        tokio::time::sleep_until(due).await;
        match moment {
            Moment::PhaseEnd(i) => {
                boundaries.push(Counters::read(&shared));
                phase = i + 1;
            }
            Moment::Step(i) => match schedule.steps[i].change {
                Change::Start => {
                    let slot = live.len();
                    // The bot's index in the whole run (a share's slots
                    // are the whole run's slots of its rooms).
                    let global = scenario.global_slot(slot);
                    let stop = shared.stop.child_token();
                    let plan = Plan {
                        index: global as u64,
                        url: scenario.url.clone(),
                        tls: scenario.tls.clone(),
                        target: rooms.target(slot),
                        behaviour: schedule::behaviour(scenario, slot),
                        seed: scenario.seed,
                        start_after: Duration::ZERO,
                        events_per_second: scenario.mix.events_per_second,
                        ticket: options.tokens.as_ref().and_then(|tokens| {
                            tokens
                                .mint(global as u64)
                                .inspect_err(
                                    |e| tracing::warn!(error = %e, "minting a bot's token failed"),
                                )
                                .ok()
                        }),
                        verify: (global as u64).is_multiple_of(scenario.verify_every.max(1) as u64),
                        network: networks.as_ref().and_then(|n| {
                            n.get(global % n.len().max(1)).map(|profile| {
                                (
                                    (*profile).clone(),
                                    crate::network::bot_seed(scenario.seed, global as u64),
                                )
                            })
                        }),
                    };
                    // A room's bots share a thread, 16 at a time.
                    let room = slot % scenario.rooms;
                    let group =
                        room + scenario.rooms * (slot / scenario.rooms / BOTS_PER_THREAD_GROUP);
                    tasks.push(threads.spawn(
                        group,
                        bot::run_until(plan, Arc::clone(&shared), stop.clone()),
                    ));
                    live.push(stop);
                }
                Change::Stop => {
                    if let Some(stop) = live.pop() {
                        stop.cancel();
                    }
                }
            },
        }
    }
    shared.window.close();
    let window_s = opened.elapsed().as_secs_f64();
    let bot_cpu = measure::process_cpu().saturating_sub(cpu_open);
    shared.stop.cancel();

    let started = tasks.len();
    let (outcomes, unfinished) = swarm::gather(tasks).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (mut figures, resume) = swarm::collect(&config, &shared, outcomes, window_s, bot_cpu, None);
    figures.planned = started;
    let seconds = figures.timeline.len().max(total.as_secs() as usize);
    figures.scenario = Some(ScenarioFigures {
        failed: shared.failed.load(Ordering::Relaxed),
        well_behaved_seconds: schedule.well_behaved_seconds(Duration::ZERO, total),
        playing: (0..seconds)
            .map(|second| {
                let from = Duration::from_secs(second as u64);
                schedule.playing_seconds(from, from + Duration::from_secs(1))
            })
            .collect(),
        phases: phase_counts(&schedule, &shared, &boundaries),
    });
    if unfinished > 0 {
        figures.failures.push(format!(
            "{unfinished} bots did not stop within {STOP_GRACE:?}"
        ));
    }
    (report(scenario, &figures, resume), figures)
}

/// The progress line: the phase, bots running and joined, the last
/// second's p99.
fn show(
    bar: &ProgressBar,
    shared: &Shared,
    schedule: &Schedule,
    phase: usize,
    running: usize,
    opened: Instant,
) {
    let elapsed = opened.elapsed();
    bar.set_position(elapsed.as_secs());
    let name = schedule
        .spans
        .get(phase)
        .map_or("end", |s| s.phase.name.as_str());
    let p99 = shared.timeline.last_complete_p99_ms();
    bar.set_message(format!(
        "{name} | {running} bots | {} joined | {} failed | latency p99 {p99:.2} ms | {} errors",
        shared.joined.load(Ordering::Relaxed),
        shared.failed.load(Ordering::Relaxed),
        shared.errors.load(Ordering::Relaxed),
    ));
}

/// The group's per-bot rates were divided by bots x window (every bot
/// present throughout); divide by the bot-seconds actually run instead.
fn rescale(group: &mut GroupReport, window_s: f64, bot_seconds: f64) {
    let assumed = group.bots as f64 * window_s;
    if assumed <= 0.0 || bot_seconds <= 0.0 {
        return;
    }
    let factor = assumed / bot_seconds;
    for rate in [
        &mut group.updates_per_bot_per_s,
        &mut group.down_payload_bytes_per_client_s,
        &mut group.down_framed_bytes_per_client_s,
        &mut group.down_wire_estimate_bytes_per_client_s,
        &mut group.up_payload_bytes_per_client_s,
        &mut group.up_framed_bytes_per_client_s,
        &mut group.up_wire_estimate_bytes_per_client_s,
    ] {
        *rate *= factor;
    }
}

/// Each phase's raw figures: the timeline's counts over its seconds, the
/// counters' differences across its boundaries, the bots it scheduled.
fn phase_counts(schedule: &Schedule, shared: &Shared, boundaries: &[Counters]) -> Vec<PhaseCounts> {
    let mut phases = schedule.phase_counts();
    for (i, (counts, span)) in phases.iter_mut().zip(&schedule.spans).enumerate() {
        let seconds = span.start.as_secs() as usize..span.end.as_secs() as usize;
        counts.span = shared.timeline.span_counts(seconds);
        if let (Some(before), Some(after)) = (boundaries.get(i), boundaries.get(i + 1)) {
            counts.joined = after.joined - before.joined;
            counts.failed = after.failed - before.failed;
            counts.missed = after.missed - before.missed;
            counts.checksum_mismatches = after.mismatches - before.mismatches;
            counts.errors = after.errors - before.errors;
        }
    }
    phases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creators_get_a_fresh_room_each_start_and_followers_the_latest() {
        let mut rooms = Rooms {
            join: JoinFile::Create,
            name: "s".into(),
            first_room: 0,
            seats: 4,
            rooms: vec![None; 2],
        };
        let Target::Create { name, publish, .. } = rooms.target(1) else {
            panic!("slot 1 creates room 1");
        };
        assert_eq!(name, "s-1");
        publish.send_replace(RoomSlot::Ready(tickwire_shared::ids::RoomId(7)));
        let Target::Follow(rx) = rooms.target(3) else {
            panic!("slot 3 follows room 1");
        };
        assert_eq!(
            *rx.borrow(),
            RoomSlot::Ready(tickwire_shared::ids::RoomId(7))
        );
        // Room 1's creator started again: its followers wait for the new room.
        let Target::Create { .. } = rooms.target(1) else {
            panic!("slot 1 creates again");
        };
        let Target::Follow(rx) = rooms.target(3) else {
            panic!("slot 3 follows");
        };
        assert_eq!(*rx.borrow(), RoomSlot::Pending);
        let mut quick = Rooms {
            join: JoinFile::QuickJoin,
            ..rooms
        };
        assert!(matches!(quick.target(0), Target::QuickJoin));
    }

    #[test]
    fn rates_are_rescaled_to_the_bot_seconds_run() {
        // 10 bots over a 10 s window, but they ran 50 bot-seconds in all.
        let mut group = GroupReport {
            bots: 10,
            updates_per_bot_per_s: 15.0,
            down_payload_bytes_per_client_s: 100.0,
            ..GroupReport::default()
        };
        rescale(&mut group, 10.0, 50.0);
        assert_eq!(group.updates_per_bot_per_s, 30.0);
        assert_eq!(group.down_payload_bytes_per_client_s, 200.0);
        rescale(&mut group, 10.0, 0.0);
        assert_eq!(group.updates_per_bot_per_s, 30.0, "nothing ran: unchanged");
    }
}
