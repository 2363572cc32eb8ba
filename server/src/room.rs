//! One game room (pure): the game and the hooks it is called through, its
//! members, each player's latest input, each client's acknowledged
//! baseline, and the per-tick updates.
//!
//! Between ticks the room task hands it what members did, in arrival
//! order: [`Room::join`], [`Room::leave`], [`Room::receive_inputs`],
//! [`Room::receive_ack`], [`Room::receive_event`], [`Room::receive_answer`];
//! each runs the game's hook with a [`RoomContext`]. At the tick:
//! [`Room::step`] (answers that timed out, then the game's step), then
//! [`Room::updates`], which encodes one update per distinct baseline and
//! hands every client the shared buffer for its baseline. What the game
//! asked of the room (emits, answers, kicks, lock, metadata, close) waits
//! in [`Room::poll_action`] for [`members::Members`] to carry out.

pub mod clock;
pub mod health;
pub mod members;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tickwire_shared::codec;
use tickwire_shared::delta::DeltaEncoder;
use tickwire_shared::delta::history::SnapshotHistory;
use tickwire_shared::game::{
    Answer, AnswerOutcome, AnswerTo, EmitError, EmitId, Event, EventLimits, Game, GameError,
    JoinRequest, LeaveCause, MemberInfo, PlayerInput, RoomAction, RoomActions, RoomContext,
};
use tickwire_shared::ids::PlayerId;
use tickwire_shared::protocol::{EventOutcome, EventReply, Inputs, Role, RoomEvent};
use tickwire_shared::snapshot::WorldSnapshot;
use tickwire_shared::tick::{Tick, TickRate};

use crate::reason::{EventRefusal, InputDrop};

/// Most inputs one `Inputs` message may carry (the newest and a few
/// repeats for lossy transports).
pub const MAX_INPUTS_PER_MESSAGE: usize = 8;

/// What became of one `Inputs` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputVerdict {
    /// The newest input was taken.
    Accepted,
    /// The message was dropped, and why.
    Dropped(InputDrop),
}

/// Why a room refused something.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// The game refused (join refused, for instance).
    #[error(transparent)]
    Game(#[from] GameError),
    /// The client is not a member.
    #[error("not a member of this room")]
    NotMember,
    /// A spectator sent inputs.
    #[error("spectators send no inputs")]
    NotAPlayer,
    /// The client is already a member.
    #[error("already a member of this room")]
    AlreadyMember,
    /// A member's event was refused before reaching the game.
    #[error(transparent)]
    Event(#[from] EventRefusal),
}

#[derive(Debug)]
struct Member<I> {
    role: Role,
    acked: Option<Tick>,
    last_seq: Option<u32>,
    input: I,
}

/// One update handed to a client by [`Room::updates`].
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The encoded update frame, shared by every client on this baseline.
    pub frame: Bytes,
    /// Whether it is a full snapshot.
    pub full: bool,
}

/// When an empty room is disposed: after `empty` once someone has joined
/// it, after `unjoined` (shorter) while nobody ever has, so rooms created
/// and abandoned free their slot quickly.
#[derive(Clone, Copy, Debug)]
pub struct Vacancy {
    since: Option<Instant>,
    joined: bool,
    empty: Duration,
    unjoined: Duration,
}

/// Why [`Vacancy::check`] says to dispose of a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposal {
    /// Empty for the empty-room grace after members left.
    Empty,
    /// Nobody joined it within the unjoined grace.
    NeverJoined,
}

impl Vacancy {
    /// A room created (empty) at `now`.
    pub fn new(now: Instant, empty: Duration, unjoined: Duration) -> Self {
        Self {
            since: Some(now),
            joined: false,
            empty,
            unjoined,
        }
    }

    /// Whether a room with `members` at `now` is due for disposal, and
    /// why.
    pub fn check(&mut self, now: Instant, members: usize) -> Option<Disposal> {
        if members > 0 {
            self.joined = true;
            self.since = None;
            return None;
        }
        let since = *self.since.get_or_insert(now);
        let (grace, why) = if self.joined {
            (self.empty, Disposal::Empty)
        } else {
            (self.unjoined, Disposal::NeverJoined)
        };
        (now.saturating_duration_since(since) >= grace).then_some(why)
    }
}

