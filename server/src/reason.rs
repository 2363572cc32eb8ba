//! Why things are refused, dropped or fail (pure): one typed enum per kind
//! of outcome, each with the short `label()` its metric and log line use.
//! No reason travels as a `&'static str` or a `String` where one of these
//! says it.

use tickwire_shared::game::GameError;
use tickwire_shared::protocol::{
    CloseReason, ErrorCode, ErrorMessage, EventOutcome, EventReply, ServerMessage,
};

use crate::lobby::LobbyError;

/// Something with a short snake-case name for metric labels and logs.
pub trait Label {
    /// The label.
    fn label(&self) -> &'static str;
}

impl Label for CloseReason {
    fn label(&self) -> &'static str {
        Self::label(*self)
    }
}

/// Why a connection was refused or dropped before its session started
/// (`tickwire_connections_rejected_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The server holds its most connections.
    #[error("the server holds its most connections")]
    ServerFull,
    /// The peer's address holds its most connections.
    #[error("too many connections from this address")]
    IpLimit,
    /// Too many connections are still in their handshake.
    #[error("too many pending handshakes")]
    HandshakeLimit,
    /// The admin port holds its most connections.
    #[error("the admin port holds its most connections")]
    AdminFull,
    /// Too many connections from the peer's address are still in their
    /// handshake.
    #[error("too many pending handshakes from this address")]
    HandshakeIpLimit,
    /// The transport, WebSocket or tickwire handshake did not finish in
    /// time.
    #[error("the handshake did not finish in time")]
    HandshakeTimeout,
    /// The WebSocket upgrade (or QUIC control stream) failed.
    #[error("the handshake failed")]
    HandshakeFailed,
    /// The TLS handshake failed (plain TCP to the TLS port, no common
    /// ALPN, a refused certificate).
    #[error("the TLS handshake failed")]
    TlsHandshakeFailed,
    /// A browser's WebSocket upgrade or WebTransport session request from
    /// an `Origin` not in `allowed_origins` (answered 403).
    #[error("the origin is not allowed")]
    OriginRefused,
    /// A WebTransport session requested at another path than `/tickwire`
    /// (answered 404).
    #[error("no WebTransport session at this path")]
    PathNotFound,
    /// The client's ticket was refused, or it had none where one is
    /// required (`tickwire_auth_failures_total{reason}` says why).
    #[error("authentication failed")]
    AuthFailed,
}

impl Label for Rejection {
    fn label(&self) -> &'static str {
        match self {
            Self::ServerFull => "server_full",
            Self::IpLimit => "ip_limit",
            Self::HandshakeLimit => "handshake_limit",
            Self::HandshakeIpLimit => "handshake_ip_limit",
            Self::AdminFull => "admin_full",
            Self::HandshakeTimeout => "handshake_timeout",
            Self::HandshakeFailed => "handshake_failed",
            Self::TlsHandshakeFailed => "tls_handshake_failed",
            Self::OriginRefused => "origin_refused",
            Self::PathNotFound => "path_not_found",
            Self::AuthFailed => "auth_failed",
        }
    }
}

/// Why a player's input was not used (`tickwire_inputs_dropped_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputDrop {
    /// Not newer than the last input taken.
    #[error("stale")]
    Stale,
    /// The newest input did not decode (or the message carried none, or
    /// too many).
    #[error("undecodable")]
    Undecodable,
    /// The game rejected the decoded input.
    #[error("invalid")]
    Invalid,
    /// The sender is no player (a spectator, or in no room).
    #[error("not a player")]
    NotAPlayer,
    /// The room's queue was full.
    #[error("the room's queue is full")]
    QueueFull,
}

impl Label for InputDrop {
    fn label(&self) -> &'static str {
        match self {
            Self::Stale => "stale",
            Self::Undecodable => "undecodable",
            Self::Invalid => "invalid",
            Self::NotAPlayer => "not_a_player",
            Self::QueueFull => "queue_full",
        }
    }
}

