//! One bot: connects, joins its room, then plays (or misbehaves) until the
//! swarm stops it, recording what it sees.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tickwire_client::{
    AckMode, Client, ClientError, ClientTls, Event, QuickJoinSpec, Role, RoomSpec, RoomTarget,
};
use tickwire_shared::arena::{ArenaBot, BotConfig, ECHO_EVENT};
use tickwire_shared::client::ReplicaError;
use tickwire_shared::ids::RoomId;
use tickwire_shared::rng::SimRng;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::behaviour::{Behaviour, Misbehaviour};
use crate::measure::resume::ResumeRecorder;
use crate::measure::{BotRecorder, FinishedBot, Timeline, Window};

/// How often a bot pings the server to measure round trips.
const PING_EVERY: Duration = Duration::from_secs(1);

/// A resuming chaos bot cuts its connection after playing this long (drawn
/// uniformly per drop, from the run's seed).
const PLAY_BETWEEN_DROPS_S: (f32, f32) = (2.0, 6.0);

/// How long a bot's `echo` event waits for its answer.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most `echo` events a bot keeps waiting for an answer; at the
/// server's default rate limit (20 a second) an answer comes well within
/// this, and a bot whose answers stall skips emits instead of piling up.
pub const MAX_EVENTS_IN_FLIGHT: usize = 64;

/// The highest event rate a bot may be asked for, per second: the bot's
/// timer cannot go much faster than the tick and the point of the load is
/// the server's answer path, not the bot's timer.
pub const MAX_EVENTS_PER_SECOND: f64 = 1_000.0;

/// A swarm room as its followers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomSlot {
    /// Not created yet.
    Pending,
    /// Created, with this id.
    Ready(RoomId),
    /// Its creator failed.
    Failed,
}

/// Where a bot goes.
#[derive(Clone, Debug)]
pub enum Target {
    /// Create the room (the first bot of each room) and publish its id.
    Create {
        /// Room name.
        name: String,
        /// Seats.
        seats: u16,
        /// Where to publish the id.
        publish: Arc<watch::Sender<RoomSlot>>,
    },
    /// Join the room its creator publishes.
    Follow(watch::Receiver<RoomSlot>),
    /// Quick-join.
    QuickJoin,
    /// A given room.
    Room(RoomId),
}

/// State every bot of a run shares.
#[derive(Debug, Default)]
pub struct Shared {
    /// The measurement window.
    pub window: Window,
    /// Per-second series.
    pub timeline: Timeline,
    /// Stops every bot.
    pub stop: CancellationToken,
    /// Bots that joined their room.
    pub joined: AtomicUsize,
    /// Bots that failed to connect or join.
    pub failed: AtomicUsize,
    /// Updates applied so far (for progress).
    pub updates: AtomicU64,
    /// Payload bytes received so far (for progress).
    pub bytes_down: AtomicU64,
    /// Errors among well-behaved bots so far (for progress).
    pub errors: AtomicU64,
    /// Cancelled when the storm strikes: every playing bot cuts its
    /// connection at once and resumes.
    pub storm: CancellationToken,
    /// Bots reconnecting right now (for progress).
    pub reconnecting: AtomicUsize,
    /// Well-behaved bots that joined and decode and verify every update
    /// (the rest, in a light run, only acknowledge them).
    pub verifying: AtomicUsize,
    /// Ticks skipped between consecutive updates so far, well-behaved and
    /// resuming bots, in the window (per-phase figures of scenarios).
    pub missed: AtomicU64,
    /// Checksum mismatches so far (per-phase figures of scenarios).
    pub checksum_mismatches: AtomicU64,
}