/// A game room.
#[derive(Debug)]
pub struct Room<G: Game> {
    game: G,
    tick: Tick,
    history: SnapshotHistory,
    spare: Option<WorldSnapshot>,
    members: BTreeMap<PlayerId, Member<G::Input>>,
    inputs: Vec<PlayerInput<G::Input>>,
    encoder: DeltaEncoder,
    /// This tick's encoded updates by the tick they carry and their
    /// baseline.
    frames: Vec<(Tick, Option<Tick>, Delivery)>,
    buf: Vec<u8>,
    max_baseline_age: u32,
    /// Ticks spectators are served behind the players.
    spectator_delay: u32,
    max_input_bytes: usize,
    tick_rate: TickRate,
    /// The game's side of the room: members, queued actions, answers
    /// awaited, byte budget, lock, metadata.
    actions: RoomActions,
    disposed: bool,
    /// Emits whose answers timed out, and whose member left, since last
    /// asked.
    answers_ended: (u64, u64),
}

impl<G: Game> Room<G> {
    /// A room around `game`, whose `created` hook runs now. Deltas are
    /// encoded against acknowledged states at most `max_baseline_age`
    /// ticks old; inputs are at most `max_input_bytes` each; what the game
    /// emits is bounded by `limits`.
    pub fn new(
        game: G,
        max_baseline_age: u32,
        max_input_bytes: usize,
        limits: EventLimits,
    ) -> Self {
        let mut history = SnapshotHistory::new(max_baseline_age as usize + 1);
        let mut world = WorldSnapshot::empty(Tick(0));
        game.snapshot(&mut world);
        // A game that repeats an id is broken; keep going with the sorted
        // world rather than refusing to run.
        let _ = world.finish();
        history.insert(world);
        let tick_rate = game.tick_rate();
        let mut room = Self {
            game,
            tick: Tick(0),
            history,
            spare: None,
            members: BTreeMap::new(),
            inputs: Vec::new(),
            encoder: DeltaEncoder::new(),
            frames: Vec::new(),
            buf: Vec::new(),
            max_baseline_age,
            spectator_delay: 0,
            max_input_bytes,
            tick_rate,
            actions: RoomActions::new(limits),
            disposed: false,
            answers_ended: (0, 0),
        };
        room.hook(|game, ctx| game.created(ctx));
        room
    }

    /// Serves spectators the world as it was `delay` ticks ago, never a
    /// newer one (no ghosting: a spectator cannot tell a player what is
    /// behind it now); before tick `delay` they get no update. The history
    /// grows by `delay` snapshots so that spectators' worlds and their
    /// baselines are held. Call it before the room runs its first tick.
    pub fn with_spectator_delay(mut self, delay: u32) -> Self {
        let capacity = self.max_baseline_age as usize + 1 + delay as usize;
        if capacity != self.history.capacity() {
            let mut history = SnapshotHistory::new(capacity);
            if let Some(world) = self.history.latest() {
                history.insert(world.clone());
            }
            self.history = history;
        }
        self.spectator_delay = delay;
        self
    }

    /// Runs a hook with the room's context.
    fn hook<R>(&mut self, call: impl FnOnce(&mut G, &mut RoomContext<'_>) -> R) -> R {
        let mut ctx = RoomContext::new(self.tick, self.tick_rate, &mut self.actions);
        call(&mut self.game, &mut ctx)
    }

    /// The game (read-only).
    pub fn game(&self) -> &G {
        &self.game
    }

    /// The newest tick simulated.
    pub fn tick(&self) -> Tick {
        self.tick
    }

    /// The newest world.
    pub fn world(&self) -> Option<&WorldSnapshot> {
        self.history.latest()
    }

    /// Members in all, and of them players.
    pub fn counts(&self) -> (usize, usize) {
        let players = self
            .members
            .values()
            .filter(|m| m.role == Role::Player)
            .count();
        (self.members.len(), players)
    }

    /// The role of a member.
    pub fn role(&self, player: PlayerId) -> Option<Role> {
        self.members.get(&player).map(|m| m.role)
    }

    /// The members and their roles, by id.
    pub fn roles(&self) -> impl Iterator<Item = (PlayerId, Role)> + '_ {
        self.members.iter().map(|(&p, m)| (p, m.role))
    }