/// A failure of the server's own machinery, counted in
/// `tickwire_errors_total{kind}` beside refusals and closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// A write to a client took longer than `write_ms`.
    #[error("a write took too long")]
    SlowConsumer,
    /// A client's outbox was full; a message for it was dropped.
    #[error("the client's outbox is full")]
    OutboxFull,
    /// `accept()` failed (out of file descriptors and the like).
    #[error("accept failed")]
    AcceptFailed,
}

impl Label for Fault {
    fn label(&self) -> &'static str {
        match self {
            Self::SlowConsumer => "slow_consumer",
            Self::OutboxFull => "control_queue_full",
            Self::AcceptFailed => "accept_failed",
        }
    }
}

/// A request that is not valid in the session's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WrongState {
    /// `Hello` after the handshake.
    #[error("already greeted")]
    AlreadyGreeted,
    /// A lobby request from a room member.
    #[error("leave your room first")]
    InRoom,
    /// `LeaveRoom` from the lobby.
    #[error("not in a room")]
    NotInRoom,
    /// Inputs, acks or events from the lobby.
    #[error("join a room first")]
    NotJoined,
}

/// Why a member's event was refused before it reached the game; the
/// client gets it as the error of its `EventReply` (or as an `Error`
/// when it asked for no answer), and the session goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventRefusal {
    /// The name is empty or too long.
    #[error("event names are 1..={max} bytes")]
    BadName {
        /// The longest name allowed.
        max: usize,
    },
    /// The data is too large.
    #[error("event data is {len} bytes; at most {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The client sends events faster than its allowance.
    #[error("at most {per_second} events a second")]
    RateLimited {
        /// The sustained rate allowed.
        per_second: u32,
    },
    /// A spectator emitted and the game takes no spectators' events.
    #[error("spectators may not send events in this game")]
    Spectator,
    /// The client is not in a room.
    #[error("join a room first")]
    NotJoined,
}

impl EventRefusal {
    /// What the client is told: the error of its event's answer when it
    /// asked for one (`ack_id`), else an `Error` answering no request.
    pub fn to_message(&self, ack_id: Option<u32>) -> ServerMessage {
        match ack_id {
            Some(ack_id) => ServerMessage::EventReply(EventReply {
                ack_id,
                outcome: EventOutcome::Error {
                    code: self.code(),
                    message: self.to_string(),
                },
            }),
            None => ServerMessage::Error(Refusal::from(self.clone()).to_message(None)),
        }
    }

    /// The wire error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadName { .. } | Self::TooLarge { .. } => ErrorCode::EventTooLarge,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Spectator => ErrorCode::NotAPlayer,
            Self::NotJoined => ErrorCode::NotInRoom,
        }
    }
}

impl Label for EventRefusal {
    fn label(&self) -> &'static str {
        match self {
            Self::BadName { .. } => "event_bad_name",
            Self::TooLarge { .. } => "event_too_large",
            Self::RateLimited { .. } => "event_rate_limited",
            Self::Spectator => "event_from_spectator",
            Self::NotJoined => "event_not_joined",
        }
    }
}

