//! The contract a studio implements to run its own game on tickwire: inputs
//! in, a fixed step, a replicated world out.
//!
//! The room owns the game and calls it from one task, in this order each
//! tick: [`Game::join`] / [`Game::leave`] for seats that changed, then
//! [`Game::step`] with every seated player's latest input, then
//! [`Game::snapshot`]. A game must be deterministic: the same seed, options
//! and inputs give the same snapshots, so a game reads no clock and no global
//! RNG (use [`SimRng`](crate::rng::SimRng)).

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ids::PlayerId;
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
}

/// A game tickwire can host. See the module docs for the call order.
pub trait Game: Send + Sized + 'static {
    /// One player's input for one tick, as the client sends it.
    type Input: Clone + Default + Debug + Serialize + DeserializeOwned + Send + 'static;
    /// Server-wide settings a room's game starts from (command-line
    /// overrides, for example); room options refine them.
    type Config: Clone + Debug + Default + Send + Sync + 'static;

    /// Short name, shown in room lists.
    const NAME: &'static str;
    /// The replicated world's layout.
    const SCHEMA: Schema;

    /// A new game for a room.
    fn new(config: &Self::Config, options: &GameOptions, seed: u64) -> Result<Self, GameError>;

    /// The rate this game steps at.
    fn tick_rate(&self) -> TickRate;

    /// Checks an input before it is queued: returns it normalised, or why it
    /// is rejected. Rejected inputs are dropped and counted; the player keeps
    /// their previous input.
    fn validate_input(&self, input: Self::Input) -> Result<Self::Input, GameError>;

    /// A player takes a seat. An error refuses the seat.
    fn join(&mut self, player: PlayerId) -> Result<(), GameError>;

    /// A player leaves their seat for good.
    fn leave(&mut self, player: PlayerId);

    /// Advances one fixed step with each seated player's latest input,
    /// sorted by player id.
    fn step(&mut self, inputs: &[PlayerInput<Self::Input>]);

    /// Pushes every replicated entity into `out`, which the caller has
    /// cleared and will finish.
    fn snapshot(&self, out: &mut WorldSnapshot);
}
