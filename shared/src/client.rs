//! The pure client: everything a tickwire client does that is not moving
//! bytes, written once so that every client mirrors one reference (the
//! Rust client library `tickwire-client`, the bots built on it, the
//! end-to-end test support, and the browser library, which follows the
//! same rules).
//!
//! - [`replica`]: the world rebuilt from updates, checksums verified, and
//!   what to acknowledge.
//! - [`request`]: the lobby requests (builders, the answer each waits
//!   for).
//! - [`session`]: the protocol session around it, sans-IO in quinn's shape:
//!   server messages and the time go in ([`ClientSession::handle`],
//!   [`ClientSession::handle_timeout`]); messages to send
//!   ([`ClientSession::poll_transmit`]) and events for the application
//!   ([`ClientSession::poll_event`]) come out. It owns request ids and
//!   their answers, acknowledgements, ping answers (held to travel with an
//!   input) and round-trip times, input sequence numbers and redundancy,
//!   events emitted with an ack and their deadlines, and the answers owed
//!   to server events.
//! - [`reconnect`]: the reconnection policy (exponential backoff with
//!   jitter within the server's grace) and how a reconnection ends.
//!
//! Nothing here reads a clock or touches a socket: time comes in as a
//! [`Now`] argument, so every behaviour is deterministic and tested in
//! place.

pub mod reconnect;
pub mod replica;
pub mod request;
pub mod session;

pub use reconnect::{Backoff, LostReason, ReconnectPolicy};

pub use replica::{REPLICA_HISTORY, Replica, ReplicaError};
pub use session::{
    AckId, AckMode, Answer, AppliedUpdate, ClientSession, Closed, DATAGRAM_INPUT_REDUNDANCY,
    Delivery, EmitOutcome, IncomingEvent, MAX_INPUT_REDUNDANCY, Now, QuickJoinSpec, ReplyTo,
    Request, RequestFailure, RequestId, RoomSpec, SessionConfig, SessionError, SessionEvent,
    SessionState, Transmit,
};