/// One bot's plan.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Index in the swarm.
    pub index: u64,
    /// Server URL.
    pub url: String,
    /// How a `wss://` server's certificate is accepted.
    pub tls: ClientTls,
    /// Where to go.
    pub target: Target,
    /// What to do there.
    pub behaviour: Behaviour,
    /// Workload seed.
    pub seed: u64,
    /// Wait before connecting (ramp-up).
    pub start_after: Duration,
    /// `echo` events emitted with an ack per second, while playing (0:
    /// none; at most [`MAX_EVENTS_PER_SECOND`]).
    pub events_per_second: f64,
    /// The `Hello`'s auth ticket (the bot's token), if the server wants
    /// one.
    pub ticket: Option<String>,
    /// Whether the bot decodes every update and checks its checksum; a
    /// light bot only acknowledges each update's tick and counts its bytes
    /// (`SwarmConfig::verify_every`).
    pub verify: bool,
    /// The network the bot sits behind and its conditioner's seed (None:
    /// the bare network).
    pub network: Option<(tickwire_client::NetworkProfile, u64)>,
}

/// What a bot reports when it stops.
#[derive(Debug)]
pub struct Outcome {
    /// Its behaviour.
    pub behaviour: Behaviour,
    /// Connect and handshake time, microseconds.
    pub connect_us: Option<u64>,
    /// Join time, microseconds.
    pub join_us: Option<u64>,
    /// Whether joining followed a redirect to another node of a cluster.
    pub redirected: bool,
    /// Its figures (None when it never joined).
    pub figures: Option<FinishedBot>,
    /// Why it failed to join.
    pub failure: Option<String>,
}

fn error_kind(e: &ClientError) -> String {
    e.kind()
}

async fn connect_and_join(plan: &Plan, name: &str) -> Result<(Client, u64, u64), ClientError> {
    let t0 = Instant::now();
    let mut builder = Client::builder(plan.url.as_str())
        .name(name)
        .tls(plan.tls.clone())
        .apply_updates(plan.verify);
    if let Some(ticket) = &plan.ticket {
        builder = builder.auth_ticket(ticket.as_str());
    }
    if let Some((profile, seed)) = &plan.network {
        builder = builder.network(profile.clone(), *seed);
    }
    let mut client = builder.connect().await?;
    let connect_us = t0.elapsed().as_micros() as u64;
    let t1 = Instant::now();
    match &plan.target {
        Target::Create {
            name,
            seats,
            publish,
        } => {
            let joined = client
                .create_room(RoomSpec::new(name.as_str()).max_players(*seats))
                .await?;
            publish.send_replace(RoomSlot::Ready(joined.room.id));
        }
        Target::Follow(room) => {
            let mut room = room.clone();
            let slot = tokio::time::timeout(
                Duration::from_secs(30),
                room.wait_for(|s| *s != RoomSlot::Pending),
            )
            .await
            .map_err(|_| ClientError::Timeout)?
            .map(|slot| *slot)
            .map_err(|_| ClientError::Unexpected("room creator gave up"))?;
            let RoomSlot::Ready(id) = slot else {
                return Err(ClientError::Unexpected("room creator failed"));
            };
            client.join(RoomTarget::Id(id), Role::Player).await?;
        }
        Target::QuickJoin => {
            client.quick_join(QuickJoinSpec::default()).await?;
        }
        Target::Room(id) => {
            client.join(RoomTarget::Id(*id), Role::Player).await?;
        }
    }
    Ok((client, connect_us, t1.elapsed().as_micros() as u64))
}

/// Runs one bot to the end of the swarm.
pub async fn run(plan: Plan, shared: Arc<Shared>) -> Outcome {
    let stop = shared.stop.clone();
    run_until(plan, shared, stop).await
}

