//! The lobby requests a client makes (list, create, join, quick-join,
//! leave): their ids, the builders a request is made with, the message
//! each becomes, the answer it waits for, and why it may have none. The
//! session ([`super::session`]) numbers them and matches the answers.

use crate::game::GameOptions;
use crate::protocol::*;

/// A lobby request's id (the session's own counter, echoed by the answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u32);

/// A room to create: [`RoomSpec::new`] and the builder methods set what
/// differs from the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSpec {
    /// The game, by name; `None` (default) for the server's default game.
    pub game: Option<String>,
    /// Display name (1..=64 bytes).
    pub name: String,
    /// Default: [`Visibility::Public`].
    pub visibility: Visibility,
    /// Seats. Default: 16.
    pub max_players: u16,
    /// Game options. Default: none.
    pub options: GameOptions,
    /// Join the new room at once in this role. Default: as a player.
    pub join_as: Option<Role>,
    /// Options for the game's join hook when joining. Default: none.
    pub join_options: GameOptions,
}

impl RoomSpec {
    /// A public room of 16 seats for the default game, joined as a player.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            game: None,
            name: name.into(),
            visibility: Visibility::Public,
            max_players: 16,
            options: GameOptions::default(),
            join_as: Some(Role::Player),
            join_options: GameOptions::default(),
        }
    }

    /// Runs this game.
    pub fn game(mut self, game: impl Into<String>) -> Self {
        self.game = Some(game.into());
        self
    }

    /// Public or private.
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// Seats.
    pub fn max_players(mut self, seats: u16) -> Self {
        self.max_players = seats;
        self
    }

    /// Sets a game option.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.0.insert(key.into(), value.into());
        self
    }

    /// Joins as `role` (or not at all with `None`).
    pub fn join_as(mut self, role: Option<Role>) -> Self {
        self.join_as = role;
        self
    }

    /// Sets an option for the game's join hook.
    pub fn join_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.join_options.0.insert(key.into(), value.into());
        self
    }
}

/// What a quick-join looks for: [`QuickJoinSpec::default`] takes any
/// room of the server's default game.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuickJoinSpec {
    /// The game; `None` for the server's default.
    pub game: Option<String>,
    /// Options a matching room was created with (and a new room gets).
    pub options: GameOptions,
    /// Metadata a matching room has (equality on each key).
    pub metadata: Metadata,
    /// Options for the game's join hook.
    pub join_options: GameOptions,
}

impl QuickJoinSpec {
    /// Only rooms of this game.
    pub fn game(mut self, game: impl Into<String>) -> Self {
        self.game = Some(game.into());
        self
    }

    /// Only rooms created with this option (a new room gets it).
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.0.insert(key.into(), value.into());
        self
    }

    /// Only rooms whose metadata has this value.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets an option for the game's join hook.
    pub fn join_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.join_options.0.insert(key.into(), value.into());
        self
    }
}

/// A lobby request. The session gives it an id and matches the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// The public rooms passing a filter; answered with
    /// [`Answer::RoomList`].
    ListRooms(RoomFilter),
    /// Creates a room; answered with [`Answer::Joined`] when it joins,
    /// else [`Answer::RoomCreated`].
    CreateRoom(RoomSpec),
    /// Joins a room; answered with [`Answer::Joined`].
    JoinRoom {
        /// By id or code.
        target: RoomTarget,
        /// As a player or a spectator.
        role: Role,
        /// Options for the game's join hook.
        join_options: GameOptions,
    },
    /// Joins the fullest matching public room with a free seat, or a new
    /// one; answered with [`Answer::Joined`].
    QuickJoin(QuickJoinSpec),
    /// Leaves the current room; answered with [`Answer::Left`].
    LeaveRoom,
}

impl Request {
    pub(super) fn into_message(self, request_id: u32) -> ClientMessage {
        match self {
            Self::ListRooms(filter) => ClientMessage::ListRooms(ListRooms { request_id, filter }),
            Self::CreateRoom(spec) => ClientMessage::CreateRoom(CreateRoom {
                request_id,
                game: spec.game,
                name: spec.name,
                visibility: spec.visibility,
                max_players: spec.max_players,
                options: spec.options,
                join_as: spec.join_as,
                join_options: spec.join_options,
            }),
            Self::JoinRoom {
                target,
                role,
                join_options,
            } => ClientMessage::JoinRoom(JoinRoom {
                request_id,
                target,
                role,
                join_options,
            }),
            Self::QuickJoin(spec) => ClientMessage::QuickJoin(QuickJoin {
                request_id,
                game: spec.game,
                options: spec.options,
                metadata: spec.metadata,
                join_options: spec.join_options,
            }),
            Self::LeaveRoom => ClientMessage::LeaveRoom(LeaveRoom { request_id }),
        }
    }

    pub(super) fn expects(&self) -> Expect {
        match self {
            Self::ListRooms(_) => Expect::RoomList,
            Self::CreateRoom(spec) if spec.join_as.is_some() => Expect::Joined,
            Self::CreateRoom(_) => Expect::RoomCreated,
            Self::JoinRoom { .. } | Self::QuickJoin(_) => Expect::Joined,
            Self::LeaveRoom => Expect::Left,
        }
    }
}

/// The answer a request waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    RoomList,
    RoomCreated,
    Joined,
    Left,
}

/// A request's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The rooms listed.
    RoomList(Vec<RoomInfo>),
    /// The room created (not joined), with its invite code.
    RoomCreated(RoomInfo),
    /// The room joined.
    Joined(Joined),
    /// The room left.
    Left(Left),
}

/// Why a request has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestFailure {
    /// The server refused it.
    #[error("refused ({:?}): {}", .0.code, .0.message)]
    Refused(ErrorMessage),
    /// No answer within [`SessionConfig::request_timeout`].
    #[error("no answer in time")]
    TimedOut,
    /// The session closed first.
    #[error("the session closed")]
    Closed,
    /// The connection dropped before the answer; the session is
    /// reconnecting (the request may or may not have been carried out).
    #[error("the connection dropped before the answer")]
    Interrupted,
    /// The server answered with a message of the wrong kind.
    #[error("unexpected answer kind")]
    Unexpected,
    /// The room is on another node of the cluster and the session does
    /// not follow redirects ([`super::session::SessionConfig::follow_redirects`]
    /// is off): go there yourself and claim the seat.
    #[error("the room is on node {}", .0.node)]
    Redirected(Redirect),
}
