//! A room's members as the room sees them (pure: no socket, no clock):
//! each member's outbox and ping schedule, what members send the room
//! (inputs, acks, events), and each tick's fan-out of updates and pings
//! to the outboxes. The room task (and the test harness) call it; it
//! never learns which transport a member uses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tickwire_shared::game::{Game, JoinRequest, LeaveCause, RoomAction};
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{
    EventOutcome, EventReply, LeaveReason, Metadata, Ping, Role, ServerMessage,
};
use tracing::{debug, info, warn};

use super::{InputVerdict, Room, RoomError};
use crate::metrics::Metrics;
use crate::outbox::{Outbox, Removal, encode_frame};
use crate::reason::{Fault, InputDrop, Label, Refusal};
use crate::session::{Now, RoomInput};

/// Most actions carried out in one go: a game's hooks may queue more
/// (a kick runs the leave hook, which may emit), but never without end.
const MAX_ACTIONS: usize = 65_536;

/// What the game did that the lobby must hear of, collected until the
/// caller takes it ([`Members::take_effects`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomEffects {
    /// Members the game removed (kicked, or all of them when it closed
    /// the room): their places to free in the lobby.
    pub removed: Vec<(PlayerId, Role)>,
    /// The room was locked (true) or unlocked.
    pub locked: Option<bool>,
    /// The room's new public metadata.
    pub metadata: Option<Metadata>,
    /// The game closed the room: dispose of it.
    pub closed: bool,
}

impl RoomEffects {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug)]
struct Member {
    outbox: Arc<Outbox>,
    /// The display name it joined with (for operators).
    name: String,
    /// Its role.
    role: Role,
    /// The tick with whose update the member is pinged next.
    next_ping: u32,
    /// Dropped: its seat waits for it until then (no updates meanwhile).
    suspended_until: Option<Instant>,
}

/// What one tick's fan-out did, for the room's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Updates handed out.
    pub updates: u64,
    /// Updates written to sockets on the room's thread.
    pub updates_direct: u64,
    /// Messages written so (updates, pings, pongs), and their bytes.
    pub messages_direct: u64,
    /// Their bytes.
    pub bytes_direct: u64,
    /// Full snapshots among the updates.
    pub full_snapshots: u64,
    /// Updates that replaced one not sent yet.
    pub superseded: u64,
    /// Bytes of the update frames handed out (each member's counted).
    pub update_bytes: u64,
}

/// One member as an operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemberReport {
    /// Its player id.
    pub player: u32,
    /// The display name it joined with.
    pub name: String,
    /// `player` or `spectator`.
    pub role: &'static str,
    /// Whether its connection is up (false: dropped, its seat waiting for
    /// a resume).
    pub connected: bool,
}

/// The members of one room. See the module doc.
#[derive(Debug)]
pub struct Members {
    room: RoomId,
    members: BTreeMap<PlayerId, Member>,
    /// Members are pinged every this many ticks.
    ping_every: u32,
    metrics: Arc<Metrics>,
    effects: RoomEffects,
}

