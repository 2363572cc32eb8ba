//! In-room messages: inputs, acknowledgements, world updates and custom
//! events.

use serde::{Deserialize, Serialize};

use crate::tick::Tick;

use super::ErrorCode;

/// Game inputs, oldest first; the last one has sequence number
/// `newest_seq` and each earlier one the number before. Sending the last few
/// again in every message makes a lost datagram cost nothing; the server
/// ignores the ones it has seen. A client that sends its input as each
/// update arrives puts its acknowledgement in the same message (`ack`), so
/// one frame a tick goes upstream instead of two.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Sequence number of the last input (a per-session counter).
    pub newest_seq: u32,
    /// Encoded game inputs (see [`crate::codec::encode_value`]).
    #[serde(deserialize_with = "crate::codec::capped::vec_of_bytes")]
    pub inputs: Vec<Vec<u8>>,
    /// The newest world state received, as in [`Ack`].
    pub ack: Option<Tick>,
}

/// The newest world state the client holds; the server encodes the next
/// updates against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Tick of that state.
    pub tick: Tick,
}

/// A custom event, in either direction, like Socket.IO's
/// `emit(event, data, ack)`. A client's event goes to the room's game
/// only (the game relays it if it wants to); a server event comes from
/// the game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    /// Event name (1..=64 bytes).
    pub name: String,
    /// Payload, meaning up to the game (the typed helpers of the game API
    /// and the client libraries put JSON here).
    #[serde(deserialize_with = "crate::codec::capped::vec")]
    pub data: Vec<u8>,
    /// When present, the receiver answers with an [`EventReply`] carrying
    /// this id (ids are the sender's own counter).
    pub ack_id: Option<u32>,
}

/// The answer to a [`RoomEvent`] that carried an `ack_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventReply {
    /// The event's `ack_id`.
    pub ack_id: u32,
    /// The answer: data, or why there is none.
    pub outcome: EventOutcome,
}

/// What an event's answer says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventOutcome {
    /// The receiver handled the event; its answer.
    Data(#[serde(deserialize_with = "crate::codec::capped::vec")] Vec<u8>),
    /// The event was refused (too large, too many, not allowed) or its
    /// handler failed.
    Error {
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
}

/// One tick's world for one client: a delta against a state the client
/// acknowledged, or a full snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The tick this update brings the client to.
    pub tick: Tick,
    /// The tick of the state the delta is against; `None` for a full
    /// snapshot (a delta against the empty world).
    pub baseline: Option<Tick>,
    /// How late the server started this tick, in microseconds after it was
    /// due (see [`Joined::tick_zero_unix_us`](super::Joined)).
    pub lateness_us: u32,
    /// [`WorldSnapshot::checksum`](crate::snapshot::WorldSnapshot::checksum)
    /// of the world after the update.
    pub checksum: u32,
    /// The delta bitstream ([`crate::delta`]).
    pub delta: Vec<u8>,
}
