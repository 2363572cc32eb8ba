//! A swarm: rooms x players bots against one server. Bots start spread over
//! the ramp-up; the measurement window opens when every bot has joined (or
//! failed) and lasts the run's duration; then every bot stops and the
//! figures are merged into a [`Report`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tickwire_shared::ids::RoomId;
use tokio::sync::watch;

use crate::behaviour::{Behaviour, BehaviourKind, ChaosMix};
use crate::bot::{self, Outcome, Plan, RoomSlot, Shared, Target};
use crate::figures::RunFigures;
use crate::measure::raw::GroupFigures;
use crate::measure::resume::ResumeReport;
use crate::measure::{self, FinishedBot, Timeline};
use crate::report::Report;
use tickwire_client::ClientTls;

/// Longest wait for every bot to join after the ramp-up.
const JOIN_GRACE: Duration = Duration::from_secs(30);
/// Longest wait for bots to stop after the window closes.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How bots find their rooms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinMode {
    /// The first bot of each room creates it (public, `players` seats); the
    /// others join it by id.
    CreateRooms,
    /// Every bot quick-joins.
    QuickJoin,
    /// Every bot joins this room.
    Room(RoomId),
}

/// A swarm run.
#[derive(Clone, Debug)]
pub struct SwarmConfig {
    /// Server URL, `ws://host:port/ws`, `wss://host:port/ws` or
    /// `quic://host:port`.
    pub url: String,
    /// How a `wss://` server's certificate is accepted (default: verified
    /// against the webpki roots).
    pub tls: ClientTls,
    /// Rooms.
    pub rooms: usize,
    /// Bots per room.
    pub players: usize,
    /// Measurement window.
    pub duration: Duration,
    /// Bots start spread over this.
    pub ramp_up: Duration,
    /// Pause between the last join and the window opening, so that the
    /// backlog a join storm leaves in the bots' sockets does not count as
    /// steady-state latency.
    pub settle: Duration,
    /// Workload seed.
    pub seed: u64,
    /// Threads the bots run on, each with a single-threaded runtime; each
    /// run of 16 consecutive bots (a 16-player room) shares one, so the
    /// update burst of a tick wakes one thread (0: one per available core).
    pub threads: usize,
    /// What bots do.
    pub behaviour: BehaviourKind,
    /// Misbehaviour shares for chaos runs.
    pub chaos: ChaosMix,
    /// How bots find rooms.
    pub join: JoinMode,
    /// `echo` events each well-behaved playing bot emits with an ack per
    /// second (0: none; at most `bot::MAX_EVENTS_PER_SECOND`); answer
    /// latency, refusals and timeouts go into the report.
    pub events_per_second: f64,
    /// No progress display.
    pub quiet: bool,
    /// Each bot's token, when the server authenticates clients (None:
    /// bots present none).
    pub tokens: Option<crate::tokens::BotTokens>,
    /// This far into the window, every playing bot cuts its connection at
    /// once and resumes (a server-side network blip, a load balancer
    /// restart); the report's `resume.storm` says how many came back and
    /// how fast. None: no storm.
    pub storm_at: Option<Duration>,
    /// Every this many bots, one decodes and verifies every update; the
    /// others only acknowledge each update's tick and count its bytes,
    /// which costs far less CPU (a light run, for sheer load). 1 (the
    /// default): every bot verifies; 0 is taken as 1.
    pub verify_every: usize,
    /// The index of this swarm's first bot (0 unless a coordinator gave
    /// this swarm a share of a larger run): bot `i` plays as bot
    /// `first_bot + i` of the whole run (seed, behaviour, token, room
    /// name), so a run split among agents plays as it would on one
    /// machine.
    pub first_bot: u64,
    /// The networks the bots sit behind, as shares of the bots (each
    /// bot's drawn from the seed); the report gives figures per profile.
    /// None: every bot on the bare network.
    pub network: Option<crate::network::NetworkMix>,
}