impl Members {
    /// No members yet; each will be pinged every `ping_every` ticks.
    pub fn new(room: RoomId, ping_every: u32, metrics: Arc<Metrics>) -> Self {
        Self {
            room,
            members: BTreeMap::new(),
            ping_every: ping_every.max(1),
            metrics,
            effects: RoomEffects::default(),
        }
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether `player` is a member.
    pub fn contains(&self, player: PlayerId) -> bool {
        self.members.contains_key(&player)
    }

    /// Whether the room has no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// What the lobby must hear of since last asked.
    pub fn take_effects(&mut self) -> RoomEffects {
        std::mem::take(&mut self.effects)
    }

    /// Seats a member in `room` (its lobby place already reserved) if the
    /// game's join hook agrees to `request`, with the outbox its updates go
    /// to.
    pub fn join<G: Game>(
        &mut self,
        room: &mut Room<G>,
        request: &JoinRequest<'_>,
        outbox: Arc<Outbox>,
    ) -> Result<(), Refusal> {
        let (player, role, name) = (request.player, request.role, request.name);
        let joined = room.join(request).map_err(|e| match e {
            RoomError::Game(g) => Refusal::Game(g),
            _ => Refusal::AlreadyMember,
        });
        if let Err(refusal) = joined {
            // A refusing hook may still have acted (emitted to the others).
            self.carry_out(room);
            return Err(refusal);
        }
        self.members.insert(
            player,
            Member {
                outbox,
                name: name.to_owned(),
                role,
                next_ping: room.tick().0.saturating_add(self.ping_every),
                suspended_until: None,
            },
        );
        self.count(role, 1);
        info!(room = %self.room, %player, ?role, name, "joined room");
        self.carry_out(room);
        Ok(())
    }

    /// The members, for operators.
    pub fn report(&self) -> Vec<MemberReport> {
        self.members
            .iter()
            .map(|(player, m)| MemberReport {
                player: player.0,
                name: m.name.clone(),
                role: match m.role {
                    Role::Player => "player",
                    Role::Spectator => "spectator",
                },
                connected: m.suspended_until.is_none(),
            })
            .collect()
    }

    /// An operator removes `player`: it is told `Left { Kicked, message
    /// }` and the game hears it left (`Kicked`). False if it is no member.
    pub fn kick_by_operator<G: Game>(
        &mut self,
        room: &mut Room<G>,
        player: PlayerId,
        message: String,
    ) -> bool {
        if !self.members.contains_key(&player) {
            return false;
        }
        info!(room = %self.room, %player, %message, "member kicked by an operator");
        self.expel(room, player, LeaveReason::Kicked, message);
        self.carry_out(room);
        true
    }

    /// An operator closes the room: every member is told `Left {
    /// RoomClosed, message }` and the room is disposed (the effects say
    /// `closed`).
    pub fn close_by_operator<G: Game>(&mut self, room: &mut Room<G>, message: String) {
        info!(room = %self.room, %message, "room closed by an operator");
        let players: Vec<PlayerId> = self.members.keys().copied().collect();
        for player in players {
            self.expel(room, player, LeaveReason::RoomClosed, message.clone());
        }
        self.effects.closed = true;
        self.carry_out(room);
    }

    /// Removes a member, the game told `cause`; returns its role (its
    /// lobby place is the caller's to free) if it was one.
    pub fn leave<G: Game>(
        &mut self,
        room: &mut Room<G>,
        player: PlayerId,
        cause: LeaveCause,
    ) -> Option<Role> {
        let role = self.remove(room, player, cause)?;
        self.carry_out(room);
        Some(role)
    }

    fn remove<G: Game>(
        &mut self,
        room: &mut Room<G>,
        player: PlayerId,
        cause: LeaveCause,
    ) -> Option<Role> {
        self.members.remove(&player)?;
        let role = room.leave(player, cause)?;
        self.count(role, -1);
        self.metrics.member_left(cause.label());
        info!(room = %self.room, %player, ?role, cause = cause.label(), "left room");
        Some(role)
    }

    /// Members whose sessions ended without saying so (the outbox is only
    /// the room's now), suspended ones aside.
    pub fn gone(&self) -> impl Iterator<Item = PlayerId> + '_ {
        self.members
            .iter()
            .filter(|(_, m)| m.suspended_until.is_none() && Arc::strong_count(&m.outbox) == 1)
            .map(|(&p, _)| p)
    }

    /// A member's connection dropped at `now`: its seat waits for it until
    /// `until` (or sooner, if the game chose a shorter grace; no update
    /// meanwhile), and the game is told. False if it is no member.
    pub fn suspend<G: Game>(
        &mut self,
        room: &mut Room<G>,
        player: PlayerId,
        now: Instant,
        until: Instant,
    ) -> bool {
        // The game may keep seats for less than the server does.
        let until = room.reconnect_grace().map_or(until, |g| until.min(now + g));
        let Some(member) = self.members.get_mut(&player) else {
            return false;
        };
        member.suspended_until = Some(until);
        info!(room = %self.room, %player, "member dropped; seat kept");
        room.drop_member(player);
        self.carry_out(room);
        true
    }

    /// A suspended member is back on a new connection (`outbox`), holding
    /// the world of tick `from`; the game is told. Its role, or `None` if
    /// it holds no suspended seat here.
    pub fn resume<G: Game>(
        &mut self,
        room: &mut Room<G>,
        player: PlayerId,
        outbox: Arc<Outbox>,
        from: Option<tickwire_shared::tick::Tick>,
    ) -> Option<Role> {
        let member = self.members.get_mut(&player)?;
        member.suspended_until?;
        member.suspended_until = None;
        member.outbox = outbox;
        member.next_ping = room.tick().0.saturating_add(self.ping_every);
        room.reconnect_member(player, from);
        info!(room = %self.room, %player, "member resumed");
        self.carry_out(room);
        room.role(player)
    }

    /// Suspended members whose grace ran out by `now`.
    pub fn expired(&self, now: Instant) -> Vec<PlayerId> {
        self.members
            .iter()
            .filter(|(_, m)| m.suspended_until.is_some_and(|until| until <= now))
            .map(|(&p, _)| p)
            .collect()
    }

