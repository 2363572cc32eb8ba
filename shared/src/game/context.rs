//! The room as a game acts on it: [`RoomContext`], handed to every hook.
//! It is a queue, not a connection: what the game asks (emit, answer,
//! kick, lock, metadata, close) is checked against the room's bounds
//! at once, an error returned when refused, and queued in
//! [`RoomActions`] for the host (the server's room) to carry out when the
//! hook returns. Time is the room's tick, so a game stays deterministic.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

use super::hooks::{AnswerTo, EmitId};
use crate::ids::PlayerId;
use crate::protocol::{ErrorCode, EventOutcome, Metadata, Role, RoomEvent};
use crate::tick::{Tick, TickRate};

/// Longest event name, bytes (both directions).
pub const MAX_EVENT_NAME: usize = 64;
/// Most metadata keys a room has.
pub const MAX_METADATA_KEYS: usize = 16;
/// Longest metadata key, bytes.
pub const MAX_METADATA_KEY: usize = 32;
/// Longest metadata value, bytes.
pub const MAX_METADATA_VALUE: usize = 128;
/// Bytes an emitted event costs on top of its name and data (kind byte,
/// lengths, ack id), for the room's byte budget.
const EVENT_OVERHEAD: usize = 8;

/// The bounds on what a room's game emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventLimits {
    /// Largest event data, bytes (both directions).
    pub max_data: usize,
    /// Bytes a second the room may emit, summed over recipients (an event
    /// to 16 members costs 16 times its size); a second's worth may go at
    /// once.
    pub room_bytes_per_second: u32,
    /// Most emitted events waiting for an answer at once.
    pub max_pending_answers: usize,
}

impl Default for EventLimits {
    fn default() -> Self {
        Self {
            max_data: 4096,
            room_bytes_per_second: 256 * 1024,
            max_pending_answers: 1024,
        }
    }
}

/// Who an emitted event goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// One member.
    One(PlayerId),
    /// Every member.
    All,
    /// Every member but one (the sender of what is relayed, usually).
    AllBut(PlayerId),
    /// The seated players.
    Players,
    /// The spectators.
    Spectators,
}

impl Audience {
    /// Whether a member with `role` is in the audience.
    pub fn includes(self, player: PlayerId, role: Role) -> bool {
        match self {
            Self::One(p) => p == player,
            Self::All => true,
            Self::AllBut(p) => p != player,
            Self::Players => role == Role::Player,
            Self::Spectators => role == Role::Spectator,
        }
    }
}

/// Why the room refused what a game asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The event name is empty or too long.
    #[error("event names are 1..={max} bytes")]
    BadName {
        /// The limit.
        max: usize,
    },
    /// The event data is too large.
    #[error("event data is {len} bytes; at most {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The room emitted its bytes for now.
    #[error("the room emits at most {bytes_per_second} bytes a second")]
    OverBudget {
        /// The limit.
        bytes_per_second: u32,
    },
    /// No such member.
    #[error("{0} is not a member of this room")]
    NotAMember(PlayerId),
    /// Too many emits wait for their answers.
    #[error("at most {max} emitted events may wait for answers")]
    TooManyPending {
        /// The limit.
        max: usize,
    },
    /// The payload could not be encoded as JSON.
    #[error("cannot encode the payload: {0}")]
    Encode(String),
    /// A metadata key or value is out of bounds, or there are too many
    /// keys.
    #[error(
        "metadata: at most {MAX_METADATA_KEYS} keys of 1..={MAX_METADATA_KEY} bytes, \
         values of at most {MAX_METADATA_VALUE}"
    )]
    BadMetadata,
}

impl EmitError {
    /// A short snake-case name for logs and metric labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::BadName { .. } => "bad_name",
            Self::TooLarge { .. } => "too_large",
            Self::OverBudget { .. } => "over_budget",
            Self::NotAMember(_) => "not_a_member",
            Self::TooManyPending { .. } => "too_many_pending",
            Self::Encode(_) => "encode",
            Self::BadMetadata => "bad_metadata",
        }
    }
}

