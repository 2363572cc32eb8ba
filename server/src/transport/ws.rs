//! WebSocket transport over tokio-tungstenite (shell): routing a fresh TCP
//! connection to the WebSocket or HTTP side, the upgrade with explicit
//! limits, and the [`Link`] over the upgraded stream. The upgrade and the
//! link work over any byte stream: plain TCP (`ws://`) or TLS (`wss://`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tickwire_shared::codec::MAX_SERVER_FRAME;
use tickwire_shared::protocol::CloseReason;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, FrameHeader};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::tcp::{DirectTcp, Movable};
use super::{
    DirectOutcome, DirectWrite, Incoming, Link, LinkError, MAX_DIRECT_MESSAGES, Violation,
};
use crate::outbox::Delivery;

/// The path of the WebSocket endpoint.
pub const WS_PATH: &str = "/ws";
/// WebSocket read buffer per connection. Small on purpose: tungstenite
/// zero-fills the free part of it before every read, and client messages
/// are tens of bytes (bigger ones take a few reads).
const READ_BUFFER: usize = 512;
/// How much of a request's head is looked at to route a connection.
const PEEK_LIMIT: usize = 2048;
/// Pause between looks at a request head that has not fully arrived.
const PEEK_RETRY: Duration = Duration::from_millis(5);
/// How long a closing connection lingers, draining what the peer sends: a
/// WebSocket's closing handshake (the wait for the peer's close frame, at
/// most `ANSWER_WAIT` of it) and the wait for the peer to hang up after
/// ours, or, for a refused connection, the wait for the peer to hang up.
/// A well-behaved peer answers within a round trip; this bounds what a
/// misbehaving one can hold, and keeps a graceful shutdown (close message
/// write, then this) well inside its default 3 s.
const LINGER: Duration = Duration::from_secs(1);
/// Most bytes drained from a closing connection.
const LINGER_BYTES: usize = 256 * 1024;

/// Which side of the port a connection asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /ws` asking to upgrade to WebSocket.
    WebSocket,
    /// Anything else, `GET /ws` without `Upgrade: websocket` included
    /// (the HTTP side answers it 426 Upgrade Required).
    Http,
}

/// Looks at (without consuming) the request's head to route the
/// connection. Returns `None` when the peer closes first. Bounded by the
/// caller's timeout.
pub async fn peek_route(stream: &TcpStream) -> Option<Route> {
    let mut buf = [0u8; PEEK_LIMIT];
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        let seen = &buf[..n];
        let line_end = seen.windows(2).position(|w| w == b"\r\n");
        if let Some(line_end) = line_end {
            if !is_ws_path(&seen[..line_end]) {
                return Some(Route::Http);
            }
            if let Some(head_end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                return Some(route_of(&seen[..head_end]));
            }
            if n == PEEK_LIMIT {
                // Headers too long to look at here (big cookies): the
                // WebSocket handshake reads them, and refuses a request
                // that is not an upgrade.
                return Some(Route::WebSocket);
            }
        } else if n == PEEK_LIMIT {
            return Some(Route::Http); // hyper answers the oversized line
        }
        tokio::time::sleep(PEEK_RETRY).await;
    }
}

/// Whether a request line is `GET /ws` (any query).
fn is_ws_path(request_line: &[u8]) -> bool {
    let mut parts = request_line.split(|&b| b == b' ');
    let (method, target) = (parts.next(), parts.next());
    let path = target.map(|t| t.split(|&b| b == b'?').next().unwrap_or(t));
    matches!((method, path), (Some(b"GET"), Some(p)) if p == WS_PATH.as_bytes())
}

/// Routes a whole request head (request line and headers, without the
/// blank line): WebSocket for `GET /ws` with `Upgrade: websocket`.
fn route_of(head: &[u8]) -> Route {
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.trim_ascii());
    let Some(request_line) = lines.next() else {
        return Route::Http;
    };
    let upgrade = lines.any(|line| {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return false;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        name.trim_ascii().eq_ignore_ascii_case(b"upgrade")
            && value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    });
    if upgrade && is_ws_path(request_line) {
        Route::WebSocket
    } else {
        Route::Http
    }
}