    /// Every member, removed from `room` (the server is stopping: the
    /// sessions close themselves), then the game's dispose hook; returns
    /// their roles for the lobby.
    pub fn clear<G: Game>(&mut self, room: &mut Room<G>) -> Vec<Role> {
        let players: Vec<PlayerId> = self.members.keys().copied().collect();
        let roles = players
            .into_iter()
            .filter_map(|p| self.remove(room, p, LeaveCause::RoomClosed))
            .collect();
        room.dispose();
        self.take_refused(room);
        roles
    }

    /// Carries out what the game asked of the room, in order: emits and
    /// answers go to the members' outboxes, kicks and a close remove
    /// members (and tell them), and what the lobby must do is kept in the
    /// effects. Called after every hook.
    pub fn carry_out<G: Game>(&mut self, room: &mut Room<G>) {
        for _ in 0..MAX_ACTIONS {
            let Some(action) = room.poll_action() else {
                break;
            };
            match action {
                RoomAction::Emit {
                    to,
                    recipients,
                    event,
                } => {
                    let name = event.name.clone();
                    let Some(frame) = encode_frame(&ServerMessage::Event(event)) else {
                        continue;
                    };
                    let mut sent = 0u64;
                    // Those the game meant, still here and connected (a
                    // refused joiner never was; a dropped member misses
                    // what is said while it is away).
                    for player in recipients {
                        if let Some(member) = self.members.get(&player)
                            && member.suspended_until.is_none()
                        {
                            sent += 1;
                            if member.outbox.push_from_room(frame.clone()).is_err() {
                                self.metrics.error(&Fault::OutboxFull);
                            }
                        }
                    }
                    self.metrics.events_emitted.inc_by(sent);
                    debug!(room = %self.room, event = %name, audience = ?to, recipients = sent, "event emitted");
                }
                RoomAction::Answer { to, outcome } => {
                    if let Some(member) = self.members.get(&to.player) {
                        debug!(room = %self.room, player = %to.player, ack_id = to.ack_id, error = matches!(outcome, EventOutcome::Error { .. }), "event answered");
                        let reply = ServerMessage::EventReply(EventReply {
                            ack_id: to.ack_id,
                            outcome,
                        });
                        self.tell(member, &reply);
                    }
                }
                RoomAction::Kick { player, message } => {
                    self.expel(room, player, LeaveReason::Kicked, message);
                }
                RoomAction::Close { message } => {
                    info!(room = %self.room, %message, "room closed by its game");
                    let players: Vec<PlayerId> = self.members.keys().copied().collect();
                    for player in players {
                        self.expel(room, player, LeaveReason::RoomClosed, message.clone());
                    }
                    self.effects.closed = true;
                }
                RoomAction::Lock(locked) => {
                    info!(room = %self.room, locked, "room lock changed");
                    self.effects.locked = Some(locked);
                }
                RoomAction::Metadata(metadata) => {
                    debug!(room = %self.room, ?metadata, "room metadata changed");
                    self.effects.metadata = Some(metadata);
                }
            }
        }
        self.take_refused(room);
    }

    /// Steps the room (answers that timed out, then the game's step) and
    /// carries out what the game asked meanwhile.
    pub fn step<G: Game>(&mut self, room: &mut Room<G>) {
        room.step();
        self.carry_out(room);
    }

    /// Counts and logs what the room refused the game, and the awaited
    /// answers that never came.
    fn take_refused<G: Game>(&self, room: &mut Room<G>) {
        let (timed_out, gone) = room.take_answers_ended();
        for _ in 0..timed_out {
            self.metrics.event_answer("timed_out");
        }
        for _ in 0..gone {
            self.metrics.event_answer("gone");
        }
        for refused in room.take_refused() {
            self.metrics.emit_refused(refused.label());
            warn!(room = %self.room, reason = refused.label(), error = %refused, "the game's request was refused");
        }
    }

    /// Removes a member on the game's word: its session hears why through
    /// its outbox, the game's leave hook runs, and its place is for the
    /// lobby to free.
    fn expel<G: Game>(
        &mut self,
        room: &mut Room<G>,
        player: PlayerId,
        reason: LeaveReason,
        message: String,
    ) {
        let Some(member) = self.members.get(&player) else {
            return;
        };
        member.outbox.removed(Removal {
            room: self.room,
            reason,
            message,
        });
        let cause = match reason {
            LeaveReason::Kicked => LeaveCause::Kicked,
            _ => LeaveCause::RoomClosed,
        };
        if let Some(role) = self.remove(room, player, cause) {
            self.effects.removed.push((player, role));
        }
    }