/// What a game asked of its room, for the host to carry out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomAction {
    /// Send `event` to `to` (with an ack id when it expects an answer).
    Emit {
        /// The audience, as the game said it.
        to: Audience,
        /// The members it meant when the game emitted, by id.
        recipients: Vec<PlayerId>,
        /// The event as it goes on the wire.
        event: RoomEvent,
    },
    /// Answer a member's event.
    Answer {
        /// The member and its event's ack id.
        to: AnswerTo,
        /// Data or an error.
        outcome: EventOutcome,
    },
    /// Remove a member, telling it why.
    Kick {
        /// Who.
        player: PlayerId,
        /// Why, as the client is told.
        message: String,
    },
    /// Lock (true) or unlock the room.
    Lock(bool),
    /// The room's public metadata changed to this.
    Metadata(Metadata),
    /// Close the room: every member is removed with this message, then the
    /// room is disposed.
    Close {
        /// Why, as the clients are told.
        message: String,
    },
}

/// A room's member as its game sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// Player or spectator.
    pub role: Role,
    /// Display name.
    pub name: String,
}

/// An emit waiting for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingAnswer {
    /// The member asked.
    pub player: PlayerId,
    /// The first tick at which it has timed out.
    pub deadline: Tick,
}

/// The room's side of its context, kept by the host between hooks: the
/// members, the queued actions, emits waiting for answers, the byte
/// budget, the lock and the metadata.
#[derive(Clone, Debug)]
pub struct RoomActions {
    limits: EventLimits,
    members: BTreeMap<PlayerId, MemberInfo>,
    actions: VecDeque<RoomAction>,
    pending: BTreeMap<EmitId, PendingAnswer>,
    next_emit: u32,
    budget: u64,
    locked: bool,
    closing: bool,
    metadata: Metadata,
    refused: Vec<EmitError>,
    reconnect_grace: Option<Duration>,
}

impl RoomActions {
    /// A room with no member, under `limits`, its budget full.
    pub fn new(limits: EventLimits) -> Self {
        Self {
            limits,
            members: BTreeMap::new(),
            actions: VecDeque::new(),
            pending: BTreeMap::new(),
            next_emit: 1,
            budget: u64::from(limits.room_bytes_per_second),
            locked: false,
            closing: false,
            metadata: Metadata::new(),
            refused: Vec::new(),
            reconnect_grace: None,
        }
    }

    /// The members, by id.
    pub fn members(&self) -> &BTreeMap<PlayerId, MemberInfo> {
        &self.members
    }

    /// A member joined (after the game's join hook agreed).
    pub fn add_member(&mut self, player: PlayerId, info: MemberInfo) {
        self.members.insert(player, info);
    }