/// Runs one bot until `stop` is cancelled (a scenario stops bots one by
/// one; give it a child of `shared.stop` so that the run's end stops it
/// too).
pub async fn run_until(plan: Plan, shared: Arc<Shared>, stop: CancellationToken) -> Outcome {
    let mut outcome = Outcome {
        behaviour: plan.behaviour,
        connect_us: None,
        join_us: None,
        redirected: false,
        figures: None,
        failure: None,
    };
    tokio::select! {
        () = stop.cancelled() => return outcome,
        () = tokio::time::sleep(plan.start_after) => {}
    }
    let name = format!("bot-{}", plan.index);
    let (client, connect_us, join_us) = match connect_and_join(&plan, &name).await {
        Ok(joined) => joined,
        Err(e) => {
            if let Target::Create { publish, .. } = &plan.target {
                // Followers stop waiting for a room that will not come.
                publish.send_replace(RoomSlot::Failed);
            }
            shared.failed.fetch_add(1, Ordering::Relaxed);
            outcome.failure = Some(format!("{name}: {e}"));
            return outcome;
        }
    };
    shared.joined.fetch_add(1, Ordering::Relaxed);
    if plan.verify && plan.behaviour.is_well_behaved() {
        shared.verifying.fetch_add(1, Ordering::Relaxed);
    }
    outcome.connect_us = Some(connect_us);
    outcome.join_us = Some(join_us);
    outcome.redirected = client.redirects() > 0;
    let period = client
        .room()
        .map_or(Duration::from_millis(33), |j| j.tick_rate.period());
    let recorder = BotRecorder::new(period);
    outcome.figures = Some(match plan.behaviour {
        Behaviour::Misbehave(kind) => misbehave(&plan, &name, kind, client, recorder, &stop).await,
        behaviour => play(&plan, client, recorder, behaviour, &shared, &stop).await,
    });
    outcome
}

/// The playing loop: read and apply updates; an arena bot answers each
/// update with that tick's input, carrying the acknowledgement (one frame
/// a tick upstream); an idle bot only acknowledges. Pings every second (an
/// arena bot's ping rides with its next input). A resuming bot cuts its
/// connection every few seconds, and every bot cuts it when the storm
/// strikes; the client library reconnects and resumes the seat.
async fn play(
    plan: &Plan,
    mut client: Client,
    mut recorder: BotRecorder,
    behaviour: Behaviour,
    shared: &Shared,
    stop: &CancellationToken,
) -> FinishedBot {
    let arena = behaviour.plays_arena();
    let mut bot = ArenaBot::new(BotConfig::default(), plan.seed, plan.index);
    let mut drops = SimRng::new(plan.seed, 1 << 42 | plan.index);
    let next_drop = |rng: &mut SimRng| {
        let (low, high) = PLAY_BETWEEN_DROPS_S;
        tokio::time::Instant::now() + Duration::from_secs_f32(rng.range_f32(low, high))
    };
    let mut drop_at = (behaviour == Behaviour::Resume).then(|| next_drop(&mut drops));
    let mut stormed = false;
    client.set_ack_mode(if arena {
        AckMode::WithInput
    } else {
        AckMode::Immediate
    });
    let mut pings = tokio::time::interval(PING_EVERY);
    let events_per_second = plan.events_per_second.clamp(0.0, MAX_EVENTS_PER_SECOND);
    let mut emits = (events_per_second > 0.0).then(|| {
        let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / events_per_second));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every
    });
    let mut echo_seq = 0u64;
    loop {
        let step = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = shared.storm.cancelled(), if !stormed => {
                stormed = true;
                cut(&mut client, &mut recorder, true);
                Ok(())
            },
            () = async { tokio::time::sleep_until(drop_at.expect("guarded")).await }, if drop_at.is_some() => {
                cut(&mut client, &mut recorder, false);
                drop_at = Some(next_drop(&mut drops));
                Ok(())
            },
            event = client.next_event() => match event {
                Ok(event) => {
                    let updated = matches!(event, Event::Update(_));
                    let lost = matches!(&event, Event::Lost(_));
                    note(&mut recorder, shared, event);
                    if lost {
                        // The seat is gone (or the client closed): this
                        // bot's run is over, and the report says why.
                        break;
                    }
                    if updated && arena { client.send_input(&bot.next_input()).await } else { Ok(()) }
                }
                Err(e) => Err(e),
            },
            _ = pings.tick() => if arena {
                client.ping_with_next_input();
                Ok(())
            } else {
                client.ping().await
            },
            _ = async { emits.as_mut().expect("guarded").tick().await }, if emits.is_some() => {
                if client.is_reconnecting() || client.session().pending_emits() >= MAX_EVENTS_IN_FLIGHT {
                    recorder.on_emit_skipped(&shared.window);
                    Ok(())
                } else {
                    echo_seq += 1;
                    recorder.on_emit(&shared.window);
                    client
                        .emit_with_ack_id(ECHO_EVENT, &echo_seq, EVENT_TIMEOUT)
                        .await
                        .map(|_| ())
                }
            },
        };
        recorder.track(
            &shared.window,
            &shared.timeline,
            client.traffic(),
            Instant::now(),
        );
        if let Err(e) = step {
            recorder.on_error(error_kind(&e));
            shared.errors.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    recorder.track(
        &shared.window,
        &shared.timeline,
        client.traffic(),
        Instant::now(),
    );
    recorder.network = client
        .network_stats()
        .zip(client.network_profile())
        .map(|(stats, name)| (name.to_owned(), stats));
    client.close().await;
    recorder.finish()
}

