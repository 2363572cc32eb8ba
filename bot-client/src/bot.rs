//! One bot: connects, joins its room, then plays (or misbehaves) until the
//! swarm stops it, recording what it sees.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tickwire_shared::arena::{ArenaBot, BotConfig, SCHEMA};
use tickwire_shared::client::ReplicaError;
use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{Role, RoomTarget, Visibility};
use tickwire_shared::rng::SimRng;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::behaviour::{Behaviour, Misbehaviour};
use crate::client::{AckMode, Client, ClientError, ClientEvent, ClientTls};
use crate::measure::{BotRecorder, FinishedBot, Timeline, Window};

/// How often a bot pings the server to measure round trips.
const PING_EVERY: Duration = Duration::from_secs(1);

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
    /// Its figures (None when it never joined).
    pub figures: Option<FinishedBot>,
    /// Why it failed to join.
    pub failure: Option<String>,
}

fn error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Refused(m) => format!("refused:{:?}", m.code),
        ClientError::Closed { reason, .. } | ClientError::Rejected { reason, .. } => {
            format!("closed:{reason:?}")
        }
        ClientError::Lost => "connection_lost".into(),
        ClientError::Timeout => "timeout".into(),
        ClientError::WebSocket(_) => "websocket".into(),
        ClientError::Decode(_) => "undecodable_frame".into(),
        ClientError::Encode(_) => "encode".into(),
        ClientError::Unexpected(_) => "unexpected_answer".into(),
        ClientError::Tls(_) => "tls".into(),
        ClientError::Connect(_) => "connect".into(),
        ClientError::Quic(_) => "quic".into(),
    }
}

async fn connect_and_join(plan: &Plan, name: &str) -> Result<(Client, u64, u64), ClientError> {
    let t0 = Instant::now();
    let mut client = Client::connect_with(&plan.url, name, SCHEMA, &plan.tls).await?;
    let connect_us = t0.elapsed().as_micros() as u64;
    let t1 = Instant::now();
    match &plan.target {
        Target::Create {
            name,
            seats,
            publish,
        } => {
            let joined = client
                .create_room(name, Visibility::Public, *seats, GameOptions::default())
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
            client.quick_join(GameOptions::default()).await?;
        }
        Target::Room(id) => {
            client.join(RoomTarget::Id(*id), Role::Player).await?;
        }
    }
    Ok((client, connect_us, t1.elapsed().as_micros() as u64))
}

