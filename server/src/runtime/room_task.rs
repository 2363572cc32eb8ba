//! One room's task (shell): the drift-free tick loop around a pure
//! [`Room`]. Between ticks it applies the commands sessions queued; after
//! each tick it hands every client its update: written straight to the
//! client's socket where the connection allows it (see
//! [`DirectWrite`]), otherwise left in the client's latest-wins slot for
//! its session to send, so a slow client never holds back the room and
//! never has more than one update waiting. The room also pings its members
//! (every heartbeat, rounded to whole ticks) and carries its sessions'
//! answers to their clients' pings, both in the same write as an update.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tickwire_shared::codec;
use tickwire_shared::game::Game;
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{
    ErrorCode, ErrorMessage, EventReply, Inputs, Ping, Pong, Role, RoomEvent, ServerMessage,
};
use tickwire_shared::tick::{Tick, TickRate};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, info, warn};

use super::{Refusal, Shared, unix_us};
use crate::room::{Room, RoomError};
use crate::transport::{DirectOutcome, DirectWrite, MAX_DIRECT_MESSAGES};

/// What passes between a room and one member's session, outside the
/// room's command queue. The room leaves there what it could not write
/// itself (the newest update, replacing an unsent one; a ping; a pong) and
/// its request to finish a direct write the socket took only part of; the
/// session leaves its answer to the client's latest ping for the room to
/// carry with the next update.
#[derive(Debug, Default)]
pub(crate) struct UpdateSlot {
    pending: Mutex<Pending>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    update: Option<Bytes>,
    ping: Option<Bytes>,
    pong: Option<Bytes>,
    flush: bool,
    held_pong: Option<HeldPong>,
}

/// A client's ping, waiting to be answered with the next update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeldPong {
    ping: Ping,
    received: Instant,
}

impl HeldPong {
    /// A ping that arrived just now.
    pub(crate) fn new(ping: Ping) -> Self {
        Self {
            ping,
            received: Instant::now(),
        }
    }

    /// The answer, if it leaves now.
    pub(crate) fn answer(&self) -> Pong {
        Pong::answering(self.ping, unix_us(), self.received.elapsed())
    }
}

/// What a session takes from its slot: frames to send, in this order, and
/// whether to finish a direct write (implied by sending any frame).
#[derive(Debug, Default)]
pub(crate) struct SlotBatch {
    /// The newest update.
    pub(crate) update: Option<Bytes>,
    /// A ping and an answer to the client's ping, already encoded.
    pub(crate) control: [Option<Bytes>; 2],
    /// Send what a direct write left over.
    pub(crate) flush: bool,
}

impl UpdateSlot {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leaves the answer to a client's ping for the room to carry with the
    /// next update. Returns the answer this one supersedes, which the
    /// session sends at once.
    pub(crate) fn hold_pong(&self, pong: HeldPong) -> Option<HeldPong> {
        self.pending().held_pong.replace(pong)
    }

    /// Takes back an answer the room has not carried yet.
    pub(crate) fn take_held_pong(&self) -> Option<HeldPong> {
        self.pending().held_pong.take()
    }

    /// Waits until there is something for the session and takes it.
    pub(crate) async fn next(&self) -> SlotBatch {
        loop {
            {
                let mut pending = self.pending();
                let batch = SlotBatch {
                    update: pending.update.take(),
                    control: [pending.ping.take(), pending.pong.take()],
                    flush: std::mem::take(&mut pending.flush),
                };
                if batch.flush
                    || batch.update.is_some()
                    || batch.control.iter().any(Option::is_some)
                {
                    return batch;
                }
            }
            self.ready.notified().await;
        }
    }
}

/// A room's tick schedule on the monotonic clock: tick `n` is due at
/// `start + period * n`. Members are pinged on it, and their sessions'
/// heartbeats (idle checks) beat on its instants, so neither wakes the
/// shard between ticks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TickClock {
    start: tokio::time::Instant,
    period: Duration,
}

impl TickClock {
    /// When tick `n` is due.
    pub(crate) fn due(&self, n: u32) -> tokio::time::Instant {
        self.start + self.period * n
    }

