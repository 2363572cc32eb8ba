//! Every message on the wire: [`ClientMessage`] (client to server) and
//! [`ServerMessage`] (server to client), plus the close and error codes.
//!
//! One frame carries one message (a WebSocket binary message, a QUIC
//! datagram or a length-delimited stream frame). The first byte of a frame is
//! the message kind, the variant's position in its enum; the layout of the
//! rest is in `docs/protocol.md` and [`crate::codec`]. Adding a variant at
//! the end, or a new enum value at the end, is compatible; anything else
//! bumps [`PROTOCOL_VERSION`].

pub mod lobby;
pub mod play;
pub mod redirect;
pub mod samples;

use serde::{Deserialize, Serialize};

pub use lobby::*;
pub use play::*;
pub use redirect::*;

/// The protocol version this crate speaks. A server accepts a client
/// [`Hello`] only with the same version.
pub const PROTOCOL_VERSION: u16 = 2;

/// A message from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// Kind 0. Opens the session; must be the first message.
    Hello(Hello),
    /// Kind 1. Asks for the public rooms.
    ListRooms(ListRooms),
    /// Kind 2. Creates a room.
    CreateRoom(CreateRoom),
    /// Kind 3. Joins a room by id or invite code.
    JoinRoom(JoinRoom),
    /// Kind 4. Joins any public room with a free seat, or a new one.
    QuickJoin(QuickJoin),
    /// Kind 5. Leaves the current room.
    LeaveRoom(LeaveRoom),
    /// Kind 6. Game inputs, newest last.
    Inputs(Inputs),
    /// Kind 7. The newest world state received.
    Ack(Ack),
    /// Kind 8. A custom room event.
    Event(RoomEvent),
    /// Kind 9. The answer to a server event that asked for one.
    EventReply(EventReply),
    /// Kind 10. Heartbeat and RTT probe.
    Ping(Ping),
    /// Kind 11. Answer to a server [`Ping`].
    Pong(Pong),
    /// Kind 12. The client is leaving.
    Close(Close),
    /// Kind 13. Claims the seat a [`Redirect`] reserved (on the node it
    /// named).
    ClaimSeat(ClaimSeat),
}

/// A message from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// Kind 0. The handshake is accepted.
    Welcome(Welcome),
    /// Kind 1. The handshake is refused; the connection closes next.
    Rejected(Rejected),
    /// Kind 2. Public rooms, answering [`ListRooms`].
    RoomList(RoomList),
    /// Kind 3. A room was created without joining it.
    RoomCreated(RoomCreated),
    /// Kind 4. The client is now in a room.
    Joined(Joined),
    /// Kind 5. The client is no longer in a room.
    Left(Left),
    /// Kind 6. A custom room event.
    Event(RoomEvent),
    /// Kind 7. The answer to a client event that asked for one.
    EventReply(EventReply),
    /// Kind 8. Heartbeat and RTT probe.
    Ping(Ping),
    /// Kind 9. Answer to a client [`Ping`].
    Pong(Pong),
    /// Kind 10. A request failed; the session goes on.
    Error(ErrorMessage),
    /// Kind 11. The server closes the session, with the reason.
    Close(Close),
    /// Kind 12. One tick's world as a delta; it has its own compact layout
    /// (see [`crate::codec`]), so it must stay the last variant.
    #[serde(skip)]
    Update(Update),
    /// Kind 13. The request's room is on another node of the cluster: go
    /// there and claim the reserved seat. Encoded as its kind byte then
    /// the [`Redirect`] (see [`crate::codec`]), as it follows the update.
    #[serde(skip)]
    Redirect(Redirect),
}

impl ServerMessage {
    /// The kind byte of [`ServerMessage::Update`].
    pub const UPDATE_KIND: u8 = 12;
    /// The kind byte of [`ServerMessage::Redirect`].
    pub const REDIRECT_KIND: u8 = 13;

