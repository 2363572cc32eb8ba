//! Handshake and lobby messages: hello, rooms, joining and leaving.

use std::collections::BTreeMap;

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
    /// With `resume_token`: the newest world the client still holds. The
    /// first update after the resume is a delta against it when the
    /// server still holds that tick, else a full snapshot (`None`: a full
    /// snapshot).
    pub resume_from: Option<Tick>,
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
    /// Public metadata the game set (a small string map: mode, map,
    /// skill, ...), which listings and quick-join filter on.
    pub metadata: Metadata,
    /// Whether the game locked the room: a locked room takes no new
    /// member and is neither listed nor quick-joined.
    pub locked: bool,
}

/// A room's public metadata: string keys and values the game sets.
pub type Metadata = BTreeMap<String, String>;

/// Which rooms a listing or a quick-join considers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomFilter {
    /// Only rooms running this game; `None` for any game.
    pub game: Option<String>,
    /// Only rooms whose metadata has every one of these keys with exactly
    /// this value.
    pub metadata: Metadata,
}

impl RoomFilter {
    /// Whether `room` passes the filter.
    pub fn matches(&self, room: &RoomInfo) -> bool {
        self.game.as_ref().is_none_or(|game| *game == room.game)
            && self
                .metadata
                .iter()
                .all(|(key, value)| room.metadata.get(key) == Some(value))
    }
}

/// Asks for the public rooms (unlocked, public), filtered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRooms {
    /// Echoed in the answer.
    pub request_id: u32,
    /// Which rooms.
    pub filter: RoomFilter,
}

/// Public rooms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    /// The request answered.
    pub request_id: u32,
    /// The rooms, by id.
    #[serde(deserialize_with = "crate::codec::capped::vec")]
    pub rooms: Vec<RoomInfo>,
}

/// Creates a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    /// Echoed in the answer.
    pub request_id: u32,
    /// The game the room runs, by name; `None` for the server's default
    /// game.
    pub game: Option<String>,
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
    /// Options for the game's join hook when `join_as` is set.
    pub join_options: GameOptions,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRoom {
    /// Echoed in the answer.
    pub request_id: u32,
    /// The room.
    pub target: RoomTarget,
    /// As a player or a spectator.
    pub role: Role,
    /// Options for the game's join hook (a team, a loadout, ...), which
    /// may refuse the join on them.
    pub join_options: GameOptions,
}

/// Joins, as a player, the public unlocked room with a free seat that
/// matches and has the most players, or creates one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickJoin {
    /// Echoed in the answer.
    pub request_id: u32,
    /// The game, by name; `None` for the server's default game.
    pub game: Option<String>,
    /// Options a matching room must have been created with, equality on
    /// each key given (and a new
    /// room gets).
    pub options: GameOptions,
    /// Metadata a matching room must have (equality on each key).
    pub metadata: Metadata,
    /// Options for the game's join hook.
    pub join_options: GameOptions,
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
    /// The game closed the room.
    RoomClosed,
    /// The game removed the player.
    Kicked,
}

/// The client is no longer in a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Left {
    /// The request answered, if the client asked.
    pub request_id: Option<u32>,
    /// The room left.
    pub room: RoomId,
    /// Why.
    pub reason: LeaveReason,
    /// The game's words, for a kick or a close (empty otherwise).
    pub message: String,
}