    /// The first tick instant strictly after `at`.
    pub(crate) fn next_after(&self, at: tokio::time::Instant) -> tokio::time::Instant {
        let elapsed = at.saturating_duration_since(self.start).as_nanos();
        let n = elapsed / self.period.as_nanos().max(1) + 1;
        u32::try_from(n).map_or(at, |n| self.due(n))
    }

    /// How many ticks `every` is, rounded (at least one).
    pub(crate) fn ticks_in(&self, every: Duration) -> u32 {
        let ticks = (every.as_secs_f64() / self.period.as_secs_f64()).round();
        ticks.clamp(1.0, f64::from(u32::MAX)) as u32
    }

    /// `every` rounded to a whole number of ticks (at least one).
    pub(crate) fn whole_ticks(&self, every: Duration) -> Duration {
        self.period * self.ticks_in(every)
    }
}

/// The room's schedule, for a client's `Joined` and its session's
/// heartbeat.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RoomTiming {
    pub(crate) tick_rate: TickRate,
    pub(crate) tick_zero_unix_us: u64,
    pub(crate) tick: Tick,
    pub(crate) clock: TickClock,
}

/// What sessions ask of a room.
#[derive(Debug)]
pub(crate) enum RoomCommand {
    /// Take a client (its seat is already reserved in the lobby).
    Join {
        player: PlayerId,
        role: Role,
        slot: Arc<UpdateSlot>,
        /// The client's connection, where the room may write updates
        /// itself.
        direct: Option<Arc<dyn DirectWrite>>,
        control: mpsc::Sender<ServerMessage>,
        reply: oneshot::Sender<Result<RoomTiming, Refusal>>,
    },
    /// The client left (or its session ended); `done` is told once its
    /// seat is free.
    Leave {
        player: PlayerId,
        done: Option<oneshot::Sender<()>>,
    },
    /// Inputs from a player.
    Inputs { player: PlayerId, inputs: Inputs },
    /// A client's acknowledgement.
    Ack { player: PlayerId, tick: Tick },
    /// A custom event from a client, relayed to the other members.
    Event { player: PlayerId, event: RoomEvent },
}

#[derive(Debug)]
struct ClientIo {
    role: Role,
    slot: Arc<UpdateSlot>,
    direct: Option<Arc<dyn DirectWrite>>,
    control: mpsc::Sender<ServerMessage>,
    /// The tick with whose update the client is pinged next.
    next_ping: u32,
}

/// What became of one member's update (and the ping and pong that went
/// along).
#[derive(Debug, Default)]
struct Delivered {
    /// Messages the room wrote itself, and their bytes.
    direct_messages: u64,
    direct_bytes: u64,
    /// Whether the update went to the socket here.
    update_direct: bool,
    /// Whether an update the session had not sent yet was replaced.
    replaced: bool,
}

impl ClientIo {
    /// Hands the client its update, with `ping` if one is due and the
    /// answer to its latest ping if its session left one: all written to
    /// its socket here, in one write, when the connection takes them now
    /// and nothing older is waiting in the slot; else left in the slot for
    /// the session.
    fn deliver(&self, frame: &Bytes, ping: Option<&Bytes>) -> Delivered {
        let mut delivered = Delivered::default();
        let mut queued = false;
        let (held, slot_empty) = {
            let mut pending = self.slot.pending();
            (pending.held_pong.take(), pending.update.is_none())
        };
        let pong = held.and_then(|held| encode(&ServerMessage::Pong(held.answer())));
        let mut rest = [ping, pong.as_ref()];
        if let (Some(direct), true) = (&self.direct, slot_empty) {
            let mut frames: [&Bytes; MAX_DIRECT_MESSAGES] = [frame; MAX_DIRECT_MESSAGES];
            let mut count = 1;
            if direct.carries_control() {
                for extra in rest.iter_mut().filter_map(Option::take) {
                    frames[count] = extra;
                    count += 1;
                }
            }
            let frames = &frames[..count];
            let outcome = direct.try_send(frames);
            queued = outcome == DirectOutcome::Queued;
            if outcome == DirectOutcome::Declined {
                // Nothing went: all of it is the session's.
                rest = [ping, pong.as_ref()];
            } else {
                delivered.update_direct = true;
                delivered.direct_messages = count as u64;
                delivered.direct_bytes = frames.iter().map(|f| f.len() as u64).sum();
            }
            if outcome == DirectOutcome::Written && rest.iter().all(Option::is_none) {
                return delivered;
            }
        }
        let mut pending = self.slot.pending();
        if delivered.update_direct {
            // The socket took the update: the session finishes the write
            // if the socket took only part, and sends what could not go
            // along.
            pending.flush |= queued;
        } else {
            delivered.replaced = pending.update.replace(frame.clone()).is_some();
        }
        let [ping, pong] = rest;
        if let Some(ping) = ping {
            pending.ping = Some(ping.clone());
        }
        if let Some(pong) = pong {
            pending.pong = Some(pong.clone());
        }
        drop(pending);
        self.slot.ready.notify_one();
        delivered
    }
}