    /// The request this message answers, if it answers one.
    pub fn request_id(&self) -> Option<u32> {
        match self {
            Self::RoomList(r) => Some(r.request_id),
            Self::RoomCreated(r) => Some(r.request_id),
            Self::Joined(j) => j.request_id,
            Self::Left(l) => l.request_id,
            Self::Error(e) => e.request_id,
            Self::Redirect(r) => Some(r.request_id),
            _ => None,
        }
    }
}

/// Heartbeat carrying the sender's clock, echoed back in a [`Pong`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// The sender's clock in microseconds (any epoch; only echoed).
    pub sent_at_us: u64,
}

/// The answer to a [`Ping`]. An answer may wait for other traffic to
/// travel with (the server's next update, the client's next input) and
/// says how long it waited, like QUIC's ACK delay: the round-trip time is
/// now minus `ping_sent_at_us` minus `held_us`, on the pinger's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The `sent_at_us` of the ping answered.
    pub ping_sent_at_us: u64,
    /// The answerer's clock in microseconds (Unix epoch).
    pub sent_at_us: u64,
    /// Microseconds between the ping's arrival and this answer leaving.
    pub held_us: u32,
}

impl Pong {
    /// The answer to `ping`, leaving at `sent_at_us` (the answerer's clock)
    /// after waiting `held` since the ping arrived.
    pub fn answering(ping: Ping, sent_at_us: u64, held: std::time::Duration) -> Self {
        Self {
            ping_sent_at_us: ping.sent_at_us,
            sent_at_us,
            held_us: u32::try_from(held.as_micros()).unwrap_or(u32::MAX),
        }
    }

    /// The round-trip time this answer measures, in microseconds, given
    /// the pinger's clock now.
    pub fn rtt_us(&self, now_us: u64) -> u64 {
        now_us
            .saturating_sub(self.ping_sent_at_us)
            .saturating_sub(u64::from(self.held_us))
    }
}

/// A session is ending, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    /// Machine-readable reason.
    pub reason: CloseReason,
    /// Human-readable detail.
    pub message: String,
}

/// Why a session ended. [`CloseReason::code`] maps each to a WebSocket close
/// code in the private range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CloseReason {
    /// The peer asked to close.
    Normal,
    /// The server is shutting down.
    ServerShutdown,
    /// A message was not valid in the session's state.
    ProtocolViolation,
    /// A frame could not be decoded.
    MalformedFrame,
    /// A frame was larger than the limit.
    FrameTooLarge,
    /// The client speaks another protocol version.
    VersionMismatch,
    /// The handshake did not finish in time.
    HandshakeTimeout,
    /// Nothing was received for too long.
    IdleTimeout,
    /// Too many messages too fast.
    Flooding,
    /// Too far behind reading updates.
    SlowConsumer,
    /// Too many connections (in all, or from one address).
    ServerFull,
    /// Authentication failed.
    AuthFailed,
    /// The same player connected again elsewhere (session resumed).
    Replaced,
    /// The transport sent something other than binary frames.
    UnsupportedFrame,
}

impl CloseReason {
    /// The WebSocket close code: 1000 for [`CloseReason::Normal`] and
    /// [`CloseReason::ServerShutdown`] uses 1001 (going away); the others
    /// are 4000 + their kind index.
    pub fn code(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::ServerShutdown => 1001,
            other => 4000 + other as u16,
        }
    }

    /// A short snake-case name for logs and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::ServerShutdown => "server_shutdown",
            Self::ProtocolViolation => "protocol_violation",
            Self::MalformedFrame => "malformed_frame",
            Self::FrameTooLarge => "frame_too_large",
            Self::VersionMismatch => "version_mismatch",
            Self::HandshakeTimeout => "handshake_timeout",
            Self::IdleTimeout => "idle_timeout",
            Self::Flooding => "flooding",
            Self::SlowConsumer => "slow_consumer",
            Self::ServerFull => "server_full",
            Self::AuthFailed => "auth_failed",
            Self::Replaced => "replaced",
            Self::UnsupportedFrame => "text_frame",
        }
    }

    /// Every reason, in kind order.
    pub const ALL: [Self; 14] = [
        Self::Normal,
        Self::ServerShutdown,
        Self::ProtocolViolation,
        Self::MalformedFrame,
        Self::FrameTooLarge,
        Self::VersionMismatch,
        Self::HandshakeTimeout,
        Self::IdleTimeout,
        Self::Flooding,
        Self::SlowConsumer,
        Self::ServerFull,
        Self::AuthFailed,
        Self::Replaced,
        Self::UnsupportedFrame,
    ];

    /// The reason whose [`CloseReason::code`] is `code` (a WebSocket close
    /// code or a QUIC application error code), if any.
    pub fn from_code(code: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|r| u64::from(r.code()) == code)
    }
}