/// The WebSocket limits for client connections: frames and messages no
/// larger than our largest client message, small read buffers (thousands
/// of clients send tens of bytes each), and a bounded write buffer so a
/// client that stops reading costs at most one full snapshot of memory.
pub fn config(max_client_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_frame_size(Some(max_client_frame))
        .max_message_size(Some(max_client_frame))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_SERVER_FRAME + 4 * 1024)
}

/// Completes the WebSocket upgrade on a plain or TLS stream (the caller
/// bounds it with the handshake timeout). Paths other than [`WS_PATH`] are
/// answered 404; a browser's `Origin` that `origin_allowed` refuses, 403
/// (see [`is_origin_refusal`]).
pub async fn accept<S>(
    stream: S,
    config: WebSocketConfig,
    origin_allowed: impl FnOnce(Option<&str>) -> bool + Unpin,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    // The error type is tungstenite's (an HTTP response), large by design.
    #[allow(clippy::result_large_err)]
    let check = move |request: &Request, response: Response| {
        check_request(request, response, origin_allowed)
    };
    tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config)).await
}

/// Whether a failed upgrade was a refused `Origin`.
pub fn is_origin_refusal(error: &WsError) -> bool {
    matches!(error, WsError::Http(response) if response.status() == StatusCode::FORBIDDEN)
}

/// The upgrade callback: only [`WS_PATH`] is a WebSocket endpoint, and
/// only for allowed origins. The error type is tungstenite's.
#[allow(clippy::result_large_err)]
fn check_request(
    request: &Request,
    response: Response,
    origin_allowed: impl FnOnce(Option<&str>) -> bool,
) -> Result<Response, ErrorResponse> {
    if request.uri().path() != WS_PATH {
        let mut refusal = ErrorResponse::new(Some("not found".into()));
        *refusal.status_mut() = StatusCode::NOT_FOUND;
        return Err(refusal);
    }
    // A header that is not text is no origin we could have listed.
    let origin = request
        .headers()
        .get("origin")
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    if origin_allowed(origin) {
        Ok(response)
    } else {
        let mut refusal = ErrorResponse::new(Some("origin not allowed\n".into()));
        *refusal.status_mut() = StatusCode::FORBIDDEN;
        Err(refusal)
    }
}

