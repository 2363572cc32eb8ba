//! What can go wrong: [`ClientError`] for the connection and lobby calls,
//! [`EmitError`] for an event emitted with an ack.

use tickwire_shared::client::SessionError;
use tickwire_shared::codec::{DecodeError, EncodeError};
use tickwire_shared::protocol::{CloseReason, ErrorCode, ErrorMessage};

/// What went wrong with a connection or a request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket could not be opened or broke.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server sent a frame that does not decode.
    #[error("undecodable server frame: {0}")]
    Decode(#[from] DecodeError),
    /// A message could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    /// A payload could not be turned into JSON or back.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The session refused the call (closed, too many pending, bad event
    /// name, ...).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The server refused the handshake.
    #[error("handshake rejected ({reason:?}): {message}")]
    Rejected {
        /// Why.
        reason: CloseReason,
        /// Detail.
        message: String,
    },
    /// The server refused a request.
    #[error("request refused ({:?}): {}", .0.code, .0.message)]
    Refused(ErrorMessage),
    /// The server closed the session.
    #[error("closed by the server ({reason:?}): {message}")]
    Closed {
        /// Why.
        reason: CloseReason,
        /// Detail.
        message: String,
    },
    /// The connection ended without a reason (and was not resumed).
    #[error("connection lost")]
    Lost,
    /// The connection dropped before the answer came; the client is
    /// reconnecting (the request or event may or may not have reached the
    /// server).
    #[error("the connection dropped before the answer")]
    Interrupted,
    /// The room is on another node of the cluster and the client was
    /// told not to follow redirects ([`crate::ClientBuilder::follow_redirects`]):
    /// the redirect, to follow by hand (connect to its node and claim the
    /// seat with its reservation).
    #[error("the room is on node {} ({})", .0.node, .0.ws)]
    Redirected(Box<tickwire_shared::protocol::Redirect>),
    /// No answer in time.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The server answered something unexpected.
    #[error("unexpected answer: {0}")]
    Unexpected(&'static str),
    /// TLS could not be set up or its handshake failed: the reason says
    /// which (unknown issuer, fingerprint mismatch, no common ALPN, ...).
    #[error("tls: {0}")]
    Tls(String),
    /// The URL cannot be connected to (bad scheme, no host, refused).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The QUIC connection broke (framing, stream errors).
    #[error("quic: {0}")]
    Quic(String),
}

impl ClientError {
    /// A short snake-case name of the kind, for counters and reports.
    pub fn kind(&self) -> String {
        match self {
            Self::Refused(m) => format!("refused:{:?}", m.code),
            Self::Closed { reason, .. } | Self::Rejected { reason, .. } => {
                format!("closed:{reason:?}")
            }
            Self::Lost => "connection_lost".into(),
            Self::Interrupted => "interrupted".into(),
            Self::Redirected(_) => "redirected".into(),
            Self::Timeout => "timeout".into(),
            Self::WebSocket(_) => "websocket".into(),
            Self::Decode(_) => "undecodable_frame".into(),
            Self::Encode(_) => "encode".into(),
            Self::Json(_) => "json".into(),
            Self::Session(_) => "session".into(),
            Self::Unexpected(_) => "unexpected_answer".into(),
            Self::Tls(_) => "tls".into(),
            Self::Connect(_) => "connect".into(),
            Self::Quic(_) => "quic".into(),
        }
    }
}

/// Why an event emitted with an ack has no answer.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The server or the room's game refused the event.
    #[error("refused ({code:?}): {message}")]
    Refused {
        /// Why, for machines.
        code: ErrorCode,
        /// Why, for people.
        message: String,
    },
    /// No answer before the timeout.
    #[error("no answer in time")]
    TimedOut,
    /// The answer is not JSON of the type asked for.
    #[error("answer does not decode: {0}")]
    Decode(serde_json::Error),
    /// The event could not be sent, or the connection ended.
    #[error(transparent)]
    Client(#[from] ClientError),
}