    /// Adds a member if the game's join hook agrees (it sees the name,
    /// role, join options and verified identity in `request`).
    pub fn join(&mut self, request: &JoinRequest<'_>) -> Result<(), RoomError> {
        let (player, role, name) = (request.player, request.role, request.name);
        if self.members.contains_key(&player) {
            return Err(RoomError::AlreadyMember);
        }
        // A member while its join hook runs (so that the game can greet
        // it); out again if the game refuses.
        self.actions.add_member(
            player,
            MemberInfo {
                role,
                name: name.to_owned(),
            },
        );
        if let Err(e) = self.hook(|game, ctx| game.join(ctx, request)) {
            self.actions.remove_member(player);
            return Err(e.into());
        }
        self.members.insert(
            player,
            Member {
                role,
                acked: None,
                last_seq: None,
                input: G::Input::default(),
            },
        );
        Ok(())
    }

    /// Removes a member, telling the game why; returns its role if it was
    /// one. The emits that waited for its answers end as
    /// [`AnswerOutcome::Gone`].
    pub fn leave(&mut self, player: PlayerId, cause: LeaveCause) -> Option<Role> {
        let member = self.members.remove(&player)?;
        let awaited = self.actions.remove_member(player);
        self.hook(|game, ctx| game.leave(ctx, player, member.role, cause));
        for id in awaited {
            self.answers_ended.1 += 1;
            self.tell_answer(id, player, AnswerOutcome::Gone);
        }
        Some(member.role)
    }

    /// A member's connection dropped: its seat stays (its last input
    /// held), and the game's `dropped` hook is told.
    pub fn drop_member(&mut self, player: PlayerId) {
        if self.members.contains_key(&player) {
            self.hook(|game, ctx| game.dropped(ctx, player));
        }
    }

    /// A dropped member is back, holding the world of tick `from`: its next
    /// update is a delta against that tick when the room still holds it
    /// (young enough), else a full snapshot; the game's `reconnected` hook
    /// is told. Input sequence numbers count per session, so the new
    /// connection's start afresh. False if it is no member.
    pub fn reconnect_member(&mut self, player: PlayerId, from: Option<Tick>) -> bool {
        let tick = self.tick;
        let Some(member) = self.members.get_mut(&player) else {
            return false;
        };
        member.acked = from.filter(|&t| t <= tick);
        member.last_seq = None;
        self.hook(|game, ctx| game.reconnected(ctx, player));
        true
    }

    /// A member's event, for the game's event hook. Refused (before the
    /// game sees it) when it comes from a spectator and the game takes no
    /// spectators' events.
    pub fn receive_event(&mut self, player: PlayerId, event: RoomEvent) -> Result<(), RoomError> {
        let role = self.role(player).ok_or(RoomError::NotMember)?;
        if role == Role::Spectator && !G::SPECTATORS_EMIT {
            return Err(EventRefusal::Spectator.into());
        }
        let event = Event {
            from: player,
            role,
            name: event.name,
            data: event.data,
            answer: event.ack_id.map(|ack_id| AnswerTo { player, ack_id }),
        };
        self.hook(|game, ctx| game.event(ctx, event));
        Ok(())
    }

    /// A member's answer to an event the game emitted: to the game's
    /// answer hook, unless it answers nothing awaited from that member
    /// (unknown, timed out, or someone else's); returns whether it did.
    pub fn receive_answer(&mut self, player: PlayerId, reply: EventReply) -> bool {
        let id = EmitId(reply.ack_id);
        if self.actions.take_pending(id, player).is_none() {
            return false;
        }
        let outcome = match reply.outcome {
            EventOutcome::Data(data) => AnswerOutcome::Data(data),
            EventOutcome::Error { code, message } => AnswerOutcome::Error { code, message },
        };
        self.tell_answer(id, player, outcome);
        true
    }

    /// Runs the game's answer hook for emit `id` to `from`.
    fn tell_answer(&mut self, id: EmitId, from: PlayerId, outcome: AnswerOutcome) {
        self.hook(|game, ctx| game.answer(ctx, Answer { id, from, outcome }));
    }