/// Shuts our side of `stream` down and reads until the peer closes (at most
/// `LINGER` and `LINGER_BYTES`), so what we queued is delivered rather
/// than reset away.
pub async fn linger(stream: &mut TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The HTTP 503 a refused connection gets, with the reason as its body.
pub fn refusal(reason: &str) -> String {
    let body = format!("{reason}\n");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Writes binary messages straight to a plain-TCP WebSocket's socket, as
/// one unmasked frame each (what tungstenite sends for a server's binary
/// message).
#[derive(Debug)]
struct DirectWs {
    tcp: DirectTcp,
}

impl DirectWrite for DirectWs {
    fn allow(&self, allowed: bool) {
        self.tcp.allow(allowed);
    }

    fn try_send(&self, frames: &[&Bytes]) -> DirectOutcome {
        if frames.len() > MAX_DIRECT_MESSAGES {
            return DirectOutcome::Declined;
        }
        let header = FrameHeader {
            opcode: OpCode::Data(Data::Binary),
            ..FrameHeader::default()
        };
        // One binary frame each. The longest header RFC 6455 allows: 2
        // bytes, an 8-byte length and a 4-byte mask.
        let mut heads = [[0u8; 14]; MAX_DIRECT_MESSAGES];
        let mut head_lens = [0usize; MAX_DIRECT_MESSAGES];
        for ((frame, head), head_len) in frames.iter().zip(&mut heads).zip(&mut head_lens) {
            let mut cursor = std::io::Cursor::new(&mut head[..]);
            if header.format(frame.len() as u64, &mut cursor).is_err() {
                return DirectOutcome::Declined;
            }
            *head_len = cursor.position() as usize;
        }
        let empty = std::io::IoSlice::new(&[]);
        let mut parts = [empty; 2 * MAX_DIRECT_MESSAGES];
        for (i, frame) in frames.iter().enumerate() {
            parts[2 * i] = std::io::IoSlice::new(&heads[i][..head_lens[i]]);
            parts[2 * i + 1] = std::io::IoSlice::new(frame);
        }
        self.tcp.try_write(&parts[..2 * frames.len()])
    }
}

fn link_error(e: WsError) -> LinkError {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => LinkError::Closed,
        other => LinkError::WebSocket(Box::new(other)),
    }
}

/// The longest close reason a close frame carries: a control frame's
/// payload is at most 125 bytes (RFC 6455 §5.5), two of them the code.
const MAX_CLOSE_REASON: usize = 123;

/// How long a close frame we sent first waits for the peer's answer
/// before we shut our side down anyway: half of `LINGER`, so that hanging
/// up fits in the rest (an answer that comes later is still read, and
/// discarded, while we wait for the peer to hang up).
const ANSWER_WAIT: Duration = Duration::from_millis(500);
/// How long shutting our side down may take on its own (TLS writes its
/// `close_notify` first), even when the closing handshake used up
/// `LINGER`.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(100);

/// How a client broke the WebSocket protocol itself (RFC 6455); closed
/// with [`WsViolation::code`], the way the Autobahn test suite expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WsViolation {
    /// A client frame without a mask.
    #[error("unmasked frame from a client")]
    Unmasked,
    /// Reserved bits set (no extension was negotiated).
    #[error("reserved bits set")]
    ReservedBits,
    /// A reserved opcode.
    #[error("reserved opcode")]
    ReservedOpcode,
    /// A control frame over 125 bytes.
    #[error("control frame over 125 bytes")]
    ControlTooBig,
    /// A fragmented control frame.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A continuation frame with nothing to continue.
    #[error("continuation frame with nothing to continue")]
    LoneContinuation,
    /// A new message before the fragmented one ended.
    #[error("new message before the fragmented one ended")]
    UnfinishedFragment,
    /// A close frame too short to hold its code.
    #[error("malformed close frame")]
    MalformedClose,
    /// A frame after the client's close frame.
    #[error("frame after a close frame")]
    AfterClose,
    /// Any other breach tungstenite reports.
    #[error("WebSocket protocol violation")]
    Other,
    /// A close reason (or a text frame) that is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
}

impl WsViolation {
    /// The close code: 1007 (invalid frame payload data) for invalid
    /// UTF-8, else 1002 (protocol error), RFC 6455 §7.4.1.
    pub fn code(self) -> CloseCode {
        match self {
            Self::InvalidUtf8 => CloseCode::Invalid,
            _ => CloseCode::Protocol,
        }
    }
}

/// The WebSocket protocol violation a tungstenite read error reports, if
/// it reports one.
fn ws_violation(error: &WsError) -> Option<WsViolation> {
    match error {
        WsError::Protocol(e) => match e {
            // The peer dropped the connection without a close frame: an
            // abrupt disconnect, not a protocol violation.
            ProtocolError::ResetWithoutClosingHandshake => None,
            ProtocolError::UnmaskedFrameFromClient => Some(WsViolation::Unmasked),
            ProtocolError::NonZeroReservedBits => Some(WsViolation::ReservedBits),
            ProtocolError::InvalidOpcode(_)
            | ProtocolError::UnknownControlFrameType(_)
            | ProtocolError::UnknownDataFrameType(_) => Some(WsViolation::ReservedOpcode),
            ProtocolError::ControlFrameTooBig => Some(WsViolation::ControlTooBig),
            ProtocolError::FragmentedControlFrame => Some(WsViolation::FragmentedControl),
            ProtocolError::UnexpectedContinueFrame => Some(WsViolation::LoneContinuation),
            ProtocolError::ExpectedFragment(_) => Some(WsViolation::UnfinishedFragment),
            ProtocolError::InvalidCloseSequence => Some(WsViolation::MalformedClose),
            ProtocolError::ReceivedAfterClosing => Some(WsViolation::AfterClose),
            _ => Some(WsViolation::Other),
        },
        // A close reason (or a text frame) that is not UTF-8: 1007, invalid
        // frame payload data (RFC 6455 §7.4.1).
        WsError::Utf8(_) => Some(WsViolation::InvalidUtf8),
        _ => None,
    }
}

