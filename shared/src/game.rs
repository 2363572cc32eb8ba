//! The contract a studio implements to run its own game on tickwire: inputs
//! in, a fixed step, a replicated world out, and hooks for everything else
//! that happens to its room.
//!
//! # Call order
//!
//! The room owns the game and calls it from one task. Between two ticks,
//! in the order things arrived: [`Game::join`] for each client asking to
//! join, [`Game::leave`] for each member gone, [`Game::event`] for each
//! event a member sent, and [`Game::answer`] for each answer to an event
//! the game emitted. A member's messages (inputs, events, answers) are
//! taken in the order it sent them; its inputs only replace its latest
//! input, which [`Game::step`] reads. Then, at the tick: answers that timed
//! out ([`Game::answer`] with [`AnswerOutcome::TimedOut`]), [`Game::step`]
//! with every seated player's latest input, and [`Game::snapshot`]. So an
//! event that arrived before tick `n` was read is seen before step `n`,
//! and what a hook emits before or during step `n` reaches each member
//! before the update of tick `n`. [`Game::created`] runs once before any
//! of them, [`Game::disposing`] once after the last.
//!
//! Every hook but `snapshot` gets a [`RoomContext`] to act on the room:
//! answer, emit, kick, lock, set metadata, close. A game that needs none
//! of the hooks implements only `new`, `tick_rate`, `validate_input`,
//! `step` and `snapshot` (and `join` to seat its players).
//!
//! A game must be deterministic: the same seed, options, hooks and inputs
//! give the same snapshots, so a game reads no clock and no global RNG
//! (use [`SimRng`](crate::rng::SimRng)); time is the room's tick.

mod context;
mod hooks;

pub use context::{
    Audience, EmitError, EventLimits, MAX_EVENT_NAME, MAX_METADATA_KEY, MAX_METADATA_KEYS,
    MAX_METADATA_VALUE, MemberInfo, PendingAnswer, RoomAction, RoomActions, RoomContext,
};
pub use hooks::{
    Answer, AnswerOutcome, AnswerTo, EmitId, Event, Identity, JoinRequest, LeaveCause,
};

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ids::PlayerId;
use crate::protocol::Role;
use crate::schema::Schema;
use crate::snapshot::WorldSnapshot;
use crate::tick::TickRate;

/// Room options as a client sends them when creating a room: string keys and
/// values that the game parses (for example `"tick_rate" = "60"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameOptions(pub BTreeMap<String, String>);

impl GameOptions {
    /// The value for `key`, parsed, or `None` when absent.
    pub fn parse<T: std::str::FromStr>(&self, key: &'static str) -> Result<Option<T>, GameError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| GameError::BadOption {
                key: key.to_owned(),
                reason: format!("cannot parse {text:?}"),
            }),
        }
    }

    /// Fails on the first key not in `known`, so typos are not silently
    /// ignored.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), GameError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(GameError::BadOption {
                key: key.clone(),
                reason: "unknown option".into(),
            }),
            None => Ok(()),
        }
    }
}

/// One seated player's input for this tick.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerInput<I> {
    /// Whose input.
    pub player: PlayerId,
    /// The newest valid input received from that player (the previous one
    /// again when none arrived this tick).
    pub input: I,
}

/// What a game can refuse, with a reason a client is shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GameError {
    /// A room option is unknown or out of range.
    #[error("bad option {key:?}: {reason}")]
    BadOption {
        /// The option.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The game does not take this player now (full, match running, ...).
    #[error("join refused: {0}")]
    JoinRefused(String),
    /// An input was rejected (not a number, out of range, ...).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// An event's data could not be read.
    #[error("bad event data: {0}")]
    BadEvent(String),
}

/// A game tickwire can host. See the module docs for the call order.
pub trait Game: Send + Sized + 'static {
    /// One player's input for one tick, as the client sends it.
    type Input: Clone + Default + Debug + Serialize + DeserializeOwned + Send + 'static;
    /// Server-wide settings a room's game starts from (command-line
    /// overrides, for example); room options refine them.
    type Config: Clone + Debug + Default + Send + Sync + 'static;

    /// Short name, shown in room lists; the name clients create, list and
    /// quick-join by when a server runs several games.
    const NAME: &'static str;
    /// The replicated world's layout.
    const SCHEMA: Schema;
    /// Whether spectators may send events (refused with `NotAPlayer`
    /// otherwise).
    const SPECTATORS_EMIT: bool = false;

    /// A new game for a room.
    fn new(config: &Self::Config, options: &GameOptions, seed: u64) -> Result<Self, GameError>;

    /// The rate this game steps at.
    fn tick_rate(&self) -> TickRate;

    /// Checks an input before it is queued: returns it normalised, or why it
    /// is rejected. Rejected inputs are dropped and counted; the player keeps
    /// their previous input.
    fn validate_input(&self, input: Self::Input) -> Result<Self::Input, GameError>;

    /// The room exists; its first tick follows. Default: nothing.
    fn created(&mut self, ctx: &mut RoomContext<'_>) {
        let _ = ctx;
    }

    /// A client asks to join, as a player (a seat) or a spectator; an
    /// error refuses it, and the client is told the error's words.
    /// Default: everyone is welcome.
    fn join(
        &mut self,
        ctx: &mut RoomContext<'_>,
        request: &JoinRequest<'_>,
    ) -> Result<(), GameError> {
        let _ = (ctx, request);
        Ok(())
    }

    /// A member's connection dropped; its place is kept for the grace
    /// period, and [`Game::reconnected`] or [`Game::leave`] follows.
    /// Default: nothing (its avatar stays as it is, its last input held).
    fn dropped(&mut self, ctx: &mut RoomContext<'_>, player: PlayerId) {
        let _ = (ctx, player);
    }

    /// A dropped member came back within the grace period, with its seat.
    /// Default: nothing.
    fn reconnected(&mut self, ctx: &mut RoomContext<'_>, player: PlayerId) {
        let _ = (ctx, player);
    }

    /// A member left the room for good, and why. Default: nothing.
    fn leave(
        &mut self,
        ctx: &mut RoomContext<'_>,
        player: PlayerId,
        role: Role,
        cause: LeaveCause,
    ) {
        let _ = (ctx, player, role, cause);
    }

    /// A member sent an event. Nothing is relayed unless the game relays
    /// it ([`RoomContext::relay`]); an event that wants an answer should
    /// get one ([`RoomContext::answer`] or [`RoomContext::answer_error`]).
    /// Default: refuses it, answering with an error when asked to.
    fn event(&mut self, ctx: &mut RoomContext<'_>, event: Event) {
        if let Some(to) = event.answer {
            ctx.answer_error(to, format!("{} takes no events", Self::NAME));
        }
    }

    /// The answer to an event the game emitted with
    /// [`RoomContext::emit_with_answer`], or that none came in time, or
    /// that the member left. Default: nothing.
    fn answer(&mut self, ctx: &mut RoomContext<'_>, answer: Answer) {
        let _ = (ctx, answer);
    }

    /// Advances one fixed step with each seated player's latest input,
    /// sorted by player id.
    fn step(&mut self, ctx: &mut RoomContext<'_>, inputs: &[PlayerInput<Self::Input>]);

    /// Pushes every replicated entity into `out`, which the caller has
    /// cleared and will finish.
    fn snapshot(&self, out: &mut WorldSnapshot);

    /// The room is about to be disposed (empty past its grace period,
    /// closed, or the server is stopping); its members are gone. What it
    /// emits now reaches no one. Default: nothing.
    fn disposing(&mut self, ctx: &mut RoomContext<'_>) {
        let _ = ctx;
    }
}