    /// A member left; the emits waiting for its answers are returned (the
    /// game hears they are [`super::AnswerOutcome::Gone`]).
    pub fn remove_member(&mut self, player: PlayerId) -> Vec<EmitId> {
        self.members.remove(&player);
        let gone: Vec<EmitId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.player == player)
            .map(|(&id, _)| id)
            .collect();
        for id in &gone {
            self.pending.remove(id);
        }
        gone
    }

    /// The next action the game asked for, in order.
    pub fn pop(&mut self) -> Option<RoomAction> {
        self.actions.pop_front()
    }

    /// What the room refused since last asked, for metrics and logs.
    pub fn take_refused(&mut self) -> Vec<EmitError> {
        std::mem::take(&mut self.refused)
    }

    /// A member's answer to emit `id`: the pending entry, if `player` was
    /// the one asked and it has not timed out.
    pub fn take_pending(&mut self, id: EmitId, player: PlayerId) -> Option<PendingAnswer> {
        match self.pending.get(&id) {
            Some(p) if p.player == player => self.pending.remove(&id),
            _ => None,
        }
    }

    /// The emits whose answers are due by `tick` and did not come, removed.
    pub fn timed_out(&mut self, tick: Tick) -> Vec<(EmitId, PlayerId)> {
        let due: Vec<(EmitId, PlayerId)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= tick)
            .map(|(&id, p)| (id, p.player))
            .collect();
        for (id, _) in &due {
            self.pending.remove(id);
        }
        due
    }

    /// One tick passed: the byte budget refills by a tick's share, up to
    /// a second's worth.
    pub fn refill(&mut self, tick_rate: TickRate) {
        let per_second = u64::from(self.limits.room_bytes_per_second);
        let share = per_second / u64::from(tick_rate.hz().max(1));
        self.budget = (self.budget + share.max(1)).min(per_second);
    }

    /// Whether the game locked the room.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Whether the game closed the room.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// The room's public metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// How long this room keeps a dropped member's seat, when its game
    /// chose (at most the server's grace).
    pub fn reconnect_grace(&self) -> Option<Duration> {
        self.reconnect_grace
    }

    fn refuse(&mut self, error: EmitError) -> EmitError {
        self.refused.push(error.clone());
        error
    }

    fn check_event(&mut self, name: &str, data: &[u8]) -> Result<(), EmitError> {
        if name.is_empty() || name.len() > MAX_EVENT_NAME {
            return Err(self.refuse(EmitError::BadName {
                max: MAX_EVENT_NAME,
            }));
        }
        if data.len() > self.limits.max_data {
            return Err(self.refuse(EmitError::TooLarge {
                len: data.len(),
                max: self.limits.max_data,
            }));
        }
        Ok(())
    }

    /// Spends the budget for `bytes` to each of `recipients`, or refuses.
    fn spend(&mut self, bytes: usize, recipients: usize) -> Result<(), EmitError> {
        let cost = (bytes + EVENT_OVERHEAD) as u64 * recipients as u64;
        if cost > self.budget {
            return Err(self.refuse(EmitError::OverBudget {
                bytes_per_second: self.limits.room_bytes_per_second,
            }));
        }
        self.budget -= cost;
        Ok(())
    }
}

/// The room, as a hook acts on it. See the module doc.
#[derive(Debug)]
pub struct RoomContext<'a> {
    tick: Tick,
    tick_rate: TickRate,
    room: &'a mut RoomActions,
}

impl<'a> RoomContext<'a> {
    /// The context of a hook running at `tick` (the last tick stepped).
    pub fn new(tick: Tick, tick_rate: TickRate, room: &'a mut RoomActions) -> Self {
        Self {
            tick,
            tick_rate,
            room,
        }
    }

    /// The last tick the room stepped (during `step`, the one before the
    /// tick being stepped).
    pub fn tick(&self) -> Tick {
        self.tick
    }

    /// The room's members, by id (in a join hook, the one asking among
    /// them: what is emitted to it reaches it once it is in, and is
    /// dropped if the hook refuses it; in a leave hook, the one leaving is
    /// gone).
    pub fn members(&self) -> &BTreeMap<PlayerId, MemberInfo> {
        &self.room.members
    }

    /// Sends `data` as JSON in event `name` to `to`.
    pub fn emit<T: Serialize + ?Sized>(
        &mut self,
        to: Audience,
        name: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        let data = serde_json::to_vec(data).map_err(|e| EmitError::Encode(e.to_string()))?;
        self.emit_bytes(to, name, data)
    }

    /// Sends `data` as is in event `name` to `to`. Refused when the name
    /// or data is out of bounds, or the room's byte budget is spent.
    pub fn emit_bytes(&mut self, to: Audience, name: &str, data: Vec<u8>) -> Result<(), EmitError> {
        self.room.check_event(name, &data)?;
        let recipients: Vec<PlayerId> = self
            .room
            .members
            .iter()
            .filter(|(p, m)| to.includes(**p, m.role))
            .map(|(&p, _)| p)
            .collect();
        if let Audience::One(player) = to
            && recipients.is_empty()
        {
            return Err(self.room.refuse(EmitError::NotAMember(player)));
        }
        self.room.spend(name.len() + data.len(), recipients.len())?;
        self.room.actions.push_back(RoomAction::Emit {
            to,
            recipients,
            event: RoomEvent {
                name: name.to_owned(),
                data,
                ack_id: None,
            },
        });
        Ok(())
    }