/// `message` cut (at a character boundary) to what a close frame can
/// carry.
fn close_reason(message: &str) -> &str {
    if message.len() <= MAX_CLOSE_REASON {
        return message;
    }
    let mut end = MAX_CLOSE_REASON;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// Where the WebSocket closing handshake (RFC 6455 §7) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closing {
    /// Nobody has sent a close frame.
    Open,
    /// The peer sent a close frame and tungstenite has queued the answer
    /// (the peer's code echoed, or 1002 for a code no endpoint may send):
    /// the answer still has to be written and our side shut down.
    AnswerOwed,
    /// Our close frame (first or in answer) is written, or could not be,
    /// and our side of the connection is shut down: nothing more is sent.
    Done,
}

/// A [`Link`] over an upgraded WebSocket, on plain TCP or TLS.
///
/// Closing follows RFC 6455 §5.5.1 and §7 whichever side starts it:
/// - The client closes first: [`Link::recv`] writes the answering close
///   frame (tungstenite echoes the client's code, answers a close frame
///   without a code with one without a code, and a code no endpoint may
///   send, such as 1005 or 999, with 1002), shuts our side down and waits
///   (at most `LINGER`) for the client to hang up, all before returning
///   [`Incoming::Closed`]. The session need not call [`Link::close`]
///   then (doing so is harmless); if it drops `recv` half-way, the next
///   `recv`, `send`, `flush` or `close` finishes the answer.
/// - The client broke the WebSocket protocol: `recv` reports
///   [`Incoming::Violation`] and remembers the WebSocket close code the
///   violation gets (1002, or 1007 for invalid UTF-8); [`Link::close`]
///   sends that code instead of the tickwire reason's own.
/// - The server closes first: [`Link::close`] sends a close frame with the
///   code and the message, waits for the client's answer (at most
///   `ANSWER_WAIT`), shuts our side down and waits for the client to hang
///   up (all at most `LINGER`).
#[derive(Debug)]
pub struct WsLink<S> {
    ws: WebSocketStream<S>,
    closing: Closing,
    /// The peer started the closing handshake (it said goodbye).
    goodbye: bool,
    /// The close code of a WebSocket protocol violation `recv` reported,
    /// which [`Link::close`] sends instead of the tickwire reason's code.
    violation: Option<CloseCode>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> WsLink<S> {
    /// Wraps an upgraded stream.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            closing: Closing::Open,
            goodbye: false,
            violation: None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Movable + Unpin + Send> WsLink<S> {
    /// Stops the room's direct writes: nothing may follow a close frame.
    fn stop_direct(&self) {
        if let Some(direct) = self.ws.get_ref().direct() {
            direct.allow(false);
        }
    }

    /// Finishes answering the peer's close frame, if that is owed: writes
    /// the answer tungstenite queued, then hangs up. Bounded by `LINGER`.
    async fn answer_close(&mut self) {
        if self.closing != Closing::AnswerOwed {
            return;
        }
        self.stop_direct();
        let deadline = tokio::time::Instant::now() + LINGER;
        // Writes the queued answer; tungstenite then reports the handshake
        // finished, which `flush` passes on as success.
        let _ = tokio::time::timeout_at(deadline, self.ws.flush()).await;
        self.hang_up(deadline).await;
    }

    /// Ends our side once the close frames are exchanged (or cannot be):
    /// shuts our side down, so that the client sees the end right after
    /// our close frame (RFC 6455 §7.1.1: the server closes the TCP
    /// connection first), then reads and discards until the client hangs
    /// up too (until `deadline`, at most `LINGER_BYTES`). Dropping a socket
    /// that still has unread input makes the kernel answer with a reset,
    /// which destroys what the client has not read yet, our close frame
    /// among it.
    async fn hang_up(&mut self, deadline: tokio::time::Instant) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.closing = Closing::Done;
        let stream = self.ws.get_mut();
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, stream.shutdown()).await;
        let drain = async {
            let mut buf = [0u8; 1024];
            let mut drained = 0;
            while drained < LINGER_BYTES {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        };
        let _ = tokio::time::timeout_at(deadline, drain).await;
    }

    /// Whether nothing more may be sent, after finishing an owed answer.
    async fn closed(&mut self) -> bool {
        match self.closing {
            Closing::Open => false,
            Closing::AnswerOwed => {
                self.answer_close().await;
                true
            }
            Closing::Done => true,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Movable + Unpin + Send> Link for WsLink<S> {
    /// The next frame. When the client closes, answers its close frame and
    /// hangs up before returning [`Incoming::Closed`] (see [`WsLink`]).
    async fn recv(&mut self) -> Incoming {
        if self.closed().await {
            // A read cut short while answering the peer's close frame
            // comes back here: it still said goodbye.
            return if self.goodbye {
                Incoming::Goodbye
            } else {
                Incoming::Closed
            };
        }
        let error = match self.ws.next().await {
            None => return Incoming::Closed,
            Some(Ok(Message::Binary(bytes))) => return Incoming::Frame(bytes),
            Some(Ok(Message::Text(_))) => {
                return Incoming::Violation(Violation::TextFrame);
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                return Incoming::Control;
            }
            Some(Ok(Message::Close(_))) => {
                self.closing = Closing::AnswerOwed;
                self.goodbye = true;
                self.answer_close().await;
                return Incoming::Goodbye;
            }
            Some(Err(error)) => error,
        };
        if let WsError::Capacity(_) = error {
            return Incoming::Violation(Violation::MessageTooLarge);
        }
        match ws_violation(&error) {
            Some(violation) => {
                self.violation = Some(violation.code());
                Incoming::Violation(violation.into())
            }
            None => Incoming::Closed,
        }
    }

    fn said_goodbye(&self) -> bool {
        self.goodbye
    }

    /// Every frame is reliable on a WebSocket.
    async fn send(&mut self, frame: Bytes, _delivery: Delivery) -> Result<(), LinkError> {
        if self.closed().await {
            return Err(LinkError::Closed);
        }
        self.ws
            .send(Message::Binary(frame))
            .await
            .map_err(link_error)
    }

    /// Runs the closing handshake: sends the close frame (the code of a
    /// WebSocket violation `recv` reported, else `reason`'s, and `message`
    /// cut to 123 bytes), then reads and discards until the peer's
    /// answering close frame (at most `ANSWER_WAIT`), then hangs up, all
    /// within `LINGER`. A flooder always has unread input; once it answers
    /// our close frame, it has read everything before it. Where the peer
    /// closed first, only finishes answering it.
    async fn close(&mut self, reason: CloseReason, message: &str) {
        if self.closed().await {
            return;
        }
        self.stop_direct();
        let deadline = tokio::time::Instant::now() + LINGER;
        let code = self
            .violation
            .unwrap_or_else(|| CloseCode::from(reason.code()));
        let frame = CloseFrame {
            code,
            reason: close_reason(message).to_owned().into(),
        };
        let handshake = async {
            // After a read error the stream yields nothing more: the close
            // frame is still written, and `hang_up` drains what follows.
            if self.ws.close(Some(frame)).await.is_err() {
                return;
            }
            while let Some(Ok(message)) = self.ws.next().await {
                if message.is_close() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(ANSWER_WAIT, handshake).await;
        self.hang_up(deadline).await;
    }

    fn detach(&mut self) -> std::io::Result<()> {
        self.ws.get_mut().detach()
    }

    fn attach(&mut self) -> std::io::Result<()> {
        self.ws.get_mut().attach()
    }

    fn park(&mut self) -> std::io::Result<()> {
        self.ws.get_mut().park()
    }

    fn unpark(&mut self) -> std::io::Result<()> {
        self.ws.get_mut().unpark()
    }

    fn received_at(&self) -> Option<u64> {
        self.ws.get_ref().received_at()
    }

    fn parks(&self) -> bool {
        true
    }

    fn direct(&self) -> Option<Arc<dyn DirectWrite>> {
        let tcp = self.ws.get_ref().direct()?;
        Some(Arc::new(DirectWs { tcp }))
    }

    async fn flush(&mut self) -> Result<(), LinkError> {
        if self.closed().await {
            return Err(LinkError::Closed);
        }
        self.ws.flush().await.map_err(link_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_violations_get_rfc_6455_close_codes() {
        let code = |e: WsError| ws_violation(&e).map(|v| u16::from(v.code()));
        for e in [
            ProtocolError::UnmaskedFrameFromClient,
            ProtocolError::NonZeroReservedBits,
            ProtocolError::InvalidOpcode(3),
            ProtocolError::InvalidOpcode(0xb),
            ProtocolError::ControlFrameTooBig,
            ProtocolError::FragmentedControlFrame,
            ProtocolError::UnexpectedContinueFrame,
            ProtocolError::ExpectedFragment(Data::Binary),
            ProtocolError::InvalidCloseSequence,
            ProtocolError::ReceivedAfterClosing,
        ] {
            assert_eq!(code(WsError::Protocol(e.clone())), Some(1002), "{e:?}");
        }
        assert_eq!(code(WsError::Utf8("bad".into())), Some(1007));
        // An abrupt disconnect, an IO error and an oversize frame are no
        // WebSocket violations: a silent end, and tickwire's own code.
        assert_eq!(
            code(WsError::Protocol(
                ProtocolError::ResetWithoutClosingHandshake
            )),
            None
        );
        assert_eq!(
            code(WsError::Io(std::io::ErrorKind::BrokenPipe.into())),
            None
        );
        let too_long = tokio_tungstenite::tungstenite::error::CapacityError::MessageTooLong {
            size: 2,
            max_size: 1,
        };
        assert_eq!(code(WsError::Capacity(too_long)), None);
    }

    #[test]
    fn close_reasons_fit_a_control_frame() {
        assert_eq!(close_reason("bye"), "bye");
        let long = "x".repeat(200);
        assert_eq!(close_reason(&long).len(), MAX_CLOSE_REASON);
        // Cut at a character boundary: 'é' is two bytes.
        let accents = "é".repeat(100);
        let cut = close_reason(&accents);
        assert_eq!(cut.len(), MAX_CLOSE_REASON - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn routes_by_method_path_and_upgrade_header() {
        let upgrade = "\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket";
        let head = |line: &str| format!("{line}{upgrade}").into_bytes();
        assert_eq!(route_of(&head("GET /ws HTTP/1.1")), Route::WebSocket);
        assert_eq!(
            route_of(&head("GET /ws?token=1 HTTP/1.1")),
            Route::WebSocket
        );
        assert_eq!(route_of(&head("GET /wsx HTTP/1.1")), Route::Http);
        assert_eq!(route_of(&head("POST /ws HTTP/1.1")), Route::Http);
        assert_eq!(route_of(&head("GET /metrics HTTP/1.1")), Route::Http);
        assert_eq!(route_of(b"garbage"), Route::Http);
        // The header's name and token in any case, among other tokens.
        assert_eq!(
            route_of(b"GET /ws HTTP/1.1\r\nupgrade:  h2c, WebSocket "),
            Route::WebSocket
        );
        // GET /ws without asking to upgrade is for the HTTP side (426).
        assert_eq!(
            route_of(b"GET /ws HTTP/1.1\r\nHost: x\r\nAccept: */*"),
            Route::Http
        );
        assert_eq!(
            route_of(b"GET /ws HTTP/1.1\r\nX-Upgrade: websocket"),
            Route::Http
        );
    }
}
