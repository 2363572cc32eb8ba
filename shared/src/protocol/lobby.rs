//! Handshake and lobby messages: hello, rooms, joining and leaving.

use serde::{Deserialize, Serialize};

use crate::game::GameOptions;
use crate::ids::{PlayerId, RoomCode, RoomId};
use crate::tick::{Tick, TickRate};

/// A secret that lets a client take its seat back after a disconnect.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResumeToken(pub [u8; 16]);

impl std::fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeToken(..)")
    }
}

/// The first message of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal the server's [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION).
    pub protocol_version: u16,
    /// A display name (1..=32 bytes of UTF-8).
    pub client_name: String,
    /// An opaque ticket for the server's authenticator, if it has one.
    pub auth_ticket: Option<String>,
    /// Present to resume an earlier session within its grace period.
    pub resume_token: Option<ResumeToken>,
}

/// The handshake is accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's protocol version.
    pub protocol_version: u16,
    /// Who the client is on this server.
    pub player: PlayerId,
    /// Keep it to resume after a disconnect.
    pub resume_token: ResumeToken,
    /// Whether an earlier session was resumed (a [`Joined`] follows when it
    /// held a seat).
    pub resumed: bool,
    /// How often the server pings, in milliseconds.
    pub heartbeat_interval_ms: u32,
    /// How long a dropped session's seat is kept, in milliseconds.
    pub reconnect_grace_ms: u32,
}

/// The handshake is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Machine-readable reason.
    pub reason: super::CloseReason,
    /// Human-readable detail.
    pub message: String,
}

/// Who may find and join a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Visibility {
    /// Listed, quick-joinable, joinable by id or code.
    Public,
    /// Not listed; joinable by invite code only.
    Private,
}

/// How a client takes part in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Has a seat and sends inputs.
    Player,
    /// Receives the world; sends no inputs; takes no seat.
    Spectator,
}

/// A room as the lobby describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// Room id.
    pub id: RoomId,
    /// Invite code; only shown to members and the creator.
    pub code: Option<RoomCode>,
    /// Display name.
    pub name: String,
    /// The game it runs.
    pub game: String,
    /// Public or private.
    pub visibility: Visibility,
    /// Seated players.
    pub players: u16,
    /// Seats in all.
    pub max_players: u16,
    /// Spectators watching.
    pub spectators: u16,
    /// The options it was created with.
    pub options: GameOptions,
}

/// Asks for the public rooms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRooms {
    /// Echoed in the answer.
    pub request_id: u32,
}

/// Public rooms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    /// The request answered.
    pub request_id: u32,
    /// The rooms, by id.
    pub rooms: Vec<RoomInfo>,
}

/// Creates a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    /// Echoed in the answer.
    pub request_id: u32,
    /// Display name (1..=64 bytes).
    pub name: String,
    /// Public or private.
    pub visibility: Visibility,
    /// Seats (1..= the server's limit).
    pub max_players: u16,
    /// Game options.
    pub options: GameOptions,
    /// Join the new room right away in this role.
    pub join_as: Option<Role>,
}

/// A room was created (and not joined).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCreated {
    /// The request answered.
    pub request_id: u32,
    /// The new room, with its invite code.
    pub room: RoomInfo,
}

/// Which room to join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomTarget {
    /// By id (public rooms only).
    Id(RoomId),
    /// By invite code (any room).
    Code(RoomCode),
}

/// Joins a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRoom {
    /// Echoed in the answer.
    pub request_id: u32,
    /// The room.
    pub target: RoomTarget,
    /// As a player or a spectator.
    pub role: Role,
}

/// Joins the public room with a free seat that has the most players, or
/// creates one with these options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickJoin {
    /// Echoed in the answer.
    pub request_id: u32,
    /// Options a matching room must have (and a new room gets).
    pub options: GameOptions,
}

/// Leaves the current room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveRoom {
    /// Echoed in the answer.
    pub request_id: u32,
}

/// The client is in a room. Updates follow, the first one a full snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// The request answered; `None` when the seat came back by resuming.
    pub request_id: Option<u32>,
    /// The room.
    pub room: RoomInfo,
    /// As what.
    pub role: Role,
    /// The room's tick rate.
    pub tick_rate: TickRate,
    /// When the room's tick 0 was due, in microseconds since the Unix
    /// epoch. Tick `n` is due at `tick_zero_unix_us + n * period`; an
    /// update's `lateness_us` is added to that to get the server's tick
    /// start time.
    pub tick_zero_unix_us: u64,
    /// The room's current tick.
    pub tick: Tick,
}

/// Why a client is no longer in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeaveReason {
    /// The client asked.
    Requested,
    /// The room was closed (shutdown, disposal).
    RoomClosed,
    /// The game or an operator removed the player.
    Kicked,
}

/// The client is no longer in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Left {
    /// The request answered, if the client asked.
    pub request_id: Option<u32>,
    /// The room left.
    pub room: RoomId,
    /// Why.
    pub reason: LeaveReason,
}
