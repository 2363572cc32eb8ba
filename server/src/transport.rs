//! The shape every transport produces (shell): a [`Link`] moves whole
//! frames in and out of one session, and says why it failed. Sessions and
//! rooms never know which transport a player uses: WebSocket ([`ws`], over
//! [`tcp`]), QUIC ([`quic`]) or WebTransport ([`webtransport`], QUIC's
//! framing inside an HTTP/3 session, for browsers).

pub mod quic;
pub mod tcp;
pub mod webtransport;
pub mod ws;

use std::future::Future;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use tickwire_shared::protocol::CloseReason;

use crate::outbox::Delivery;

/// What a link received.
#[derive(Debug)]
pub enum Incoming {
    /// One binary frame.
    Frame(Bytes),
    /// A keep-alive or control frame the transport answered itself.
    Control,
    /// The peer is gone without saying goodbye (the connection dropped,
    /// reset or ended); nothing more will come.
    Closed,
    /// The peer said goodbye through the transport's own closing handshake
    /// (a WebSocket close frame), which the link has completed (answered
    /// and hung up); nothing more will come. Unlike [`Incoming::Closed`],
    /// the player meant to leave: its seat is not kept for a resume.
    Goodbye,
    /// The peer broke the transport's rules; the session closes with
    /// [`Violation::reason`].
    Violation(Violation),
}

/// How a peer broke its transport's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A WebSocket text frame: tickwire speaks binary frames only.
    #[error("text frames are not accepted")]
    TextFrame,
    /// A WebSocket frame or message over the size limit.
    #[error("frame or message over the size limit")]
    MessageTooLarge,
    /// A QUIC or WebTransport stream frame over the size limit.
    #[error("frame over the size limit")]
    FrameTooLarge,
    /// A QUIC or WebTransport datagram over the size limit.
    #[error("datagram over the size limit")]
    DatagramTooLarge,
    /// The WebSocket protocol itself was broken (RFC 6455).
    #[error(transparent)]
    WebSocket(#[from] ws::WsViolation),
}

impl Violation {
    /// The session's close reason.
    pub fn reason(&self) -> CloseReason {
        match self {
            Self::TextFrame => CloseReason::UnsupportedFrame,
            Self::MessageTooLarge | Self::FrameTooLarge | Self::DatagramTooLarge => {
                CloseReason::FrameTooLarge
            }
            Self::WebSocket(_) => CloseReason::ProtocolViolation,
        }
    }
}

/// A writing failure.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The connection is gone.
    #[error("connection closed")]
    Closed,
    /// The WebSocket failed.
    #[error("WebSocket: {0}")]
    WebSocket(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// The QUIC control stream failed.
    #[error("QUIC stream: {0}")]
    QuicStream(#[source] quinn::WriteError),
    /// A QUIC datagram could not be queued.
    #[error("QUIC datagram: {0}")]
    QuicDatagram(#[source] quinn::SendDatagramError),
    /// The WebTransport control stream failed.
    #[error("WebTransport stream: {0}")]
    WebTransportStream(#[source] wtransport::error::StreamWriteError),
    /// A frame longer than the transport can frame.
    #[error("a frame of {0} bytes is too large")]
    TooLarge(usize),
}

/// What became of a direct write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectOutcome {
    /// All of it is in the socket.
    Written,
    /// Part is in the socket; the rest waits in the stream and goes out
    /// with the owner's next write or flush, which the owner must make.
    Queued,
    /// Nothing was written: the owner must send it.
    Declined,
}

/// The most messages one direct write carries: an update, a ping and a
/// pong.
pub const MAX_DIRECT_MESSAGES: usize = 3;

/// A room's way to write a member's updates to its connection itself, on
/// the room's thread, instead of waking the member's session for each.
/// Only the connection's [`crate::outbox::Outbox`] calls it, when the
/// session allows it, nothing older waits, and the connection can take
/// the messages whole at once; anything else is the session's to send.
pub trait DirectWrite: Send + Sync + std::fmt::Debug {
    /// Allows or stops direct writes.
    fn allow(&self, allowed: bool);
    /// Whether other messages than updates (pings, pongs) can go this way
    /// too; where not, only an update alone is ever passed.
    fn carries_control(&self) -> bool {
        true
    }
    /// Writes `frames` (an update, delivered [`Delivery::LatestWins`],
    /// then reliable ones, at most [`MAX_DIRECT_MESSAGES`] in all), each as
    /// one message, in one write if it can right now; all of them or none.
    fn try_send(&self, frames: &[&Bytes]) -> DirectOutcome;
}

/// One session's connection, whatever the transport.
pub trait Link: Send {
    /// The next frame. Cancel-safe: dropping the future loses nothing.
    fn recv(&mut self) -> impl Future<Output = Incoming> + Send;
    /// Writes one frame and flushes it, as its delivery class allows (a
    /// latest-wins update may travel unreliably).
    fn send(
        &mut self,
        frame: Bytes,
        delivery: Delivery,
    ) -> impl Future<Output = Result<(), LinkError>> + Send;
    /// Closes the transport with a reason the peer can read.
    fn close(&mut self, reason: CloseReason, message: &str) -> impl Future<Output = ()> + Send;
    /// Unhooks the connection from this thread's IO driver before the
    /// session moves to another shard (see [`tcp::Movable`]); transports
    /// without a socket of their own do nothing.
    fn detach(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Hooks the connection to the IO driver of the shard the session
    /// moved to.
    fn attach(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Takes the connection out of the IO driver while its room reads it
    /// at each tick (see [`tcp::Movable::park`]); transports without a
    /// socket of their own do nothing.
    fn park(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Hooks a parked connection to the IO driver again.
    fn unpark(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Whether the connection can park and say when what it read arrived,
    /// so that its room may read it at the tick without distorting
    /// round-trip times (TCP: yes; QUIC: quinn keeps no arrival times).
    fn parks(&self) -> bool {
        false
    }
    /// Whether the peer said goodbye through the transport's own closing
    /// handshake (so a write failing afterwards is no dropped connection).
    fn said_goodbye(&self) -> bool {
        false
    }
    /// When the newest data read while parked arrived (microseconds since
    /// the Unix epoch), where the transport knows.
    fn received_at(&self) -> Option<u64> {
        None
    }
    /// The connection's [`DirectWrite`], where it has one.
    fn direct(&self) -> Option<Arc<dyn DirectWrite>> {
        None
    }
    /// Sends what a direct write left for the session to finish.
    fn flush(&mut self) -> impl Future<Output = Result<(), LinkError>> + Send {
        async { Ok(()) }
    }
}