/// One message, encoded as a frame; `None` (logged) if it cannot be.
fn encode(message: &ServerMessage) -> Option<Bytes> {
    let mut buf = Vec::with_capacity(32);
    match codec::encode_server(message, &mut buf) {
        Ok(()) => Some(Bytes::from(buf)),
        Err(e) => {
            warn!(error = %e, "unencodable message dropped");
            None
        }
    }
}

/// Runs the room until it is disposed (empty for the grace period) or the
/// server shuts down; every tick that started was finished.
pub(crate) async fn run<G: Game>(
    shared: Arc<Shared<G>>,
    id: RoomId,
    mut room: Room<G>,
    mut commands: mpsc::Receiver<RoomCommand>,
) {
    let period = room.game().tick_rate().period();
    let mut clock = TickClock {
        start: tokio::time::Instant::now(),
        period,
    };
    let mut zero_unix_us = unix_us();
    let mut clients: BTreeMap<PlayerId, ClientIo> = BTreeMap::new();
    let mut empty_since = Some(Instant::now());
    let metrics = Arc::clone(&shared.metrics);
    let empty_grace = shared.config.timeouts.empty_room();
    // Members are pinged on ticks, every heartbeat rounded to whole ticks.
    let ping_every = clock.ticks_in(shared.config.timeouts.heartbeat());

    loop {
        let due = clock.due(room.tick().0 + 1);
        tokio::select! {
            biased;
            () = shared.cancel.cancelled() => break,
            () = tokio::time::sleep_until(due) => {}
        }
        let began = tokio::time::Instant::now();
        let lateness = began.saturating_duration_since(due);
        if lateness > period {
            metrics.late_ticks.inc();
            debug!(room = %id, tick = room.tick().0 + 1, late_ms = lateness.as_secs_f64() * 1e3, "late tick");
        }
        if lateness > Duration::from_secs(1) {
            // Far behind (the machine stalled): start a new schedule from
            // here rather than running a second of ticks back to back.
            warn!(room = %id, behind_ms = lateness.as_millis() as u64, "room fell behind; rescheduling");
            clock.start = began - period * (room.tick().0 + 1);
            zero_unix_us =
                unix_us().saturating_sub(u64::from(room.tick().0 + 1) * period.as_micros() as u64);
        }

        let timing = RoomTiming {
            tick_rate: room.game().tick_rate(),
            tick_zero_unix_us: zero_unix_us,
            tick: room.tick(),
            clock,
        };
        while let Ok(command) = commands.try_recv() {
            handle(
                &shared,
                id,
                &mut room,
                &mut clients,
                command,
                timing,
                ping_every,
            );
        }
        // Sessions that ended without saying so (their slot is only ours).
        let gone: Vec<PlayerId> = clients
            .iter()
            .filter(|(_, io)| Arc::strong_count(&io.slot) == 1)
            .map(|(&p, _)| p)
            .collect();
        for player in gone {
            remove(&shared, id, &mut room, &mut clients, player);
        }

        room.step();
        let tick = room.tick().0;
        let lateness_us = u32::try_from(lateness.as_micros()).unwrap_or(u32::MAX);
        let (mut updates_direct, mut messages_direct, mut bytes_direct) = (0, 0, 0);
        // One ping frame a tick, for every member due (stamped once).
        let mut ping: Option<Option<Bytes>> = None;
        room.updates(lateness_us, |player, delivery| {
            let Some(io) = clients.get_mut(&player) else {
                return;
            };
            let due = tick >= io.next_ping;
            if due {
                io.next_ping = tick.saturating_add(ping_every);
            }
            let ping = due
                .then(|| {
                    ping.get_or_insert_with(|| {
                        encode(&ServerMessage::Ping(Ping {
                            sent_at_us: unix_us(),
                        }))
                    })
                    .as_ref()
                })
                .flatten();
            let delivered = io.deliver(&delivery.frame, ping);
            updates_direct += u64::from(delivered.update_direct);
            messages_direct += delivered.direct_messages;
            bytes_direct += delivered.direct_bytes;
            if delivered.replaced {
                metrics.updates_superseded.inc();
            }
            if delivery.full {
                metrics.full_snapshots.inc();
            }
        });
        // Counted once a tick: these counters are shared by every shard.
        if messages_direct > 0 {
            metrics.updates_direct.inc_by(updates_direct);
            metrics.updates_sent.inc_by(updates_direct);
            metrics.messages_out.inc_by(messages_direct);
            metrics.bytes_out.inc_by(bytes_direct);
        }
        metrics.ticks.inc();
        metrics.observe_tick(began.elapsed());

        if clients.is_empty() {
            let since = *empty_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= empty_grace && shared.lobby().remove_if_empty(id) {
                info!(room = %id, "room disposed after being empty");
                metrics.rooms_disposed.inc();
                metrics.rooms.dec();
                return;
            }
        } else {
            empty_since = None;
        }
    }

    // Shutdown: members get told by their sessions; free the seats here.
    for (player, io) in std::mem::take(&mut clients) {
        room.leave(player);
        count_member(&shared, io.role, -1);
    }
    shared.lobby().remove(id);
    metrics.rooms.dec();
    info!(room = %id, ticks = room.tick().0, "room stopped");
}

