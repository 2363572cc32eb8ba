//! WebSocket closing by the book (RFC 6455 §5.5.1, §7), on real loopback
//! sockets over ws:// and wss://. A hand-driven client upgrades a TCP (or
//! TLS) stream, writes hand-built frames (masked or not, reserved bits and
//! opcodes, oversize and fragmented control frames, close frames with good
//! and bad codes and reasons) and parses what the server sends back: the
//! close frame's code and reason, and that the connection then ends (a
//! read returns 0, not a reset) in time. Whoever closes first, the other
//! side gets a close frame with a code: the client's echoed, the server's
//! own (tickwire's 4xxx codes for tickwire's rules, 1002 and 1007 for the
//! WebSocket protocol's). tokio-tungstenite as a client sees every close
//! handshake complete.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::bots::{any_port, pinned};
use support::{TestServer, WAIT, code_of, hello};
use tickwire_shared::codec;
use tickwire_shared::game::GameOptions;
use tickwire_shared::protocol::{
    ClientMessage, CloseReason, CreateRoom, Role, ServerMessage, Visibility,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How long the server may take to end the connection once close frames
/// are exchanged (or it gave up waiting for the client's): its linger of
/// 1 s and a margin.
const HANG_UP: Duration = Duration::from_secs(3);

/// Shorter than the server's linger: a server that answered a client's
/// close frame hangs up at once, without waiting for the client.
const AT_ONCE: Duration = Duration::from_millis(900);

/// The masking key of every masked frame here.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// FIN and an opcode: the first byte of an unfragmented frame.
const BINARY: u8 = 0x82;
const TEXT: u8 = 0x81;
const CLOSE: u8 = 0x88;
const PING: u8 = 0x89;

/// One frame, as bytes on the wire: `first` is the first byte (FIN, RSV
/// bits, opcode); masked with [`MASK`] unless `mask` is false.
fn frame(first: u8, mask: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if mask {
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A masked frame, as a client must send.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    frame(first, true, payload)
}

/// A close frame's payload: the code, then the reason's bytes.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// A masked close frame with `code` and `reason`.
fn close(code: u16, reason: &str) -> Vec<u8> {
    masked(CLOSE, &close_payload(code, reason.as_bytes()))
}

/// A frame the server sent.
#[derive(Debug)]
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

/// How the server closed, as the client read it.
#[derive(Debug)]
struct Closed {
    /// The close frame's code (`None`: a close frame without one).
    code: Option<u16>,
    /// The close frame's reason.
    reason: String,
    /// The tickwire messages that came before it.
    messages: Vec<ServerMessage>,
}

impl Closed {
    /// The tickwire `Close` or `Rejected` message that came before the
    /// close frame, if any.
    fn told(&self) -> Option<CloseReason> {
        self.messages.iter().rev().find_map(|m| match m {
            ServerMessage::Close(c) => Some(c.reason),
            ServerMessage::Rejected(r) => Some(r.reason),
            _ => None,
        })
    }
}

/// Parses one whole server frame from the front of `buf`: the frame and
/// its length on the wire, or `None` while it has not all arrived.
fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
    let (&first, &second) = (buf.first()?, buf.get(1)?);
    assert_eq!(second & 0x80, 0, "server frames are not masked");
    assert_eq!(first & 0x70, 0, "server frames have no reserved bits");
    let (len, head) = match second & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(head..head + len)?.to_vec();
    let opcode = first & 0x0f;
    if opcode >= 8 {
        assert!(first & 0x80 != 0, "control frames are not fragmented");
        assert!(len <= 125, "control frames carry at most 125 bytes");
    }
    Some((Frame { opcode, payload }, head + len))
}

/// A hand-driven WebSocket client over a plain or TLS stream.
struct RawWs<S> {
    stream: S,
    /// What has arrived and is not parsed yet.
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawWs<S> {
    /// Upgrades `stream` to a WebSocket at `/ws` (bounded).
    async fn upgrade(mut stream: S) -> Self {
        let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n";
        let exchange = async {
            stream.write_all(request.as_bytes()).await.expect("write");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let rest = buf.split_off(end + 4);
                    return (String::from_utf8_lossy(&buf).into_owned(), rest);
                }
                let n = stream.read(&mut chunk).await.expect("read");
                assert!(n > 0, "closed during the upgrade: {buf:?}");
                buf.extend_from_slice(&chunk[..n]);
            }
        };
        let (head, rest) = tokio::time::timeout(WAIT, exchange)
            .await
            .expect("upgrade in time");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        // The accept key RFC 6455 §1.3 gives for this request's key.
        assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
        Self { stream, buf: rest }
    }

    /// Writes bytes and flushes them.
    async fn send(&mut self, bytes: &[u8]) {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(WAIT, write)
            .await
            .expect("write in time")
            .expect("write");
    }

    /// The next frame, or `None` when the connection ends first.
    async fn frame(&mut self, deadline: Instant) -> Option<Frame> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((frame, len)) = parse(&self.buf) {
                self.buf.drain(..len);
                return Some(frame);
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("a frame in time")
                .expect("read");
            if n == 0 {
                assert!(self.buf.is_empty(), "a frame cut short: {:?}", self.buf);
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `Hello` and reads until the `Welcome`.
    async fn greet(&mut self) {
        let mut hello_frame = Vec::new();
        codec::encode_client(&ClientMessage::Hello(hello("raw")), &mut hello_frame)
            .expect("encodes");
        self.send(&masked(BINARY, &hello_frame)).await;
        self.until(|m| matches!(m, ServerMessage::Welcome(_))).await;
    }

    /// Reads until a tickwire message that `wanted` picks.
    async fn until(&mut self, wanted: impl Fn(&ServerMessage) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let frame = self.frame(deadline).await.expect("the message in time");
            if frame.opcode != 2 {
                continue;
            }
            let message = codec::decode_server(&frame.payload, codec::MAX_SERVER_FRAME)
                .expect("server frames decode");
            if wanted(&message) {
                return;
            }
        }
    }

    /// Creates a room and joins it; reads until the `Joined`.
    async fn join_new_room(&mut self) {
        let create = ClientMessage::CreateRoom(CreateRoom {
            request_id: 1,
            game: None,
            name: "closing".into(),
            visibility: Visibility::Public,
            max_players: 4,
            options: GameOptions::default(),
            join_as: Some(Role::Player),
            join_options: GameOptions::default(),
        });
        let mut bytes = Vec::new();
        codec::encode_client(&create, &mut bytes).expect("encodes");
        self.send(&masked(BINARY, &bytes)).await;
        self.until(|m| matches!(m, ServerMessage::Joined(_))).await;
    }

    /// Reads until the server's close frame: its code and reason, and the
    /// tickwire messages before it. Nothing but binary, ping and pong
    /// frames may come first.
    async fn close_frame(&mut self) -> Closed {
        let deadline = Instant::now() + WAIT;
        let mut messages = Vec::new();
        loop {
            let frame = self
                .frame(deadline)
                .await
                .expect("a close frame before the connection ends");
            match frame.opcode {
                0x8 => {
                    let payload = frame.payload;
                    assert_ne!(payload.len(), 1, "a close frame with half a code");
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    let reason = String::from_utf8(payload.get(2..).unwrap_or_default().to_vec())
                        .expect("a close reason is UTF-8");
                    return Closed {
                        code,
                        reason,
                        messages,
                    };
                }
                0x2 => messages.push(
                    codec::decode_server(&frame.payload, codec::MAX_SERVER_FRAME)
                        .expect("server frames decode"),
                ),
                0x9 | 0xa => {}
                other => panic!("unexpected frame with opcode {other:#x}"),
            }
        }
    }

    /// Asserts the server ends the connection (a read returns 0: no
    /// reset, nothing after the close frame) within `within`; returns how
    /// long that took.
    async fn ends_within(&mut self, within: Duration) -> Duration {
        assert!(
            self.buf.is_empty(),
            "bytes after the close frame: {:?}",
            self.buf
        );
        let started = Instant::now();
        let mut chunk = [0u8; 1024];
        let read = tokio::time::timeout(within, self.stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("the connection did not end within {within:?}"));
        match read {
            Ok(0) => started.elapsed(),
            Ok(n) => panic!("bytes after the close frame: {:?}", &chunk[..n]),
            Err(e) => panic!("the connection was reset, not closed: {e}"),
        }
    }
}

/// A raw WebSocket over plain TCP.
async fn ws(server: &TestServer) -> RawWs<TcpStream> {
    let tcp = tokio::time::timeout(WAIT, TcpStream::connect(server.addr))
        .await
        .expect("connect in time")
        .expect("connects");
    RawWs::upgrade(tcp).await
}

/// A TLS stream to the server's TLS port, its certificate pinned.
async fn tls(server: &TestServer) -> TlsStream<TcpStream> {
    let config = pinned(server).client_config().expect("client config");
    let tcp = tokio::time::timeout(WAIT, TcpStream::connect(server.tls_addr.expect("tls")))
        .await
        .expect("connect in time")
        .expect("connects");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let connect = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    tokio::time::timeout(WAIT, connect)
        .await
        .expect("TLS handshake in time")
        .expect("TLS handshake")
}

/// A raw WebSocket over TLS.
async fn wss(server: &TestServer) -> RawWs<TlsStream<TcpStream>> {
    RawWs::upgrade(tls(server).await).await
}

/// Polls a metric every 20 ms until it equals `value` (bounded).
async fn metric_becomes(server: &TestServer, sample: &str, value: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = server.metric(sample).await;
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sample} stayed {now}, not {value}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_close_is_echoed_and_the_server_hangs_up_first() {
    let server = TestServer::start().await;
    for code in [1000, 1001, 1011, 3000, 4000, 4999] {
        let mut client = ws(&server).await;
        client.greet().await;
        client.send(&close(code, "bye")).await;
        let closed = client.close_frame().await;
        assert_eq!(closed.code, Some(code), "{closed:?}");
        assert_eq!(closed.reason, "bye");
        // The client waits for the server to close the TCP connection,
        // which it does right after its answer.
        let took = client.ends_within(HANG_UP).await;
        assert!(took < AT_ONCE, "the server hung up only after {took:?}");
    }
    metric_becomes(&server, "tickwire_connections", 0.0).await;
    assert_eq!(
        server
            .metric("tickwire_sessions_closed_total{reason=\"normal\"}")
            .await,
        6.0
    );
    server.stop().await.expect("clean stop");
}

/// A member's room reads its connection at each tick (the socket parked):
/// closing by the book holds there too, whoever starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_member_whose_room_reads_its_connection_closes_by_the_book() {
    let server = TestServer::start().await;
    let mut leaving = ws(&server).await;
    leaving.greet().await;
    leaving.join_new_room().await;
    metric_becomes(&server, "tickwire_sessions_attached_total", 1.0).await;
    leaving.send(&close(1000, "done")).await;
    let closed = leaving.close_frame().await;
    assert_eq!((closed.code, closed.reason.as_str()), (Some(1000), "done"));
    let took = leaving.ends_within(HANG_UP).await;
    assert!(took < AT_ONCE, "the server hung up only after {took:?}");
    metric_becomes(&server, "tickwire_players", 0.0).await;

    let mut breaking = ws(&server).await;
    breaking.greet().await;
    breaking.join_new_room().await;
    metric_becomes(&server, "tickwire_sessions_attached_total", 2.0).await;
    breaking.send(&frame(BINARY, false, b"unmasked")).await;
    let closed = breaking.close_frame().await;
    assert_eq!(closed.code, Some(1002), "{closed:?}");
    breaking.ends_within(HANG_UP).await;
    metric_becomes(&server, "tickwire_players", 0.0).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_right_after_the_echo_leaves_nothing_behind() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        let mut client = ws(&server).await;
        client.greet().await;
        client.send(&close(1000, "")).await;
        let closed = client.close_frame().await;
        assert_eq!(closed.code, Some(1000), "{closed:?}");
        assert_eq!(closed.reason, "");
        drop(client); // closes the TCP connection at once
    }
    metric_becomes(&server, "tickwire_connections", 0.0).await;
    // The server is fine: a new client greets and lists rooms.
    let mut client = support::Client::greeted(&server, "after").await;
    assert!(client.list().await.is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_without_a_code_is_answered_without_one_before_or_after_hello() {
    let server = TestServer::start().await;
    for greet in [false, true] {
        let mut client = ws(&server).await;
        if greet {
            client.greet().await;
        }
        client.send(&masked(CLOSE, &[])).await;
        let closed = client.close_frame().await;
        assert_eq!(closed.code, None, "{closed:?}");
        // Nothing but the lobby's heartbeat pings (the first leaves right
        // after Welcome) comes before the answer: no Close message.
        assert!(
            closed
                .messages
                .iter()
                .all(|m| matches!(m, ServerMessage::Ping(_))),
            "{closed:?}"
        );
        let took = client.ends_within(HANG_UP).await;
        assert!(took < AT_ONCE, "the server hung up only after {took:?}");
    }
    // A close 1000 during the handshake is echoed too.
    let mut client = ws(&server).await;
    client.send(&close(1000, "changed my mind")).await;
    let closed = client.close_frame().await;
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (Some(1000), "changed my mind")
    );
    client.ends_within(HANG_UP).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_closes_first_with_its_code_and_reason_whether_the_client_answers_or_not() {
    let server = TestServer::start().await;
    for answer in [true, false] {
        let mut client = ws(&server).await;
        client.greet().await;
        client.send(&masked(TEXT, b"{\"hello\":1}")).await;
        let closed = client.close_frame().await;
        assert_eq!(
            closed.code,
            Some(code_of(CloseReason::UnsupportedFrame)),
            "{closed:?}"
        );
        assert_eq!(closed.reason, "text frames are not accepted");
        assert_eq!(closed.told(), Some(CloseReason::UnsupportedFrame));
        if answer {
            client.send(&close(closed.code.expect("a code"), "")).await;
            let took = client.ends_within(HANG_UP).await;
            assert!(took < AT_ONCE, "the server hung up only after {took:?}");
        } else {
            // The server waits a while for the answer, then hangs up.
            client.ends_within(HANG_UP).await;
        }
    }
    metric_becomes(&server, "tickwire_connections", 0.0).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_timeout_closes_with_its_code_and_reason() {
    let server = TestServer::start_with(|c| c.timeouts.handshake_ms = 300).await;
    for answer in [true, false] {
        let mut client = ws(&server).await;
        let closed = client.close_frame().await;
        assert_eq!(
            closed.code,
            Some(code_of(CloseReason::HandshakeTimeout)),
            "{closed:?}"
        );
        assert_eq!(closed.reason, "no Hello in time");
        assert_eq!(closed.told(), Some(CloseReason::HandshakeTimeout));
        if answer {
            client.send(&close(closed.code.expect("a code"), "")).await;
        }
        client.ends_within(HANG_UP).await;
    }
    server.stop().await.expect("clean stop");
}

/// What breaks the WebSocket protocol itself, and the close code each
/// gets (RFC 6455 §7.4.1: 1002 protocol error, 1007 invalid payload).
fn violations() -> Vec<(&'static str, Vec<u8>, u16)> {
    let close_with = |code: u16| masked(CLOSE, &close_payload(code, b""));
    vec![
        (
            "unmasked binary frame",
            frame(BINARY, false, &[1, 2, 3]),
            1002,
        ),
        (
            "unmasked close frame",
            frame(CLOSE, false, &close_payload(1000, b"")),
            1002,
        ),
        ("RSV1 set", masked(0xc2, &[1, 2, 3]), 1002),
        ("RSV2 and RSV3 set", masked(0xb2, &[1, 2, 3]), 1002),
        ("reserved data opcode 0x3", masked(0x83, &[1, 2, 3]), 1002),
        (
            "reserved control opcode 0xB",
            masked(0x8b, &[1, 2, 3]),
            1002,
        ),
        ("126-byte ping", masked(PING, &[7; 126]), 1002),
        ("fragmented ping", masked(0x09, b"ping"), 1002),
        (
            "continuation with nothing to continue",
            masked(0x80, b"more"),
            1002,
        ),
        ("close code 1005", close_with(1005), 1002),
        ("close code 1006", close_with(1006), 1002),
        ("close code 999", close_with(999), 1002),
        ("close code 5000", close_with(5000), 1002),
        ("close code 1015", close_with(1015), 1002),
        ("close code 2999", close_with(2999), 1002),
        ("close payload of one byte", masked(CLOSE, &[0x03]), 1002),
        (
            "close reason not UTF-8",
            masked(CLOSE, &close_payload(1000, &[0xce, 0xba, 0xff, 0xfe])),
            1007,
        ),
        ("text frame not UTF-8", masked(TEXT, &[0xc3, 0x28]), 1007),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_protocol_violations_close_with_1002_or_1007() {
    let server = TestServer::start().await;
    for (i, (what, bytes, code)) in violations().into_iter().enumerate() {
        let mut client = ws(&server).await;
        client.greet().await;
        client.send(&bytes).await;
        let closed = client.close_frame().await;
        assert_eq!(closed.code, Some(code), "{what}: {closed:?}");
        assert!(!closed.reason.is_empty(), "{what}: a close reason");
        // Half the clients answer the close frame, half just wait.
        if i % 2 == 0 {
            client.send(&close(code, "")).await;
        }
        let took = client.ends_within(HANG_UP).await;
        assert!(
            took < AT_ONCE,
            "{what}: the server hung up only after {took:?}"
        );
    }
    // Before Hello, the same.
    for (what, bytes, code) in violations().into_iter().step_by(5) {
        let mut client = ws(&server).await;
        client.send(&bytes).await;
        let closed = client.close_frame().await;
        assert_eq!(closed.code, Some(code), "{what} before Hello: {closed:?}");
        client.ends_within(HANG_UP).await;
    }
    metric_becomes(&server, "tickwire_connections", 0.0).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickwire_violations_keep_tickwire_codes() {
    let server = TestServer::start().await;
    let cases = [
        (
            "bytes that are no message",
            masked(BINARY, &[0xff, 1, 2]),
            CloseReason::MalformedFrame,
        ),
        (
            "a frame over the size limit",
            masked(BINARY, &[6; 8 * 1024]),
            CloseReason::FrameTooLarge,
        ),
    ];
    for (what, bytes, reason) in cases {
        let mut client = ws(&server).await;
        client.greet().await;
        client.send(&bytes).await;
        let closed = client.close_frame().await;
        assert_eq!(closed.code, Some(code_of(reason)), "{what}: {closed:?}");
        assert_eq!(closed.told(), Some(reason), "{what}");
        assert!(closed.reason.len() <= 123, "{what}: {closed:?}");
        client.send(&close(1000, "")).await;
        client.ends_within(HANG_UP).await;
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_wss_closes_are_by_the_book_too() {
    let server = TestServer::start_with(|c| c.tls_bind = any_port()).await;

    // The client closes first, then waits for the server to hang up.
    let mut client = wss(&server).await;
    client.greet().await;
    client.send(&close(1000, "bye")).await;
    let closed = client.close_frame().await;
    assert_eq!((closed.code, closed.reason.as_str()), (Some(1000), "bye"));
    let took = client.ends_within(HANG_UP).await;
    assert!(took < AT_ONCE, "the server hung up only after {took:?}");

    // The client closes first and hangs up at once.
    let mut client = wss(&server).await;
    client.greet().await;
    client.send(&close(1001, "")).await;
    assert_eq!(client.close_frame().await.code, Some(1001));
    drop(client);

    // The server closes first.
    let mut client = wss(&server).await;
    client.greet().await;
    client.send(&masked(TEXT, b"text")).await;
    let closed = client.close_frame().await;
    assert_eq!(closed.code, Some(code_of(CloseReason::UnsupportedFrame)));
    client.send(&close(1000, "")).await;
    client.ends_within(HANG_UP).await;

    // WebSocket violations.
    for (what, bytes, code) in [
        ("unmasked frame", frame(BINARY, false, &[1]), 1002),
        (
            "close code 1005",
            masked(CLOSE, &close_payload(1005, b"")),
            1002,
        ),
        (
            "close reason not UTF-8",
            masked(CLOSE, &close_payload(1000, &[0xff])),
            1007,
        ),
    ] {
        let mut client = wss(&server).await;
        client.greet().await;
        client.send(&bytes).await;
        let closed = client.close_frame().await;
        assert_eq!(closed.code, Some(code), "{what}: {closed:?}");
        client.ends_within(HANG_UP).await;
    }
    metric_becomes(&server, "tickwire_connections", 0.0).await;
    server.stop().await.expect("clean stop");
}

/// A tokio-tungstenite client over `stream`, greeted.
async fn tungstenite<S>(url: String, stream: S) -> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, stream))
        .await
        .expect("upgrade in time")
        .expect("upgrades");
    let mut hello_frame = Vec::new();
    codec::encode_client(
        &ClientMessage::Hello(hello("tungstenite")),
        &mut hello_frame,
    )
    .expect("encodes");
    tokio::time::timeout(WAIT, ws.send(Message::Binary(hello_frame.into())))
        .await
        .expect("send in time")
        .expect("sends");
    ws
}

/// Reads until the stream ends; the close frame that came, failing on
/// any error (a missing closing handshake among them).
async fn close_seen<S>(ws: &mut WebSocketStream<S>) -> CloseFrame
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + WAIT;
    let mut seen = None;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the connection ends in time");
        match next {
            Some(Ok(Message::Close(frame))) => seen = Some(frame.expect("a close code")),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the closing handshake failed: {e:?}"),
            None => return seen.expect("a close frame before the end"),
        }
    }
}

/// Closes with 1000 and checks the server's answer; then has the server
/// close a second connection first (a text frame) and checks its frame.
async fn tungstenite_closes<S, F>(url: &str, connect: impl Fn() -> F)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Future<Output = S>,
{
    let mut ws = tungstenite(url.to_owned(), connect().await).await;
    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    tokio::time::timeout(WAIT, ws.close(Some(bye)))
        .await
        .expect("close in time")
        .expect("close frame sent");
    let answer = close_seen(&mut ws).await;
    assert_eq!(answer.code, CloseCode::Normal, "{answer:?}");
    assert_eq!(answer.reason.as_str(), "bye");

    let mut ws = tungstenite(url.to_owned(), connect().await).await;
    tokio::time::timeout(WAIT, ws.send(Message::Text("hi".into())))
        .await
        .expect("send in time")
        .expect("sends");
    let closed = close_seen(&mut ws).await;
    assert_eq!(
        u16::from(closed.code),
        code_of(CloseReason::UnsupportedFrame),
        "{closed:?}"
    );
    assert_eq!(closed.reason.as_str(), "text frames are not accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tungstenite_client_sees_each_closing_handshake_complete() {
    let server = TestServer::start_with(|c| c.tls_bind = any_port()).await;
    let addr = server.addr;
    tungstenite_closes(&server.ws_url(), || async move {
        TcpStream::connect(addr).await.expect("connects")
    })
    .await;
    tungstenite_closes(&server.wss_url(), || tls(&server)).await;
    metric_becomes(&server, "tickwire_connections", 0.0).await;
    server.stop().await.expect("clean stop");
}
