//! What a game is told about its room, beyond inputs: who asks to join,
//! who left and why, the events members send, and the answers to the
//! events it emitted.

use serde::de::DeserializeOwned;

use super::{GameError, GameOptions};
use crate::ids::PlayerId;
use crate::protocol::{ErrorCode, Role};

/// Who a client is, as the server's authenticator verified it (the
/// claims of its JSON Web Token, or what an embedder's authenticator
/// says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The account: the token's `sub`.
    pub subject: String,
    /// A display name the issuer vouches for, if any.
    pub name: Option<String>,
    /// Every other claim, as JSON.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A client asks to join the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinRequest<'a> {
    /// The player id the client has on this server.
    pub player: PlayerId,
    /// The display name it gave in its `Hello`.
    pub name: &'a str,
    /// As a player (a seat) or a spectator.
    pub role: Role,
    /// The options it joined with (a team, a loadout, ...).
    pub options: &'a GameOptions,
    /// Who it is, when the server authenticates clients.
    pub identity: Option<&'a Identity>,
}

/// Why a member left the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaveCause {
    /// The client asked to leave (or closed its session).
    Left,
    /// The connection was lost or broken (dropped, malformed, flooding).
    Disconnected,
    /// The game kicked it.
    Kicked,
    /// The client went silent past the idle timeout, or fell too far
    /// behind reading.
    TimedOut,
    /// The room closed (the game closed it, or the server shut down).
    RoomClosed,
}

impl LeaveCause {
    /// A short snake-case name for logs and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Disconnected => "disconnected",
            Self::Kicked => "kicked",
            Self::TimedOut => "timed_out",
            Self::RoomClosed => "room_closed",
        }
    }
}

/// Where the answer to a member's event goes: the member and its event's
/// ack id. [`super::RoomContext::answer`] takes it; an event that wants
/// no answer has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnswerTo {
    /// Who asked.
    pub player: PlayerId,
    /// The event's ack id.
    pub ack_id: u32,
}

/// An event a member sent the room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The sender.
    pub from: PlayerId,
    /// The sender's role.
    pub role: Role,
    /// The event's name (1..=64 bytes).
    pub name: String,
    /// Its data, as sent.
    pub data: Vec<u8>,
    /// Present when the sender waits for an answer.
    pub answer: Option<AnswerTo>,
}

impl Event {
    /// The data as JSON of type `T` (what the typed emit helpers of the
    /// client libraries send).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GameError> {
        serde_json::from_slice(&self.data).map_err(|e| GameError::BadEvent(e.to_string()))
    }
}

/// The id of an event the game emitted expecting an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmitId(pub u32);

/// The answer to an event the game emitted with
/// [`super::RoomContext::emit_with_answer`], or why none came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The emit it answers.
    pub id: EmitId,
    /// The member asked.
    pub from: PlayerId,
    /// What became of it.
    pub outcome: AnswerOutcome,
}

/// What became of an event the game emitted expecting an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// The member answered with this data.
    Data(Vec<u8>),
    /// The member answered with an error.
    Error {
        /// Its code.
        code: ErrorCode,
        /// Its words.
        message: String,
    },
    /// No answer came within the timeout.
    TimedOut,
    /// The member left before answering.
    Gone,
}

impl AnswerOutcome {
    /// The data as JSON of type `T`; `None` unless the member answered
    /// with data.
    pub fn json<T: DeserializeOwned>(&self) -> Option<Result<T, GameError>> {
        match self {
            Self::Data(data) => {
                Some(serde_json::from_slice(data).map_err(|e| GameError::BadEvent(e.to_string())))
            }
            _ => None,
        }
    }
}