/// The edges of the measurement window, for callers that measure the
/// server alongside (the benchmark).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// Every bot has joined; figures start counting now.
    Opened,
    /// The window has closed.
    Closed,
}

/// A client transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// WebSocket over plain TCP (`ws://`).
    Ws,
    /// WebSocket over TLS (`wss://`).
    Wss,
    /// QUIC (`quic://`): control on a stream, updates and inputs as
    /// datagrams.
    Quic,
}

impl Transport {
    /// Its name in reports: `"ws"`, `"wss"` or `"quic"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Wss => "wss",
            Self::Quic => "quic",
        }
    }

    /// The transport a URL names: `wss://`, `quic://`, else `ws`.
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("wss://") {
            Self::Wss
        } else if url.starts_with("quic://") {
            Self::Quic
        } else {
            Self::Ws
        }
    }

    /// Bytes each message costs on the wire beyond what the bots count,
    /// for the wire estimate (loopback, IPv4, one packet per message, which
    /// holds for small messages sent at once):
    /// - `ws`: IPv4 20 + TCP 20 + timestamps 12 = 52 (the counted bytes
    ///   already include WebSocket framing);
    /// - `wss`: the same plus a TLS 1.3 record (5 header + 1 type + 16 tag)
    ///   = 74;
    /// - `quic`: IPv4 20 + UDP 8 + short header (1 + 8 connection id + 2
    ///   packet number) + 16 tag + 2 frame type and length = 57.
    pub fn wire_overhead(self) -> u64 {
        match self {
            Self::Ws => 52,
            Self::Wss => 74,
            Self::Quic => 57,
        }
    }
}

/// The transport a URL names: `"wss"` for `wss://`, `"quic"` for
/// `quic://`, `"ws"` otherwise.
pub fn transport_of(url: &str) -> &'static str {
    Transport::of_url(url).name()
}

/// Switches a URL to a transport's scheme, keeping host and port: `quic://`
/// drops the path, `ws://` and `wss://` get `/ws` when there is none. The
/// port stays, so point the URL at the port of the transport asked for.
pub fn with_transport(url: &str, transport: Transport) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match transport {
        Transport::Quic => {
            let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
            format!("quic://{authority}")
        }
        Transport::Ws | Transport::Wss => ws_url(&format!("{}://{rest}", transport.name())),
    }
}

/// Switches a URL to `wss://` (`secure`) or `ws://`, keeping the rest.
pub fn with_scheme(url: &str, secure: bool) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    format!("{}://{rest}", if secure { "wss" } else { "ws" })
}

/// Normalises a URL: `ws://host:port` gets the `/ws` path; a `quic://`
/// URL has no path (a trailing `/` is dropped).
pub fn ws_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.starts_with("quic://") {
        return trimmed.to_owned();
    }
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/ws")
    }
}

fn plans(config: &SwarmConfig) -> Vec<Plan> {
    let total = config.rooms * config.players;
    let seats = u16::try_from(config.players).unwrap_or(u16::MAX);
    let mut plans = Vec::with_capacity(total);
    let mut follow = None;
    let every = config.verify_every.max(1) as u64;
    // Each bot's network, drawn over this swarm's bots.
    let networks = config
        .network
        .as_ref()
        .map(|mix| mix.assign(total, config.seed));
    for local in 0..total {
        let index = local + config.first_bot as usize;
        let room = index / config.players;
        let target = match config.join {
            JoinMode::QuickJoin => Target::QuickJoin,
            JoinMode::Room(id) => Target::Room(id),
            JoinMode::CreateRooms if local % config.players == 0 => {
                let (tx, rx) = watch::channel(RoomSlot::Pending);
                follow = Some(rx);
                Target::Create {
                    name: format!("swarm-{room}"),
                    seats,
                    publish: Arc::new(tx),
                }
            }
            JoinMode::CreateRooms => {
                Target::Follow(follow.clone().expect("a creator precedes its followers"))
            }
        };
        // Room creators play normally so that every room exists.
        let behaviour = match target {
            Target::Create { .. } if config.behaviour == BehaviourKind::Chaos => Behaviour::Arena,
            _ => Behaviour::for_bot(config.behaviour, &config.chaos, config.seed, index as u64),
        };
        let start_after = config.ramp_up.mul_f64(local as f64 / total.max(1) as f64);
        plans.push(Plan {
            index: index as u64,
            url: config.url.clone(),
            tls: config.tls.clone(),
            target,
            behaviour,
            seed: config.seed,
            start_after,
            network: networks.as_ref().map(|n| {
                (
                    n[local].clone(),
                    crate::network::bot_seed(config.seed, index as u64),
                )
            }),
            events_per_second: config.events_per_second,
            ticket: config.tokens.as_ref().and_then(|tokens| {
                tokens
                    .mint(index as u64)
                    .inspect_err(|e| tracing::warn!(error = %e, "minting a bot's token failed"))
                    .ok()
            }),
            verify: (index as u64).is_multiple_of(every),
        });
    }
    plans
}