/// A refused request: the session goes on, and the client gets an
/// [`ErrorMessage`] with [`Refusal::code`] and this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The lobby refused (no such room, full, too many rooms, invalid).
    #[error(transparent)]
    Lobby(#[from] LobbyError),
    /// The game refused (bad options, join refused, invalid input).
    #[error(transparent)]
    Game(#[from] GameError),
    /// Not valid in the session's state.
    #[error(transparent)]
    WrongState(#[from] WrongState),
    /// An event refused before it reached the game.
    #[error(transparent)]
    Event(#[from] EventRefusal),
    /// A seat reservation was refused.
    #[error(transparent)]
    Reservation(#[from] crate::cluster::reservation::ReservationError),
    /// The room closed while the client was joining.
    #[error("the room has closed")]
    RoomClosed,
    /// The client is already a member of the room.
    #[error("already a member of this room")]
    AlreadyMember,
    /// A spectator sent inputs.
    #[error("spectators send no inputs")]
    NotAPlayer,
    /// An input was refused.
    #[error("input {seq} rejected: {why}")]
    Input {
        /// The newest sequence number of the message.
        seq: u32,
        /// Why.
        why: InputDrop,
    },
}

impl Refusal {
    /// The wire error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Lobby(e) => e.code(),
            Self::Game(GameError::BadOption { .. }) => ErrorCode::BadOptions,
            Self::Game(GameError::JoinRefused(_)) => ErrorCode::JoinRefused,
            Self::Game(GameError::InvalidInput(_)) | Self::Input { .. } => ErrorCode::InvalidInput,
            Self::WrongState(WrongState::AlreadyGreeted) => ErrorCode::InvalidRequest,
            Self::WrongState(WrongState::InRoom) => ErrorCode::AlreadyInRoom,
            Self::WrongState(WrongState::NotInRoom | WrongState::NotJoined) => ErrorCode::NotInRoom,
            Self::Event(e) => e.code(),
            Self::Game(GameError::BadEvent(_)) => ErrorCode::EventRefused,
            Self::AlreadyMember => ErrorCode::InvalidRequest,
            Self::RoomClosed => ErrorCode::RoomNotFound,
            Self::NotAPlayer => ErrorCode::NotAPlayer,
            Self::Reservation(_) => ErrorCode::ReservationRefused,
        }
    }

    /// The message the client gets.
    pub fn to_message(&self, request_id: Option<u32>) -> ErrorMessage {
        ErrorMessage {
            request_id,
            code: self.code(),
            message: self.to_string(),
        }
    }
}

impl Label for Refusal {
    fn label(&self) -> &'static str {
        match self {
            Self::Lobby(e) => e.kind(),
            Self::Game(GameError::BadOption { .. }) => "bad_options",
            Self::Game(GameError::JoinRefused(_)) => "join_refused",
            Self::Game(GameError::InvalidInput(_)) => "invalid_input",
            Self::WrongState(_) => "wrong_state",
            Self::Event(e) => e.label(),
            Self::Game(GameError::BadEvent(_)) => "bad_event",
            Self::RoomClosed => "room_not_found",
            Self::AlreadyMember => "already_member",
            Self::NotAPlayer => "not_a_player",
            Self::Input { why, .. } => why.label(),
            Self::Reservation(e) => e.label(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_wire_codes_messages_and_labels() {
        let r = Refusal::from(WrongState::InRoom);
        assert_eq!(r.code(), ErrorCode::AlreadyInRoom);
        assert_eq!(r.to_string(), "leave your room first");
        assert_eq!(r.label(), "wrong_state");
        let r = Refusal::from(LobbyError::RoomFull);
        assert_eq!((r.code(), r.label()), (ErrorCode::RoomFull, "room_full"));
        let r = Refusal::Input {
            seq: 7,
            why: InputDrop::Invalid,
        };
        assert_eq!(r.to_message(None).message, "input 7 rejected: invalid");
        assert_eq!(r.code(), ErrorCode::InvalidInput);
        let r = Refusal::from(EventRefusal::BadName { max: 64 });
        assert_eq!(r.to_string(), "event names are 1..=64 bytes");
        assert_eq!(
            (r.code(), r.label()),
            (ErrorCode::EventTooLarge, "event_bad_name")
        );
        let r = Refusal::from(EventRefusal::RateLimited { per_second: 20 });
        assert_eq!(
            (r.code(), r.label()),
            (ErrorCode::RateLimited, "event_rate_limited")
        );
        assert_eq!(EventRefusal::Spectator.code(), ErrorCode::NotAPlayer);
        assert_eq!(CloseReason::UnsupportedFrame.label(), "text_frame");
        assert_eq!(
            Rejection::TlsHandshakeFailed.label(),
            "tls_handshake_failed"
        );
        assert_eq!(Fault::OutboxFull.label(), "control_queue_full");
        assert_eq!(Rejection::HandshakeIpLimit.label(), "handshake_ip_limit");
        let r = Refusal::from(LobbyError::Draining);
        assert_eq!(
            (r.code(), r.label()),
            (ErrorCode::ServerDraining, "server_draining")
        );
    }
}