    /// The next thing the game asked of the room, in order.
    pub fn poll_action(&mut self) -> Option<RoomAction> {
        self.actions.pop()
    }

    /// How many awaited answers timed out, and how many ended because
    /// their member left, since last asked.
    pub fn take_answers_ended(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.answers_ended)
    }

    /// What the room refused the game since last asked.
    pub fn take_refused(&mut self) -> Vec<EmitError> {
        self.actions.take_refused()
    }

    /// The room's public metadata as the game set it.
    pub fn metadata(&self) -> &tickwire_shared::protocol::Metadata {
        self.actions.metadata()
    }

    /// How long the game wants dropped members' seats kept, if it chose.
    pub fn reconnect_grace(&self) -> Option<Duration> {
        self.actions.reconnect_grace()
    }

    /// Whether the game locked the room.
    pub fn is_locked(&self) -> bool {
        self.actions.is_locked()
    }

    /// Whether the game closed the room.
    pub fn is_closing(&self) -> bool {
        self.actions.is_closing()
    }

    /// Runs the game's dispose hook, once; the members must be gone.
    pub fn dispose(&mut self) {
        if !std::mem::replace(&mut self.disposed, true) {
            self.hook(|game, ctx| game.disposing(ctx));
            // Nobody is left to hear what it emitted now.
            while self.actions.pop().is_some() {}
        }
    }

    /// Takes the newest input of a message if it is newer than the last
    /// one taken and valid. Older inputs in the same message are repeats
    /// for lossy transports and are superseded by the newest.
    pub fn receive_inputs(
        &mut self,
        player: PlayerId,
        inputs: &Inputs,
    ) -> Result<InputVerdict, RoomError> {
        let member = self.members.get_mut(&player).ok_or(RoomError::NotMember)?;
        if member.role != Role::Player {
            return Err(RoomError::NotAPlayer);
        }
        if member
            .last_seq
            .is_some_and(|last| inputs.newest_seq <= last)
        {
            return Ok(InputVerdict::Dropped(InputDrop::Stale));
        }
        // Whatever the verdict, this sequence number is now used up.
        member.last_seq = Some(inputs.newest_seq);
        let newest = match inputs.inputs.last() {
            Some(newest) if inputs.inputs.len() <= MAX_INPUTS_PER_MESSAGE => newest,
            _ => return Ok(InputVerdict::Dropped(InputDrop::Undecodable)),
        };
        let Ok(input) = codec::decode_value::<G::Input>(newest, self.max_input_bytes) else {
            return Ok(InputVerdict::Dropped(InputDrop::Undecodable));
        };
        match self.game.validate_input(input) {
            Err(_) => Ok(InputVerdict::Dropped(InputDrop::Invalid)),
            Ok(input) => {
                member.input = input;
                Ok(InputVerdict::Accepted)
            }
        }
    }

    /// Records a client's acknowledgement. Acks for ticks not yet simulated
    /// or older than the last one are ignored (returns false).
    pub fn receive_ack(&mut self, player: PlayerId, tick: Tick) -> bool {
        let Some(member) = self.members.get_mut(&player) else {
            return false;
        };
        if tick > self.tick || member.acked.is_some_and(|a| tick <= a) {
            return false;
        }
        member.acked = Some(tick);
        true
    }

    /// Ends the emits whose answers are overdue at the coming tick
    /// ([`AnswerOutcome::TimedOut`]), advances the game one fixed step with
    /// every player's latest input, and keeps the resulting world as a
    /// baseline.
    pub fn step(&mut self) -> &WorldSnapshot {
        for (id, from) in self.actions.timed_out(self.tick.next()) {
            self.answers_ended.0 += 1;
            self.tell_answer(id, from, AnswerOutcome::TimedOut);
        }
        self.actions.refill(self.tick_rate);
        self.inputs.clear();
        self.inputs.extend(
            self.members
                .iter()
                .filter(|(_, m)| m.role == Role::Player)
                .map(|(&player, m)| PlayerInput {
                    player,
                    input: m.input.clone(),
                }),
        );
        let inputs = std::mem::take(&mut self.inputs);
        self.hook(|game, ctx| game.step(ctx, &inputs));
        self.inputs = inputs;
        self.tick = self.tick.next();
        // Reuse the allocation of the snapshot the history evicts.
        let mut world = self.spare.take().unwrap_or_default();
        world.clear(self.tick);
        self.game.snapshot(&mut world);
        let _ = world.finish();
        self.spare = self.history.insert(world);
        self.history.latest().expect("just inserted")
    }

    /// The baseline of a client's next update, which carries the world of
    /// tick `view`: its newest acknowledged state when still held and
    /// young enough, else none (a full snapshot).
    fn baseline_for(&self, view: Tick, acked: Option<Tick>) -> Option<Tick> {
        let acked = acked?;
        let age = view.since(acked)?;
        (age > 0 && age <= self.max_baseline_age && self.history.get(acked).is_some())
            .then_some(acked)
    }

    /// Encodes this tick's updates, once per distinct world and baseline
    /// (players get the newest world; spectators the one
    /// `spectator_delay` ticks older), and calls `deliver` for every
    /// member with its update. `lateness_us` goes in the header.
    pub fn updates(&mut self, lateness_us: u32, mut deliver: impl FnMut(PlayerId, &Delivery)) {
        self.frames.clear();
        let spectators_view = self.tick.checked_back(self.spectator_delay);
        for (&player, member) in &self.members {
            let view = match member.role {
                Role::Player => self.tick,
                Role::Spectator => match spectators_view {
                    Some(view) => view,
                    None => continue,
                },
            };
            let Some(current) = self.history.get(view) else {
                continue;
            };
            let baseline = self.baseline_for(view, member.acked);
            let cached = self
                .frames
                .iter()
                .position(|(v, b, _)| *v == view && *b == baseline);
            let index = match cached {
                Some(index) => index,
                None => {
                    let checksum = current.checksum();
                    self.buf.clear();
                    let base_world = baseline.and_then(|t| self.history.get(t));
                    let encoded = codec::encode_update_header(
                        current.tick,
                        baseline,
                        lateness_us,
                        checksum,
                        &mut self.buf,
                    )
                    .map_err(|_| ())
                    .and_then(|()| {
                        self.encoder
                            .encode(&G::SCHEMA, base_world, current, &mut self.buf)
                            .map_err(|_| ())
                    });
                    if encoded.is_err() {
                        // Only a game whose snapshot breaks its own schema
                        // gets here; nothing sensible can be sent.
                        continue;
                    }
                    let delivery = Delivery {
                        frame: Bytes::copy_from_slice(&self.buf),
                        full: baseline.is_none(),
                    };
                    self.frames.push((view, baseline, delivery));
                    self.frames.len() - 1
                }
            };
            deliver(player, &self.frames[index].2);
        }
    }
}