    /// Sends `data` as JSON in event `name` to one member, who is asked
    /// to answer within `timeout` (rounded up to whole ticks): the game's
    /// [`super::Game::answer`] hook hears the answer, or that it timed out
    /// or the member left.
    pub fn emit_with_answer<T: Serialize + ?Sized>(
        &mut self,
        to: PlayerId,
        name: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<EmitId, EmitError> {
        let data = serde_json::to_vec(data).map_err(|e| EmitError::Encode(e.to_string()))?;
        self.emit_bytes_with_answer(to, name, data, timeout)
    }

    /// [`RoomContext::emit_with_answer`] with data as is.
    pub fn emit_bytes_with_answer(
        &mut self,
        to: PlayerId,
        name: &str,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<EmitId, EmitError> {
        self.room.check_event(name, &data)?;
        if !self.room.members.contains_key(&to) {
            return Err(self.room.refuse(EmitError::NotAMember(to)));
        }
        let max = self.room.limits.max_pending_answers;
        if self.room.pending.len() >= max {
            return Err(self.room.refuse(EmitError::TooManyPending { max }));
        }
        self.room.spend(name.len() + data.len(), 1)?;
        let id = EmitId(self.room.next_emit);
        self.room.next_emit = self.room.next_emit.wrapping_add(1).max(1);
        let period = self.tick_rate.period().as_nanos().max(1);
        let ticks = timeout
            .as_nanos()
            .div_ceil(period)
            .clamp(1, u128::from(u32::MAX / 2));
        self.room.pending.insert(
            id,
            PendingAnswer {
                player: to,
                deadline: Tick(self.tick.0.saturating_add(ticks as u32)),
            },
        );
        self.room.actions.push_back(RoomAction::Emit {
            to: Audience::One(to),
            recipients: vec![to],
            event: RoomEvent {
                name: name.to_owned(),
                data,
                ack_id: Some(id.0),
            },
        });
        Ok(id)
    }

    /// Relays a member's event, as it came, to every other member (the
    /// opt-in relay: nothing is relayed unless the game asks).
    pub fn relay(&mut self, event: &super::Event) -> Result<(), EmitError> {
        self.emit_bytes(
            Audience::AllBut(event.from),
            &event.name,
            event.data.clone(),
        )
    }

    /// Answers a member's event with `data` as JSON.
    pub fn answer<T: Serialize + ?Sized>(&mut self, to: AnswerTo, data: &T) {
        match serde_json::to_vec(data) {
            Ok(data) => self.answer_bytes(to, data),
            Err(e) => self.answer_error(to, format!("cannot encode the answer: {e}")),
        }
    }

    /// Answers a member's event with `data` as is. Answers count towards
    /// the room's byte budget but are never refused for it (the client's
    /// own event rate bounds them).
    pub fn answer_bytes(&mut self, to: AnswerTo, data: Vec<u8>) {
        let cost = (data.len() + EVENT_OVERHEAD) as u64;
        self.room.budget = self.room.budget.saturating_sub(cost);
        self.room.actions.push_back(RoomAction::Answer {
            to,
            outcome: EventOutcome::Data(data),
        });
    }

    /// Answers a member's event with an error (code
    /// [`ErrorCode::EventRefused`]).
    pub fn answer_error(&mut self, to: AnswerTo, message: impl Into<String>) {
        self.room.actions.push_back(RoomAction::Answer {
            to,
            outcome: EventOutcome::Error {
                code: ErrorCode::EventRefused,
                message: message.into(),
            },
        });
    }

    /// Removes a member; it is told `reason`, and the game's leave hook
    /// hears [`super::LeaveCause::Kicked`].
    pub fn kick(&mut self, player: PlayerId, reason: impl Into<String>) {
        self.room.actions.push_back(RoomAction::Kick {
            player,
            message: reason.into(),
        });
    }

    /// Locks the room: no new member joins, and it is neither listed nor
    /// quick-joined, until unlocked.
    pub fn lock(&mut self) {
        if !self.room.locked {
            self.room.locked = true;
            self.room.actions.push_back(RoomAction::Lock(true));
        }
    }

    /// Unlocks the room.
    pub fn unlock(&mut self) {
        if self.room.locked {
            self.room.locked = false;
            self.room.actions.push_back(RoomAction::Lock(false));
        }
    }

    /// Whether the room is locked.
    pub fn is_locked(&self) -> bool {
        self.room.locked
    }

    /// The room's public metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.room.metadata
    }

    /// Sets one metadata key (shown in listings, matched by filters).
    pub fn set_metadata(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), EmitError> {
        let (key, value) = (key.into(), value.into());
        let fits = !key.is_empty()
            && key.len() <= MAX_METADATA_KEY
            && value.len() <= MAX_METADATA_VALUE
            && (self.room.metadata.len() < MAX_METADATA_KEYS
                || self.room.metadata.contains_key(&key));
        if !fits {
            return Err(self.room.refuse(EmitError::BadMetadata));
        }
        if self.room.metadata.get(&key) != Some(&value) {
            self.room.metadata.insert(key, value);
            let metadata = self.room.metadata.clone();
            self.room.actions.push_back(RoomAction::Metadata(metadata));
        }
        Ok(())
    }

    /// Removes one metadata key.
    pub fn remove_metadata(&mut self, key: &str) {
        if self.room.metadata.remove(key).is_some() {
            let metadata = self.room.metadata.clone();
            self.room.actions.push_back(RoomAction::Metadata(metadata));
        }
    }

    /// How long this room keeps a dropped member's seat for a resume: at
    /// most the server's `reconnect_grace_ms` (a longer one is cut to it);
    /// zero frees the seat as soon as the connection drops (a match that
    /// cannot wait). Applies to drops from now on.
    pub fn set_reconnect_grace(&mut self, grace: Duration) {
        self.room.reconnect_grace = Some(grace);
    }

    /// Closes the room: every member is removed and told `reason`, the
    /// game's leave hook hears [`super::LeaveCause::RoomClosed`] for each,
    /// then its dispose hook runs.
    pub fn close(&mut self, reason: impl Into<String>) {
        if !self.room.closing {
            self.room.closing = true;
            self.room.actions.push_back(RoomAction::Close {
                message: reason.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomActions {
        let mut room = RoomActions::new(EventLimits {
            max_data: 16,
            room_bytes_per_second: 300,
            max_pending_answers: 2,
        });
        for (id, role) in [(1, Role::Player), (2, Role::Player), (3, Role::Spectator)] {
            room.add_member(
                PlayerId(id),
                MemberInfo {
                    role,
                    name: format!("p{id}"),
                },
            );
        }
        room
    }

    fn hz10() -> TickRate {
        TickRate::new(10).expect("10 Hz")
    }

    #[test]
    fn emits_are_bounded_by_name_size_and_the_room_budget() {
        let mut room = room();
        let mut ctx = RoomContext::new(Tick(5), hz10(), &mut room);
        assert_eq!(
            ctx.emit_bytes(Audience::All, "", vec![]),
            Err(EmitError::BadName { max: 64 })
        );
        assert!(matches!(
            ctx.emit_bytes(Audience::All, "x", vec![0; 17]),
            Err(EmitError::TooLarge { len: 17, max: 16 })
        ));
        // 3 recipients x (4 + 16 + 8) = 84 bytes a time: three fit in 300.
        for _ in 0..3 {
            ctx.emit_bytes(Audience::All, "blob", vec![0; 16]).unwrap();
        }
        assert_eq!(
            ctx.emit_bytes(Audience::All, "blob", vec![0; 16]),
            Err(EmitError::OverBudget {
                bytes_per_second: 300
            })
        );
        // Two players cost 56: what is left (48) is not enough; a tick's
        // refill (30) is.
        assert!(
            ctx.emit_bytes(Audience::Players, "blob", vec![0; 16])
                .is_err()
        );
        room.refill(hz10());
        let mut ctx = RoomContext::new(Tick(6), hz10(), &mut room);
        ctx.emit_bytes(Audience::Players, "blob", vec![0; 16])
            .unwrap();
        assert_eq!(room.take_refused().len(), 4);
        assert_eq!(
            std::iter::from_fn(|| room.pop()).count(),
            4,
            "only accepted emits are queued"
        );
    }

    #[test]
    fn answers_are_awaited_until_their_deadline_tick_or_the_member_leaves() {
        let mut room = room();
        let mut ctx = RoomContext::new(Tick(10), hz10(), &mut room);
        // 250 ms at 10 Hz: 3 ticks.
        let a = ctx
            .emit_with_answer(PlayerId(1), "ready?", &true, Duration::from_millis(250))
            .unwrap();
        let b = ctx
            .emit_with_answer(PlayerId(2), "ready?", &true, Duration::from_secs(1))
            .unwrap();
        assert_eq!(
            ctx.emit_with_answer(PlayerId(3), "ready?", &true, Duration::from_secs(1)),
            Err(EmitError::TooManyPending { max: 2 })
        );
        assert_eq!(
            ctx.emit_with_answer(PlayerId(9), "ready?", &true, Duration::from_secs(1)),
            Err(EmitError::NotAMember(PlayerId(9)))
        );
        assert_ne!(a, b);
        let Some(RoomAction::Emit { to, event, .. }) = room.pop() else {
            panic!("an emit")
        };
        assert_eq!(to, Audience::One(PlayerId(1)));
        assert_eq!(event.ack_id, Some(a.0));
        assert_eq!(event.data, b"true");
        assert!(room.timed_out(Tick(12)).is_empty());
        assert_eq!(room.timed_out(Tick(13)), vec![(a, PlayerId(1))]);
        assert_eq!(room.take_pending(a, PlayerId(1)), None, "timed out");
        assert_eq!(room.take_pending(b, PlayerId(1)), None, "asked of 2");
        assert_eq!(room.remove_member(PlayerId(2)), vec![b]);
        assert_eq!(room.take_pending(b, PlayerId(2)), None);
    }

    #[test]
    fn lock_metadata_and_close_are_queued_once_and_bounded() {
        let mut room = room();
        let mut ctx = RoomContext::new(Tick(0), hz10(), &mut room);
        ctx.lock();
        ctx.lock();
        ctx.set_metadata("map", "dunes").unwrap();
        ctx.set_metadata("map", "dunes").unwrap();
        assert_eq!(ctx.set_metadata("", "x"), Err(EmitError::BadMetadata));
        assert_eq!(
            ctx.set_metadata("k", "v".repeat(MAX_METADATA_VALUE + 1)),
            Err(EmitError::BadMetadata)
        );
        for i in 1..MAX_METADATA_KEYS {
            ctx.set_metadata(format!("k{i}"), "v").unwrap();
        }
        assert_eq!(
            ctx.set_metadata("one_more", "v"),
            Err(EmitError::BadMetadata)
        );
        ctx.set_metadata("map", "ice").unwrap();
        ctx.close("over");
        ctx.close("again");
        assert!(room.is_locked() && room.is_closing());
        let actions: Vec<RoomAction> = std::iter::from_fn(|| room.pop()).collect();
        assert_eq!(actions[0], RoomAction::Lock(true));
        assert_eq!(
            actions
                .iter()
                .filter(|a| matches!(a, RoomAction::Close { .. }))
                .count(),
            1
        );
        assert_eq!(room.metadata()["map"], "ice");
    }
}