/// Runs one bot to the end of the swarm.
pub async fn run(plan: Plan, shared: Arc<Shared>) -> Outcome {
    let mut outcome = Outcome {
        behaviour: plan.behaviour,
        connect_us: None,
        join_us: None,
        figures: None,
        failure: None,
    };
    tokio::select! {
        () = shared.stop.cancelled() => return outcome,
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
    outcome.connect_us = Some(connect_us);
    outcome.join_us = Some(join_us);
    let period = client
        .room()
        .map_or(Duration::from_millis(33), |j| j.tick_rate.period());
    let recorder = BotRecorder::new(period);
    outcome.figures = Some(match plan.behaviour {
        Behaviour::Misbehave(kind) => {
            misbehave(&plan, &name, kind, client, recorder, &shared).await
        }
        behaviour => {
            play(
                &plan,
                client,
                recorder,
                behaviour == Behaviour::Arena,
                &shared,
            )
            .await
        }
    });
    outcome
}

/// The well-behaved loop: read and apply updates; an arena bot answers
/// each update with that tick's input, carrying the acknowledgement (one
/// frame a tick upstream); an idle bot only acknowledges. Pings every
/// second (an arena bot's ping rides with its next input).
async fn play(
    plan: &Plan,
    mut client: Client,
    mut recorder: BotRecorder,
    arena: bool,
    shared: &Shared,
) -> FinishedBot {
    let mut bot = ArenaBot::new(BotConfig::default(), plan.seed, plan.index);
    client.set_ack_mode(if arena {
        AckMode::WithInput
    } else {
        AckMode::Immediate
    });
    let mut pings = tokio::time::interval(PING_EVERY);
    loop {
        let step = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            message = client.recv() => match message {
                Ok(Some(message)) => match client.process(message).await {
                    Ok(event) => {
                        let updated = matches!(event, ClientEvent::Update(_));
                        note(&mut recorder, shared, event);
                        if updated && arena { client.send_input(&bot.next_input()).await } else { Ok(()) }
                    }
                    Err(e) => Err(e),
                },
                Ok(None) => Err(ClientError::Lost),
                Err(e) => Err(e),
            },
            _ = pings.tick() => if arena {
                client.ping_with_next_input();
                Ok(())
            } else {
                client.ping().await
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
    client.close().await;
    recorder.finish()
}

fn note(recorder: &mut BotRecorder, shared: &Shared, event: ClientEvent) {
    let now = Instant::now();
    match event {
        ClientEvent::Update(update) => {
            recorder.on_update(&shared.window, &shared.timeline, &update, now);
            shared.updates.fetch_add(1, Ordering::Relaxed);
            shared
                .bytes_down
                .fetch_add(update.bytes as u64, Ordering::Relaxed);
        }
        ClientEvent::UpdateFailed(ReplicaError::ChecksumMismatch { .. }) => {
            recorder.checksum_mismatches += 1;
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        // A datagram that arrived after a newer one (QUIC): dropped by the
        // replica, nothing to repair.
        ClientEvent::UpdateFailed(ReplicaError::Stale { .. }) => {
            recorder.updates_reordered += 1;
        }
        ClientEvent::UpdateFailed(_) => {
            recorder.decode_errors += 1;
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        ClientEvent::Rtt(us) => recorder.on_rtt(&shared.window, us),
        ClientEvent::Error(e) => {
            recorder.on_error(format!("error:{:?}", e.code));
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        ClientEvent::Left(left) => {
            recorder.on_error(format!("left:{:?}", left.reason));
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        ClientEvent::Closed(reason) => {
            recorder.on_error(format!("closed:{:?}", reason.map(|r| r.0)));
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        ClientEvent::Event(_) | ClientEvent::EventReply(_) | ClientEvent::Other(_) => {}
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
    shared: &Shared,
) -> FinishedBot {
    let mut rng = SimRng::new(plan.seed, 1 << 41 | plan.index);
    loop {
        let pause = Duration::from_secs_f32(rng.range_f32(0.3, 1.5));
        let stopped = tokio::select! {
            () = shared.stop.cancelled() => true,
            ended = harm(kind, &mut client, pause, &shared.stop) => {
                recorder.on_error(ended);
                false
            }
        };
        if stopped || kind == Misbehaviour::SlowReader {
            break;
        }
        // Reconnect and rejoin (the room may briefly still count the old
        // seat: retry a few times).
        let mut rejoined = None;
        for _ in 0..5 {
            if shared.stop.is_cancelled() {
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

/// One round of harm; returns how the connection ended (as an error kind).
async fn harm(
    kind: Misbehaviour,
    client: &mut Client,
    pause: Duration,
    stop: &CancellationToken,
) -> String {
    // Behave for a moment first, so the harm lands mid-game.
    let behave_until = tokio::time::Instant::now() + pause;
    if kind != Misbehaviour::SlowReader {
        while tokio::time::Instant::now() < behave_until {
            match tokio::time::timeout_at(behave_until, client.next_event()).await {
                Err(_) => break,
                Ok(Ok(ClientEvent::Closed(reason))) => {
                    return format!("closed:{:?}", reason.map(|r| r.0));
                }
                Ok(Err(e)) => return error_kind(&e),
                Ok(Ok(_)) => {}
            }
        }
    }
    match kind {
        Misbehaviour::Malformed | Misbehaviour::Oversize => {
            let frame = kind.offending_frame().expect("these kinds send a frame");
            if let Err(e) = client.send_frame(frame).await {
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
        Misbehaviour::Disconnect => return "disconnected".into(),
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
            Ok(Ok(ClientEvent::Closed(reason))) => {
                return format!("closed:{:?}", reason.map(|r| r.0));
            }
            Ok(Err(e)) => return error_kind(&e),
            Ok(Ok(_)) => {}
        }
    }
}