/// A request error that does not end the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// The request this answers, when it answers one.
    pub request_id: Option<u32>,
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
}

/// What went wrong with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// No room with that id or code.
    RoomNotFound,
    /// The room has no free seat.
    RoomFull,
    /// The server's room limit is reached.
    TooManyRooms,
    /// The request needs a room and the client is in none.
    NotInRoom,
    /// The request needs no room and the client is in one.
    AlreadyInRoom,
    /// The request is malformed (empty name, bad limits, ...).
    InvalidRequest,
    /// A game option is unknown or out of range.
    BadOptions,
    /// The game refused the join.
    JoinRefused,
    /// An input was rejected (not a number, undecodable, ...).
    InvalidInput,
    /// An input or event was stale or duplicated.
    Stale,
    /// Too many requests; slow down.
    RateLimited,
    /// A spectator tried to act as a player (send inputs, or emit where
    /// the game does not allow spectators to).
    NotAPlayer,
    /// The room is locked: it takes no new member.
    RoomLocked,
    /// No game by that name runs on this server.
    UnknownGame,
    /// An event's name or data is over the limit.
    EventTooLarge,
    /// The game refused the event or answered it with an error.
    EventRefused,
    /// The server is draining before it stops: it takes no new room or
    /// join; try another server.
    ServerDraining,
    /// A [`ClaimSeat`]'s reservation is not valid here: expired, not
    /// signed by the cluster, for another node or player, or used
    /// already. Ask again on any node.
    ReservationRefused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_map_back_to_their_reasons() {
        for reason in CloseReason::ALL {
            assert_eq!(
                CloseReason::from_code(u64::from(reason.code())),
                Some(reason)
            );
        }
        assert_eq!(CloseReason::from_code(1002), None);
        assert_eq!(
            CloseReason::ALL.len(),
            CloseReason::UnsupportedFrame as usize + 1,
            "ALL lists every reason"
        );
    }

    #[test]
    fn a_pong_says_how_long_it_waited_and_the_rtt_leaves_that_out() {
        let ping = Ping { sent_at_us: 1_000 };
        let pong = Pong::answering(ping, 9_000, std::time::Duration::from_micros(5_000));
        assert_eq!((pong.ping_sent_at_us, pong.held_us), (1_000, 5_000));
        assert_eq!(pong.rtt_us(7_500), 1_500);
        // A wait past u32 microseconds saturates; the RTT never underflows.
        let long = Pong::answering(ping, 0, std::time::Duration::from_secs(5_000));
        assert_eq!(long.held_us, u32::MAX);
        assert_eq!(long.rtt_us(2_000), 0);
    }

    #[test]
    fn answers_name_their_request_and_nothing_else_does() {
        let ids: Vec<(&str, Option<u32>)> = samples::server_messages()
            .iter()
            .map(|(name, m)| (*name, m.request_id()))
            .collect();
        let answering = ["room_list", "room_created", "joined", "error", "redirect"];
        for (name, id) in ids {
            assert_eq!(id.is_some(), answering.contains(&name), "{name}: {id:?}");
        }
    }
}