    fn count(&self, role: Role, delta: i64) {
        let gauge = match role {
            Role::Player => &self.metrics.players,
            Role::Spectator => &self.metrics.spectators,
        };
        gauge.inc_by(delta);
    }

    /// Queues a reliable message for a member, counting it when its outbox
    /// is full.
    fn tell(&self, member: &Member, message: &ServerMessage) {
        let Some(frame) = encode_frame(message) else {
            return;
        };
        if member.outbox.push_from_room(frame).is_err() {
            self.metrics.error(&Fault::OutboxFull);
        }
    }

    /// Something a member sent the room.
    pub fn receive<G: Game>(&mut self, room: &mut Room<G>, player: PlayerId, input: RoomInput) {
        let Some(member) = self.members.get(&player) else {
            return;
        };
        match input {
            RoomInput::Ack(tick) => {
                room.receive_ack(player, tick);
            }
            RoomInput::Inputs(inputs) => {
                // A piggybacked acknowledgement counts whatever becomes of
                // the inputs.
                if let Some(tick) = inputs.ack {
                    room.receive_ack(player, tick);
                }
                let refusal = match room.receive_inputs(player, &inputs) {
                    Ok(InputVerdict::Accepted) => return,
                    Ok(InputVerdict::Dropped(why)) => {
                        self.metrics.input_dropped(why);
                        debug!(room = %self.room, %player, reason = why.label(), "input dropped");
                        if why == InputDrop::Stale {
                            return;
                        }
                        Refusal::Input {
                            seq: inputs.newest_seq,
                            why,
                        }
                    }
                    Err(RoomError::NotAPlayer) => {
                        self.metrics.input_dropped(InputDrop::NotAPlayer);
                        Refusal::NotAPlayer
                    }
                    Err(_) => return,
                };
                self.tell(member, &ServerMessage::Error(refusal.to_message(None)));
            }
            RoomInput::Event(event) => {
                let ack_id = event.ack_id;
                match room.receive_event(player, event) {
                    Ok(()) => {
                        self.metrics.events_received.inc();
                    }
                    Err(RoomError::Event(refusal)) => {
                        self.metrics.event_refused(&refusal);
                        debug!(room = %self.room, %player, reason = refusal.label(), "event refused");
                        let message = refusal.to_message(ack_id);
                        self.tell(member, &message);
                    }
                    Err(_) => {}
                }
            }
            RoomInput::EventReply(reply) => {
                let outcome = match &reply.outcome {
                    EventOutcome::Data(_) => "answered",
                    EventOutcome::Error { .. } => "error",
                };
                if room.receive_answer(player, reply) {
                    self.metrics.event_answer(outcome);
                } else {
                    debug!(room = %self.room, %player, "answer to nothing awaited dropped");
                }
            }
        }
        self.carry_out(room);
    }

    /// Hands every member this tick's update (after [`Room::step`]), with
    /// a ping when one is due (one ping frame a tick, stamped once).
    pub fn fan_out<G: Game>(&mut self, room: &mut Room<G>, now: Now, lateness_us: u32) -> FanOut {
        let tick = room.tick().0;
        let ping_every = self.ping_every;
        let mut fan_out = FanOut::default();
        let mut ping: Option<Option<Bytes>> = None;
        let members = &mut self.members;
        room.updates(lateness_us, |player, delivery| {
            let Some(member) = members.get_mut(&player) else {
                return;
            };
            if member.suspended_until.is_some() {
                return;
            }
            let due = tick >= member.next_ping;
            if due {
                member.next_ping = tick.saturating_add(ping_every);
            }
            let ping = due
                .then(|| {
                    ping.get_or_insert_with(|| {
                        encode_frame(&ServerMessage::Ping(Ping {
                            sent_at_us: now.unix_us,
                        }))
                    })
                    .as_ref()
                })
                .flatten();
            let offered = member.outbox.offer_update(&delivery.frame, ping, now);
            if offered.dropped {
                return;
            }
            fan_out.updates += 1;
            fan_out.update_bytes += delivery.frame.len() as u64;
            fan_out.updates_direct += u64::from(offered.direct);
            fan_out.messages_direct += offered.direct_messages;
            fan_out.bytes_direct += offered.direct_bytes;
            fan_out.superseded += u64::from(offered.replaced);
            fan_out.full_snapshots += u64::from(delivery.full);
        });
        fan_out
    }
}