/// Cuts the bot's connection without a goodbye (a chaos drop, or the
/// storm); the client reconnects and resumes by itself.
fn cut(client: &mut Client, recorder: &mut BotRecorder, storm: bool) {
    if client.is_reconnecting() || client.room().is_none() {
        return;
    }
    recorder.resume.on_drop(storm);
    client.drop_connection();
}

fn note(recorder: &mut BotRecorder, shared: &Shared, event: Event) {
    let now = Instant::now();
    match event {
        Event::Update(update) => {
            recorder.resume.on_update(true);
            let missed = recorder.missed;
            recorder.on_update(&shared.window, &shared.timeline, &update, now);
            shared
                .missed
                .fetch_add(recorder.missed - missed, Ordering::Relaxed);
            shared.updates.fetch_add(1, Ordering::Relaxed);
            shared
                .bytes_down
                .fetch_add(update.bytes as u64, Ordering::Relaxed);
        }
        Event::UpdateFailed(ReplicaError::ChecksumMismatch { .. }) => {
            recorder.resume.on_update(false);
            recorder.checksum_mismatches += 1;
            shared.checksum_mismatches.fetch_add(1, Ordering::Relaxed);
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        // A datagram that arrived after a newer one (QUIC): dropped by the
        // replica, nothing to repair.
        Event::UpdateFailed(ReplicaError::Stale { .. }) => {
            recorder.updates_reordered += 1;
        }
        Event::UpdateFailed(_) => {
            recorder.resume.on_update(false);
            recorder.decode_errors += 1;
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        Event::Rtt(rtt) => recorder.on_rtt(
            &shared.window,
            u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX),
        ),
        Event::Answer {
            outcome, elapsed, ..
        } => recorder.on_answer(&shared.window, &outcome, elapsed),
        Event::Error(e) => {
            recorder.on_error(format!("error:{:?}", e.code));
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        Event::Left(left) => {
            recorder.on_error(format!("left:{:?}", left.reason));
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        Event::Closed(closed) => {
            recorder.on_error(format!("closed:{:?}", closed.reason));
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        // Joining through another node of a cluster (counted when the
        // join returns: `Client::redirects`).
        Event::Redirected { .. } | Event::Moved { .. } => {}
        Event::Resumed { room, after, .. } => {
            shared.reconnecting.fetch_sub(1, Ordering::Relaxed);
            recorder.resume.on_resumed(after, room.is_some());
        }
        Event::Lost(reason) => {
            shared.reconnecting.fetch_sub(1, Ordering::Relaxed);
            recorder.resume.on_lost_reason(&reason);
            recorder.on_error(format!("lost:{reason:?}"));
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        Event::Reconnecting { attempt, .. } => {
            if attempt == 1 {
                shared.reconnecting.fetch_add(1, Ordering::Relaxed);
            }
            recorder.resume.on_reconnecting(attempt);
        }
        // The arena sends no events of its own; the bots answer nothing.
        Event::Event(_) | Event::Joined(_) => {}
    }
}

/// A misbehaving bot: does its kind of harm over and over until stopped,
/// reconnecting after each close. What the server answered is recorded as
/// the bot's "errors" (expected ones, reported in the misbehaving group);
/// its traffic is not measured.
async fn misbehave(
    plan: &Plan,
    name: &str,
    kind: Misbehaviour,
    mut client: Client,
    mut recorder: BotRecorder,
    stop: &CancellationToken,
) -> FinishedBot {
    let mut rng = SimRng::new(plan.seed, 1 << 41 | plan.index);
    loop {
        let pause = Duration::from_secs_f32(rng.range_f32(0.3, 1.5));
        let ended = tokio::select! {
            () = stop.cancelled() => None,
            ended = harm(kind, &mut client, pause, stop, &mut recorder.resume) => Some(ended),
        };
        let (stopped, resumed) = match ended {
            None => (true, false),
            Some(ended) => {
                let resumed = ended == RESUMED;
                recorder.on_error(ended);
                (false, resumed)
            }
        };
        if stopped || kind == Misbehaviour::SlowReader {
            break;
        }
        if resumed {
            // The client library took its seat back: harm again.
            continue;
        }
        // Reconnect and rejoin (the room may briefly still count the old
        // seat: retry a few times).
        let mut rejoined = None;
        for _ in 0..5 {
            if stop.is_cancelled() {
                break;
            }
            match connect_and_join(plan, name).await {
                Ok((c, _, _)) => {
                    rejoined = Some(c);
                    break;
                }
                Err(e) => {
                    recorder.on_error(format!("rejoin:{}", error_kind(&e)));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        let Some(c) = rejoined else { break };
        client = c;
        recorder.on_error("reconnected");
    }
    drop(client);
    recorder.finish()
}

/// How [`harm`] reports a dropped connection the client library resumed.
const RESUMED: &str = "resumed";

/// One round of harm; returns how the connection ended (as an error kind).
async fn harm(
    kind: Misbehaviour,
    client: &mut Client,
    pause: Duration,
    stop: &CancellationToken,
    resumes: &mut ResumeRecorder,
) -> String {
    // Behave for a moment first, so the harm lands mid-game.
    let behave_until = tokio::time::Instant::now() + pause;
    if kind != Misbehaviour::SlowReader {
        while tokio::time::Instant::now() < behave_until {
            match tokio::time::timeout_at(behave_until, client.next_event()).await {
                Err(_) => break,
                Ok(Ok(Event::Closed(closed))) => {
                    return format!("closed:{:?}", closed.reason);
                }
                Ok(Err(e)) => return error_kind(&e),
                Ok(Ok(_)) => {}
            }
        }
    }
    match kind {
        Misbehaviour::Malformed | Misbehaviour::Oversize => {
            let frame = kind.offending_frame().expect("these kinds send a frame");
            if let Err(e) = client.send_raw(frame).await {
                return error_kind(&e);
            }
        }
        Misbehaviour::Flood => {
            let input = tickwire_shared::arena::ArenaInput::default();
            // Ten times the tick rate, until the server closes us.
            for _ in 0..3_000 {
                if client.send_input(&input).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
        Misbehaviour::Disconnect => {
            // Cut without a goodbye: the server parks the seat, and the
            // client library comes back to it with its resume token.
            resumes.on_drop(false);
            client.drop_connection();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                match tokio::time::timeout_at(deadline, client.next_event()).await {
                    Err(_) => return "not_resumed".into(),
                    Ok(Ok(Event::Reconnecting { attempt, .. })) => resumes.on_reconnecting(attempt),
                    Ok(Ok(Event::Resumed { room, after, .. })) => {
                        resumes.on_resumed(after, room.is_some());
                        return if room.is_some() {
                            RESUMED.into()
                        } else {
                            "resumed_without_seat".into()
                        };
                    }
                    Ok(Ok(Event::Lost(reason))) => {
                        resumes.on_lost_reason(&reason);
                        return format!("lost:{reason:?}");
                    }
                    Ok(Err(e)) => return error_kind(&e),
                    Ok(Ok(_)) => {}
                }
            }
        }
        Misbehaviour::SlowReader => {
            // Never read again; hold the connection until the run ends.
            stop.cancelled().await;
            return "stopped_reading".into();
        }
    }
    // Read until the server closes us.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, client.next_event()).await {
            Err(_) => return "not_closed".into(),
            Ok(Ok(Event::Closed(closed))) => {
                return format!("closed:{:?}", closed.reason);
            }
            Ok(Err(e)) => return error_kind(&e),
            Ok(Ok(_)) => {}
        }
    }
}