#[cfg(test)]
mod tests {
    use tickwire_shared::arena::{Arena, ArenaConfig, ArenaInput};
    use tickwire_shared::client::Replica;
    use tickwire_shared::codec::{MAX_CLIENT_FRAME, MAX_SERVER_FRAME, decode_server, encode_value};
    use tickwire_shared::game::GameOptions;
    use tickwire_shared::protocol::ServerMessage;

    use super::*;

    fn joining(player: PlayerId, role: Role, name: &'static str) -> JoinRequest<'static> {
        static NO_OPTIONS: GameOptions = GameOptions(BTreeMap::new());
        JoinRequest {
            player,
            name,
            role,
            options: &NO_OPTIONS,
            identity: None,
        }
    }

    fn room() -> Room<Arena> {
        let game = Arena::new(&ArenaConfig::default(), &GameOptions::default(), 1).unwrap();
        Room::new(game, 32, MAX_CLIENT_FRAME, EventLimits::default())
    }

    fn inputs(seq: u32, input: ArenaInput) -> Inputs {
        let mut bytes = Vec::new();
        encode_value(&input, &mut bytes).unwrap();
        Inputs {
            newest_seq: seq,
            inputs: vec![bytes],
            ack: None,
        }
    }

    fn apply(replica: &mut Replica, delivery: &Delivery) -> Tick {
        let Ok(ServerMessage::Update(update)) = decode_server(&delivery.frame, MAX_SERVER_FRAME)
        else {
            panic!("not an update")
        };
        replica.apply(&update).expect("applies").tick
    }

    #[test]
    fn clients_on_one_baseline_share_one_buffer_and_rebuild_the_world() {
        let mut room = room();
        let (a, b, s) = (PlayerId(1), PlayerId(2), PlayerId(3));
        room.join(&joining(a, Role::Player, "p")).unwrap();
        room.join(&joining(b, Role::Player, "p")).unwrap();
        room.join(&joining(s, Role::Spectator, "p")).unwrap();
        assert_eq!(room.counts(), (3, 2));
        let mut replicas: BTreeMap<PlayerId, Replica> = [a, b, s]
            .into_iter()
            .map(|p| (p, Replica::new(Arena::SCHEMA)))
            .collect();
        for t in 1..=60u32 {
            room.receive_inputs(
                a,
                &inputs(
                    t,
                    ArenaInput {
                        move_x: 1.0,
                        move_y: 0.3,
                        aim: 0.5,
                        fire: t % 7 == 0,
                    },
                ),
            )
            .unwrap();
            room.step();
            let mut frames = Vec::new();
            room.updates(100, |player, delivery| {
                frames.push((player, delivery.clone()))
            });
            assert_eq!(frames.len(), 3);
            if t > 1 {
                // Everyone acked last tick: one shared delta buffer.
                assert!(
                    frames
                        .iter()
                        .all(|(_, d)| d.frame.as_ptr() == frames[0].1.frame.as_ptr())
                );
                assert!(!frames[0].1.full);
            } else {
                assert!(frames[0].1.full, "first update is a full snapshot");
            }
            for (player, delivery) in frames {
                let tick = apply(replicas.get_mut(&player).unwrap(), &delivery);
                assert_eq!(replicas[&player].latest(), room.world());
                room.receive_ack(player, tick);
            }
        }
    }

    #[test]
    fn spectators_see_the_world_of_delay_ticks_ago_and_never_a_newer_one() {
        const DELAY: u32 = 5;
        let mut room = room().with_spectator_delay(DELAY);
        let (a, b, s1, s2) = (PlayerId(1), PlayerId(2), PlayerId(3), PlayerId(4));
        room.join(&joining(a, Role::Player, "p")).unwrap();
        room.join(&joining(b, Role::Player, "p")).unwrap();
        room.join(&joining(s1, Role::Spectator, "s")).unwrap();
        room.join(&joining(s2, Role::Spectator, "s")).unwrap();
        let mut replicas: BTreeMap<PlayerId, Replica> = [a, b, s1, s2]
            .into_iter()
            .map(|p| (p, Replica::new(Arena::SCHEMA)))
            .collect();
        // The players' world at every tick.
        let mut worlds: BTreeMap<u32, WorldSnapshot> = BTreeMap::new();
        for t in 1..=80u32 {
            let input = ArenaInput {
                move_x: 1.0,
                move_y: -0.4,
                aim: 0.1 * t as f32,
                fire: t.is_multiple_of(5),
            };
            room.receive_inputs(a, &inputs(t, input)).unwrap();
            worlds.insert(t, room.step().clone());
            let mut frames = Vec::new();
            room.updates(0, |player, delivery| {
                frames.push((player, delivery.clone()))
            });
            let spectators: Vec<_> = frames
                .iter()
                .filter(|(p, _)| *p == s1 || *p == s2)
                .collect();
            if t < DELAY {
                assert!(spectators.is_empty(), "nothing before tick {DELAY}");
            } else {
                assert_eq!(spectators.len(), 2);
                assert_eq!(
                    spectators[0].1.frame.as_ptr(),
                    spectators[1].1.frame.as_ptr(),
                    "spectators on one baseline share a buffer"
                );
            }
            let players: Vec<_> = frames.iter().filter(|(p, _)| *p == a || *p == b).collect();
            assert_eq!(players[0].1.frame.as_ptr(), players[1].1.frame.as_ptr());
            if t > DELAY + 1 {
                assert!(!spectators[0].1.full, "deltas against their own acks");
            }
            for (player, delivery) in &frames {
                let tick = apply(replicas.get_mut(player).unwrap(), delivery);
                let expected = if *player == a || *player == b {
                    t
                } else {
                    t - DELAY
                };
                assert_eq!(tick, Tick(expected), "{player:?} at tick {t}");
                assert!(tick <= room.tick());
                let world = replicas[player].latest().unwrap();
                if expected == 0 {
                    assert_eq!(world.tick, Tick(0));
                } else {
                    assert_eq!(Some(world), worlds.get(&expected), "{player:?} at {t}");
                }
                assert!(room.receive_ack(*player, tick));
            }
        }
        assert_ne!(
            worlds[&80], worlds[&75],
            "the world moved: the delay is visible"
        );
    }

    #[test]
    fn clients_without_a_usable_ack_get_full_snapshots() {
        let mut room = room();
        room.join(&joining(PlayerId(1), Role::Player, "p")).unwrap();
        room.join(&joining(PlayerId(2), Role::Player, "p")).unwrap();
        for _ in 0..40 {
            room.step();
        }
        room.receive_ack(PlayerId(1), Tick(39));
        room.receive_ack(PlayerId(2), Tick(3)); // 37 ticks old: too old
        room.step();
        let mut got = BTreeMap::new();
        room.updates(0, |p, d| {
            got.insert(p, d.full);
        });
        assert!(!got[&PlayerId(1)]);
        assert!(got[&PlayerId(2)]);
        assert!(
            !room.receive_ack(PlayerId(1), Tick(1_000)),
            "an ack from the future is ignored"
        );
        assert!(
            !room.receive_ack(PlayerId(1), Tick(38)),
            "an older ack is ignored"
        );
    }

    #[test]
    fn stale_undecodable_and_invalid_inputs_are_dropped() {
        let mut room = room();
        let p = PlayerId(1);
        room.join(&joining(p, Role::Player, "p")).unwrap();
        let go = ArenaInput {
            move_x: 1.0,
            ..ArenaInput::default()
        };
        assert!(room.receive_inputs(p, &inputs(5, go)).unwrap() == InputVerdict::Accepted);
        assert!(
            room.receive_inputs(p, &inputs(5, go)).unwrap()
                == InputVerdict::Dropped(InputDrop::Stale),
            "duplicate"
        );
        assert!(
            room.receive_inputs(p, &inputs(4, go)).unwrap()
                == InputVerdict::Dropped(InputDrop::Stale),
            "older"
        );
        let nan = ArenaInput {
            move_x: f32::NAN,
            ..ArenaInput::default()
        };
        assert!(
            room.receive_inputs(p, &inputs(6, nan)).unwrap()
                == InputVerdict::Dropped(InputDrop::Invalid)
        );
        let garbage = Inputs {
            newest_seq: 7,
            inputs: vec![vec![0xff; 3]],
            ack: None,
        };
        assert!(
            room.receive_inputs(p, &garbage).unwrap()
                == InputVerdict::Dropped(InputDrop::Undecodable)
        );
        let empty = Inputs {
            newest_seq: 8,
            inputs: vec![],
            ack: None,
        };
        assert!(
            room.receive_inputs(p, &empty).unwrap()
                == InputVerdict::Dropped(InputDrop::Undecodable)
        );
        // The valid input still drives the player.
        let before = room.game().player(p).unwrap().position;
        room.step();
        assert!(room.game().player(p).unwrap().position.x > before.x || before.x >= 1000.0);
    }

    #[test]
    fn spectators_and_strangers_cannot_send_inputs() {
        let mut room = room();
        room.join(&joining(PlayerId(9), Role::Spectator, "p"))
            .unwrap();
        let i = inputs(1, ArenaInput::default());
        assert_eq!(
            room.receive_inputs(PlayerId(9), &i),
            Err(RoomError::NotAPlayer)
        );
        assert_eq!(
            room.receive_inputs(PlayerId(8), &i),
            Err(RoomError::NotMember)
        );
        assert_eq!(
            room.join(&joining(PlayerId(9), Role::Player, "p9")),
            Err(RoomError::AlreadyMember)
        );
        assert_eq!(
            room.leave(PlayerId(9), LeaveCause::Left),
            Some(Role::Spectator)
        );
        assert_eq!(room.leave(PlayerId(9), LeaveCause::Left), None);
    }
}