fn count_member<G: Game>(shared: &Shared<G>, role: Role, delta: i64) {
    let gauge = match role {
        Role::Player => &shared.metrics.players,
        Role::Spectator => &shared.metrics.spectators,
    };
    gauge.inc_by(delta);
}

fn remove<G: Game>(
    shared: &Shared<G>,
    id: RoomId,
    room: &mut Room<G>,
    clients: &mut BTreeMap<PlayerId, ClientIo>,
    player: PlayerId,
) {
    if let (Some(role), Some(_)) = (room.leave(player), clients.remove(&player)) {
        shared.lobby().release(id, role);
        count_member(shared, role, -1);
        info!(room = %id, %player, ?role, "left room");
    }
}

fn best_effort(shared: &Shared<impl Game>, io: &ClientIo, message: ServerMessage) {
    if io.control.try_send(message).is_err() {
        shared.metrics.error("control_queue_full");
    }
}

fn handle<G: Game>(
    shared: &Shared<G>,
    id: RoomId,
    room: &mut Room<G>,
    clients: &mut BTreeMap<PlayerId, ClientIo>,
    command: RoomCommand,
    timing: RoomTiming,
    ping_every: u32,
) {
    match command {
        RoomCommand::Join {
            player,
            role,
            slot,
            direct,
            control,
            reply,
        } => match room.join(player, role) {
            Ok(()) => {
                if reply.send(Ok(timing)).is_err() {
                    // The session gave up waiting: undo.
                    room.leave(player);
                    shared.lobby().release(id, role);
                    return;
                }
                clients.insert(
                    player,
                    ClientIo {
                        role,
                        slot,
                        direct,
                        control,
                        next_ping: timing.tick.0.saturating_add(ping_every),
                    },
                );
                count_member(shared, role, 1);
                info!(room = %id, %player, ?role, "joined room");
            }
            Err(e) => {
                shared.lobby().release(id, role);
                let refusal = match e {
                    RoomError::Game(g) => Refusal::from(g),
                    other => Refusal::new(
                        ErrorCode::InvalidRequest,
                        "already_member",
                        other.to_string(),
                    ),
                };
                info!(room = %id, %player, reason = %refusal.message, "join refused");
                let _ = reply.send(Err(refusal));
            }
        },
        RoomCommand::Leave { player, done } => {
            remove(shared, id, room, clients, player);
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
        RoomCommand::Inputs { player, inputs } => {
            let Some(io) = clients.get(&player) else {
                return;
            };
            // A piggybacked acknowledgement counts whatever becomes of the
            // inputs.
            if let Some(tick) = inputs.ack {
                room.receive_ack(player, tick);
            }
            match room.receive_inputs(player, &inputs) {
                Ok(report) => {
                    let reason = if report.stale {
                        "stale"
                    } else if report.undecodable {
                        "undecodable"
                    } else if report.invalid {
                        "invalid"
                    } else {
                        return;
                    };
                    shared.metrics.input_dropped(reason);
                    debug!(room = %id, %player, reason, "input dropped");
                    if reason != "stale" {
                        let message = format!("input {} rejected: {reason}", inputs.newest_seq);
                        best_effort(
                            shared,
                            io,
                            ServerMessage::Error(ErrorMessage {
                                request_id: None,
                                code: ErrorCode::InvalidInput,
                                message,
                            }),
                        );
                    }
                }
                Err(RoomError::NotAPlayer) => {
                    shared.metrics.input_dropped("not_a_player");
                    let message = "spectators send no inputs".to_owned();
                    best_effort(
                        shared,
                        io,
                        ServerMessage::Error(ErrorMessage {
                            request_id: None,
                            code: ErrorCode::NotAPlayer,
                            message,
                        }),
                    );
                }
                Err(_) => {}
            }
        }
        RoomCommand::Ack { player, tick } => {
            room.receive_ack(player, tick);
        }
        RoomCommand::Event { player, event } => {
            let Some(sender) = clients.get(&player) else {
                return;
            };
            let relayed = RoomEvent {
                name: event.name.clone(),
                data: event.data.clone(),
                ack_id: None,
            };
            for (_, io) in clients.iter().filter(|(p, _)| **p != player) {
                best_effort(shared, io, ServerMessage::Event(relayed.clone()));
            }
            if let Some(ack_id) = event.ack_id {
                best_effort(
                    shared,
                    sender,
                    ServerMessage::EventReply(EventReply {
                        ack_id,
                        data: Vec::new(),
                    }),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> TickClock {
        TickClock {
            start: tokio::time::Instant::now(),
            period: TickRate::new(30).expect("valid rate").period(),
        }
    }

    #[test]
    fn next_after_lands_on_the_following_tick_instant() {
        let clock = clock();
        assert_eq!(clock.next_after(clock.start), clock.due(1));
        assert_eq!(clock.next_after(clock.due(5)), clock.due(6));
        let inside = clock.due(7) + clock.period / 3;
        assert_eq!(clock.next_after(inside), clock.due(8));
        // Before the schedule began: its first tick.
        let before = clock.start.checked_sub(Duration::from_secs(1));
        if let Some(before) = before {
            assert_eq!(clock.next_after(before), clock.due(1));
        }
    }

    #[test]
    fn whole_ticks_rounds_to_the_nearest_number_of_ticks_and_stays_aligned() {
        let clock = clock();
        assert_eq!(clock.whole_ticks(Duration::from_secs(1)), clock.period * 30);
        assert_eq!(
            clock.whole_ticks(Duration::from_millis(100)),
            clock.period * 3
        );
        assert_eq!(clock.whole_ticks(Duration::from_millis(1)), clock.period);
        // A heartbeat stepped from a tick instant stays on tick instants,
        // exactly: the same instants the room sleeps until.
        let step = clock.whole_ticks(Duration::from_secs(1));
        let mut beat = clock.next_after(clock.start);
        for n in 1..=5u32 {
            beat += step;
            assert_eq!(beat, clock.due(1 + 30 * n));
        }
    }
}