fn progress(config: &SwarmConfig, total: usize) -> Option<ProgressBar> {
    if config.quiet {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} joined  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    Some(bar)
}

/// Runs a swarm. `on_edge` is called (synchronously) as the window opens
/// and closes.
pub async fn run(config: SwarmConfig, on_edge: impl FnMut(Edge)) -> Report {
    run_with_figures(config, on_edge).await.0
}

/// Runs a swarm like [`run`], and returns its raw figures beside its
/// report: what an agent sends its coordinator, to be merged exactly.
pub async fn run_with_figures(
    config: SwarmConfig,
    mut on_edge: impl FnMut(Edge),
) -> (Report, RunFigures) {
    let total = config.rooms * config.players;
    let shared = Arc::new(Shared {
        timeline: Timeline::new(config.duration),
        ..Shared::default()
    });
    let bar = progress(&config, total);
    let threads = match BotThreads::start(config.threads) {
        Ok(threads) => threads,
        Err(e) => {
            let (mut figures, resume) =
                collect(&config, &shared, Vec::new(), 0.0, Duration::ZERO, None);
            figures
                .failures
                .push(format!("starting the bot threads: {e}"));
            return (report_of(&config, &figures, resume), figures);
        }
    };
    let tasks: Vec<_> = plans(&config)
        .into_iter()
        .map(|plan| {
            let group = (plan.index - config.first_bot) as usize / BOTS_PER_THREAD_GROUP;
            threads.spawn(group, bot::run(plan, Arc::clone(&shared)))
        })
        .collect();

    // Wait for every bot to join or fail.
    let joining_deadline = Instant::now() + config.ramp_up + JOIN_GRACE;
    let mut join_timed_out = false;
    loop {
        let done = shared.joined.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed);
        if let Some(bar) = &bar {
            bar.set_position(shared.joined.load(Ordering::Relaxed) as u64);
            bar.set_message(format!("{} failed", shared.failed.load(Ordering::Relaxed)));
        }
        if done >= total {
            break;
        }
        if Instant::now() >= joining_deadline {
            join_timed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    tokio::select! {
        () = tokio::time::sleep(config.settle) => {}
        () = shared.stop.cancelled() => {}
    }
    edge(&mut on_edge, Edge::Opened);
    shared.window.open();
    let cpu_open = measure::process_cpu();
    let opened = Instant::now();
    let mut last = (
        opened,
        shared.updates.load(Ordering::Relaxed),
        shared.bytes_down.load(Ordering::Relaxed),
    );
    let mut storm_at_s = None;
    while opened.elapsed() < config.duration {
        let left = config.duration.saturating_sub(opened.elapsed());
        let until_storm = config
            .storm_at
            .filter(|_| storm_at_s.is_none())
            .map(|at| at.saturating_sub(opened.elapsed()));
        let nap = left
            .min(Duration::from_millis(500))
            .min(until_storm.unwrap_or(Duration::MAX));
        tokio::time::sleep(nap).await;
        if until_storm.is_some_and(|d| d <= nap) {
            storm_at_s = Some(opened.elapsed().as_secs_f64());
            shared.storm.cancel();
        }
        if let Some(bar) = &bar {
            let now = Instant::now();
            let (updates, bytes) = (
                shared.updates.load(Ordering::Relaxed),
                shared.bytes_down.load(Ordering::Relaxed),
            );
            let dt = now.duration_since(last.0).as_secs_f64().max(1e-3);
            let clients = shared.joined.load(Ordering::Relaxed).max(1) as f64;
            let p99 = shared.timeline.last_complete_p99_ms();
            bar.set_message(format!(
                "{:.0} updates/s | latency p99 {:.2} ms | {:.0} B/client/s | {} reconnecting | {} errors | {:.0}s left",
                (updates - last.1) as f64 / dt,
                p99,
                (bytes - last.2) as f64 / dt / clients,
                shared.reconnecting.load(Ordering::Relaxed),
                shared.errors.load(Ordering::Relaxed),
                config.duration.saturating_sub(opened.elapsed()).as_secs_f64(),
            ));
            last = (now, updates, bytes);
        }
    }
    shared.window.close();
    let window_s = opened.elapsed().as_secs_f64();
    let bot_cpu = measure::process_cpu().saturating_sub(cpu_open);
    edge(&mut on_edge, Edge::Closed);
    shared.stop.cancel();

    let (outcomes, unfinished) = gather(tasks).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (mut figures, resume) = collect(&config, &shared, outcomes, window_s, bot_cpu, storm_at_s);
    if join_timed_out {
        figures
            .failures
            .insert(0, "not every bot joined in time".into());
    }
    if unfinished > 0 {
        figures.failures.push(format!(
            "{unfinished} bots did not stop within {STOP_GRACE:?}"
        ));
    }
    (report_of(&config, &figures, resume), figures)
}

/// The report of a swarm's figures, with its drops and resumes.
fn report_of(config: &SwarmConfig, figures: &RunFigures, resume: Option<ResumeReport>) -> Report {
    let mut report = figures.report(config);
    report.resume = resume;
    report
}

/// Consecutive bots that share a thread: a 16-player room's bots (their
/// updates arrive together, one wake-up serves them all), while a crowd
/// room's bots spread over every thread.
pub(crate) const BOTS_PER_THREAD_GROUP: usize = 16;

/// The threads bots run on, each with a single-threaded runtime; dropping
/// this stops them.
pub(crate) struct BotThreads {
    handles: Vec<tokio::runtime::Handle>,
    _stop: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl BotThreads {
    pub(crate) fn start(count: usize) -> std::io::Result<Self> {
        let count = match count {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (mut handles, mut stops) = (Vec::new(), Vec::new());
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            stops.push(stop);
            std::thread::Builder::new()
                .name(format!("tickwire-bots-{index}"))
                .spawn(move || {
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
        }
        Ok(Self {
            handles,
            _stop: stops,
        })
    }

    /// Runs a bot of `group` on that group's thread.
    pub(crate) fn spawn<F>(&self, group: usize, bot: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handles[group % self.handles.len()].spawn(bot)
    }
}

/// Calls the edge callback. It may block (the benchmark reads /proc and
/// scrapes the server), so on a multi-thread runtime it runs under
/// `block_in_place`, which moves the bots off this worker first: a blocked
/// worker would otherwise stall its bots and show up as latency.
fn edge(on_edge: &mut impl FnMut(Edge), which: Edge) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| on_edge(which)),
        _ => on_edge(which),
    }
}

/// Waits for the bots' tasks (stopped already) at most [`STOP_GRACE`]
/// in all: their outcomes, and how many did not finish in time.
pub(crate) async fn gather(tasks: Vec<tokio::task::JoinHandle<Outcome>>) -> (Vec<Outcome>, usize) {
    let mut outcomes = Vec::with_capacity(tasks.len());
    let stop_deadline = tokio::time::Instant::now() + STOP_GRACE;
    let mut unfinished = 0;
    for task in tasks {
        if let Ok(Ok(outcome)) = tokio::time::timeout_at(stop_deadline, task).await {
            outcomes.push(outcome);
        } else {
            unfinished += 1;
        }
    }
    (outcomes, unfinished)
}

/// Gathers the bots' outcomes into the run's raw figures (resume
/// failures among its failures) and its resume report.
pub(crate) fn collect(
    config: &SwarmConfig,
    shared: &Shared,
    outcomes: Vec<Outcome>,
    window_s: f64,
    bot_cpu: Duration,
    storm_at_s: Option<f64>,
) -> (RunFigures, Option<ResumeReport>) {
    let mut figures = RunFigures {
        planned: config.rooms * config.players,
        joined: shared.joined.load(Ordering::Relaxed),
        verifying: shared.verifying.load(Ordering::Relaxed),
        window_s,
        bot_cpu_s: bot_cpu.as_secs_f64(),
        ..RunFigures::default()
    };
    let mut failures = Vec::new();
    let (mut well, mut ill) = (Vec::new(), Vec::new());
    for outcome in outcomes {
        if let Some(us) = outcome.connect_us {
            figures.connect_us.0.saturating_record(us.max(1));
        }
        if let Some(us) = outcome.join_us {
            figures.join_us.0.saturating_record(us.max(1));
            if outcome.redirected {
                figures.join_redirected_us.0.saturating_record(us.max(1));
            } else {
                figures.join_direct_us.0.saturating_record(us.max(1));
            }
        }
        if let Some(failure) = outcome.failure {
            failures.push(failure);
        }
        if let Some(bot) = outcome.figures {
            if outcome.behaviour.is_well_behaved() {
                well.push(bot)
            } else {
                ill.push(bot)
            }
        }
    }
    let resume = ResumeReport::merge(well.iter().chain(&ill).map(FinishedBot::resume), storm_at_s);
    let resume = (resume.tried > 0 || resume.storm.is_some()).then_some(resume);
    let overhead = Transport::of_url(&config.url).wire_overhead();
    figures.network = crate::network::groups(&mut well, window_s, overhead);
    figures.well_behaved = GroupFigures::of(&well);
    figures.misbehaving = (!ill.is_empty()).then(|| GroupFigures::of(&ill));
    figures.timeline = shared.timeline.counts();
    figures
        .failures
        .extend(resume.iter().flat_map(ResumeReport::failures));
    figures.failures.extend(failures.into_iter().take(10));
    (figures, resume)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small run's config, for tests of what reads it.
    pub(crate) fn config() -> SwarmConfig {
        SwarmConfig {
            url: "ws://127.0.0.1:1/ws".into(),
            tls: ClientTls::default(),
            rooms: 2,
            players: 3,
            duration: Duration::from_secs(1),
            ramp_up: Duration::ZERO,
            settle: Duration::ZERO,
            seed: 1,
            threads: 1,
            behaviour: BehaviourKind::Arena,
            chaos: ChaosMix::default(),
            join: JoinMode::CreateRooms,
            events_per_second: 0.0,
            quiet: true,
            tokens: None,
            storm_at: None,
            verify_every: 1,
            first_bot: 0,
            network: None,
        }
    }

    #[test]
    fn urls_get_the_ws_path() {
        assert_eq!(ws_url("ws://127.0.0.1:7000"), "ws://127.0.0.1:7000/ws");
        assert_eq!(ws_url("ws://127.0.0.1:7000/"), "ws://127.0.0.1:7000/ws");
        assert_eq!(ws_url("ws://127.0.0.1:7000/ws"), "ws://127.0.0.1:7000/ws");
        assert_eq!(ws_url("ws://h:1/custom"), "ws://h:1/custom");
        assert_eq!(ws_url("wss://h:1"), "wss://h:1/ws");
        assert_eq!(with_scheme("ws://h:1/ws", true), "wss://h:1/ws");
        assert_eq!(with_scheme("wss://h:1/ws", false), "ws://h:1/ws");
        assert_eq!(with_scheme("h:1/ws", true), "wss://h:1/ws");
        assert_eq!(transport_of("wss://h:1/ws"), "wss");
        assert_eq!(transport_of("ws://h:1/ws"), "ws");
        assert_eq!(transport_of("quic://h:1"), "quic");
        assert!(Transport::Quic.wire_overhead() < Transport::Wss.wire_overhead());
        assert_eq!(ws_url("quic://h:1/"), "quic://h:1");
        assert_eq!(with_transport("ws://h:1/ws", Transport::Quic), "quic://h:1");
        assert_eq!(with_transport("h:1", Transport::Quic), "quic://h:1");
        assert_eq!(with_transport("quic://h:1", Transport::Wss), "wss://h:1/ws");
        assert_eq!(with_transport("wss://h:1/x", Transport::Ws), "ws://h:1/x");
    }

    #[test]
    fn plans_spread_bots_over_rooms_and_ramp_up() {
        let config = SwarmConfig {
            url: "ws://x/ws".into(),
            tls: ClientTls::default(),
            rooms: 3,
            players: 4,
            duration: Duration::from_secs(1),
            ramp_up: Duration::from_secs(12),
            settle: Duration::ZERO,
            seed: 1,
            threads: 1,
            behaviour: BehaviourKind::Chaos,
            chaos: ChaosMix::default(),
            join: JoinMode::CreateRooms,
            events_per_second: 2.5,
            quiet: true,
            tokens: Some(crate::tokens::BotTokens::hs256(b"s")),
            storm_at: None,
            verify_every: 4,
            first_bot: 0,
            network: Some(crate::network::NetworkMix::parse("wifi=50,lan=50").expect("valid")),
        };
        let plans = plans(&config);
        assert!(plans.iter().all(|p| p.events_per_second == 2.5));
        // One token per bot, `sub` bot-N, signed with the run's secret.
        let auth = tickwire_server::auth::JwtAuthenticator::from_config(
            &tickwire_server::config::AuthConfig {
                enabled: true,
                secret: Some(tickwire_server::config::Secret::new("s")),
                ..Default::default()
            },
        )
        .expect("authenticator");
        for plan in &plans {
            let ticket = plan.ticket.as_deref().expect("a token");
            let identity = auth.verify(ticket).expect("it verifies");
            assert_eq!(identity.subject, format!("bot-{}", plan.index));
        }
        assert_eq!(plans.len(), 12);
        let creators = plans
            .iter()
            .filter(|p| matches!(p.target, Target::Create { .. }))
            .count();
        assert_eq!(creators, 3);
        assert!(
            plans
                .iter()
                .filter(|p| matches!(p.target, Target::Create { .. }))
                .all(|p| p.behaviour == Behaviour::Arena)
        );
        assert_eq!(plans[6].start_after, Duration::from_secs(6));
        // Half the bots on each network, each with its own conditioner
        // seed.
        let wifi = plans
            .iter()
            .filter(|p| p.network.as_ref().is_some_and(|n| n.0.name == "wifi"))
            .count();
        assert_eq!(wifi, 6);
        assert_ne!(
            plans[0].network.as_ref().map(|n| n.1),
            plans[1].network.as_ref().map(|n| n.1)
        );
        // Every fourth bot verifies.
        let verifying: Vec<u64> = plans.iter().filter(|p| p.verify).map(|p| p.index).collect();
        assert_eq!(verifying, [0, 4, 8]);
    }

    #[test]
    fn a_share_plays_its_bots_as_the_whole_run_would() {
        let whole = plans(&config());
        let share = plans(&SwarmConfig {
            rooms: 1,
            first_bot: 3,
            ..config()
        });
        assert_eq!(share.len(), 3);
        for (mine, theirs) in share.iter().zip(&whole[3..]) {
            assert_eq!(
                (mine.index, mine.behaviour),
                (theirs.index, theirs.behaviour)
            );
        }
        assert!(matches!(&share[0].target, Target::Create { name, .. } if name == "swarm-1"));
        assert_eq!(share[0].start_after, Duration::ZERO);
    }
}
