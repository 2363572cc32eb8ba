//! The Rust client library: a tickwire connection over WebSocket (`ws://`),
//! WebSocket over TLS (`wss://`, see [`ClientTls`]) or QUIC (`quic://`, see
//! [`crate::quic`]) that greets, runs lobby requests, rebuilds the world
//! from updates (checksums verified by the shared [`Replica`]), acknowledges
//! what it rebuilt, and sends inputs. Bots are built on it; so can a game
//! client be. Every method works the same over every transport.
//!
//! Over QUIC, updates may arrive out of order or not at all (they are
//! datagrams): an update older than the newest world comes back as
//! [`ClientEvent::UpdateFailed`] with [`ReplicaError::Stale`], which is
//! normal there and harmless (the replica is unchanged).
//!
//! ```no_run
//! # async fn demo() -> Result<(), tickwire_bot::client::ClientError> {
//! use tickwire_bot::client::{Client, ClientEvent};
//! use tickwire_shared::arena::{ArenaInput, SCHEMA};
//!
//! let mut client = Client::connect("ws://127.0.0.1:7000/ws", "me", SCHEMA).await?;
//! let joined = client.quick_join(Default::default()).await?;
//! println!("in room {} at {} Hz", joined.room.id, joined.tick_rate.hz());
//! loop {
//!     match client.next_event().await? {
//!         ClientEvent::Update(update) => {
//!             let world = client.world().expect("just rebuilt");
//!             println!("tick {}: {} entities, {} us after the server's tick", update.tick, world.len(), update.latency_us);
//!             client.send_input(&ArenaInput { move_x: 1.0, ..Default::default() }).await?;
//!         }
//!         ClientEvent::Closed(reason) => break println!("closed: {reason:?}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tickwire_shared::client::{Replica, ReplicaError};
use tickwire_shared::codec::{self, DecodeError, EncodeError};
use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::PlayerId;
use tickwire_shared::protocol::*;
use tickwire_shared::schema::Schema;
use tickwire_shared::snapshot::WorldSnapshot;
use tickwire_shared::tick::Tick;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long a request waits for its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong with a connection.
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
    /// The connection ended without a reason.
    #[error("connection lost")]
    Lost,
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

/// How a `wss://` or `quic://` connection accepts the server's certificate. Never
/// silently: the default verifies against the public web PKI roots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ClientTls {
    /// Verify the chain and name against the webpki roots (Mozilla's).
    #[default]
    Verify,
    /// Accept exactly the certificate whose SHA-256 fingerprint this is
    /// (`AB:CD:...` as the server logs it; case and colons do not matter).
    /// The handshake signatures are still verified.
    Fingerprint(String),
    /// Accept any certificate (the handshake signatures are still
    /// verified, so the connection is encrypted, but not authenticated).
    Insecure,
    /// Verify against these roots instead (a private CA, tests).
    Roots(Vec<CertificateDer<'static>>),
}

/// SHA-256 of a certificate's DER encoding as uppercase hex pairs joined
/// by `:` (the server's format).
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// Parses a fingerprint: 32 bytes of hex, colons optional, any case.
fn parse_fingerprint(text: &str) -> Result<[u8; 32], ClientError> {
    let hex: String = text.chars().filter(|&c| c != ':').collect();
    let bad = || {
        ClientError::Tls(format!(
            "invalid certificate fingerprint {text:?}: expected 32 hex byte pairs (AB:CD:...)"
        ))
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Accepts a pinned certificate (or, unpinned, any) and checks the
/// handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct PinnedVerifier {
    /// `None` accepts any certificate (`--insecure`).
    expected: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(expected) = self.expected else {
            return Ok(ServerCertVerified::assertion());
        };
        let actual: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if actual == expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate fingerprint mismatch: the server's is {}",
                fingerprint(end_entity)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ClientTls {
    /// The rustls client configuration for `wss://` (ring provider, TLS 1.2
    /// and 1.3, ALPN `http/1.1`).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, ClientError> {
        self.client_config_with(rustls::DEFAULT_VERSIONS, b"http/1.1")
    }

    /// The rustls client configuration with these protocol versions and
    /// this one ALPN protocol (QUIC: TLS 1.3 and `tickwire/1`).
    pub fn client_config_with(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[u8],
    ) -> Result<rustls::ClientConfig, ClientError> {
        let tls_error = |e: rustls::Error| ClientError::Tls(e.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(tls_error)?;
        let roots = |store: rustls::RootCertStore| builder.clone().with_root_certificates(store);
        let pinned = |expected| {
            builder
                .clone()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                    expected,
                    provider: Arc::clone(&provider),
                }))
        };
        let with_verifier = match self {
            Self::Verify => roots(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
            Self::Roots(certs) => {
                let mut store = rustls::RootCertStore::empty();
                for cert in certs {
                    store.add(cert.clone()).map_err(tls_error)?;
                }
                roots(store)
            }
            Self::Fingerprint(text) => pinned(Some(parse_fingerprint(text)?)),
            Self::Insecure => pinned(None),
        };
        let mut config = with_verifier.with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(config)
    }
}

/// A client's byte stream: plain TCP (`ws://`) or TLS over TCP (`wss://`).
#[derive(Debug)]
pub enum ClientStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open WebSocket to a tickwire server.
pub type ClientWs = WebSocketStream<ClientStream>;

/// Byte and message counts of one connection, payload and framed. Framed
/// counts add the WebSocket frame headers (and masks), or over QUIC the
/// 4-byte length prefix of control-stream frames (datagrams count as their
/// payload); QUIC packet headers, encryption overhead and acknowledgements
/// are not included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Frames received.
    pub messages_in: u64,
    /// Frames sent.
    pub messages_out: u64,
    /// Payload bytes received.
    pub payload_in: u64,
    /// Payload bytes sent.
    pub payload_out: u64,
    /// Bytes received including WebSocket frame headers.
    pub framed_in: u64,
    /// Bytes sent including WebSocket frame headers and masks.
    pub framed_out: u64,
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, other: Self) {
        self.messages_in += other.messages_in;
        self.messages_out += other.messages_out;
        self.payload_in += other.payload_in;
        self.payload_out += other.payload_out;
        self.framed_in += other.framed_in;
        self.framed_out += other.framed_out;
    }
}

impl std::ops::Sub for Traffic {
    type Output = Self;

    /// The traffic between two readings of one connection's counters.
    fn sub(self, earlier: Self) -> Self {
        Self {
            messages_in: self.messages_in - earlier.messages_in,
            messages_out: self.messages_out - earlier.messages_out,
            payload_in: self.payload_in - earlier.payload_in,
            payload_out: self.payload_out - earlier.payload_out,
            framed_in: self.framed_in - earlier.framed_in,
            framed_out: self.framed_out - earlier.framed_out,
        }
    }
}

/// WebSocket frame header length for a payload; client frames carry a
/// 4-byte mask too.
fn ws_header(len: usize, masked: bool) -> u64 {
    let base = match len {
        0..=125 => 2,
        126..=65_535 => 4,
        _ => 10,
    };
    base + if masked { 4 } else { 0 }
}

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The answer to a server ping that arrived at `received`, leaving now.
fn answer((ping, received): (Ping, Instant)) -> Pong {
    Pong::answering(ping, unix_us(), received.elapsed())
}

/// The client's WebSocket read buffer. tungstenite zero-fills the free
/// part of its read buffer before every read (including the one that finds
/// nothing), so its 128 KiB default costs two 128 KiB memsets per update:
/// a third of a bot's CPU in a profile. Updates are hundreds of bytes;
/// bigger ones take a few reads.
const READ_BUFFER: usize = 4 * 1024;

/// The WebSocket settings for talking to a tickwire server: a small read
/// buffer, and no frame or message larger than the server ever sends.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_frame_size(Some(codec::MAX_SERVER_FRAME))
        .max_message_size(Some(codec::MAX_SERVER_FRAME))
}

/// When a client acknowledges the worlds it rebuilt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AckMode {
    /// In a message of its own, as soon as an update is applied (the
    /// default: right for clients whose inputs follow their own clock).
    #[default]
    Immediate,
    /// In the next [`Client::send_input`]: for clients that send an input
    /// as each update arrives, so that one frame a tick goes upstream. The
    /// answer to a server ping then waits for the next input too (or goes
    /// on its own if an update arrives first), and says how long it waited.
    WithInput,
}

/// One update, as applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedUpdate {
    /// Its tick.
    pub tick: Tick,
    /// Whether it was a full snapshot.
    pub full: bool,
    /// Ticks between the update and its baseline (0 for a full snapshot).
    pub baseline_age: u32,
    /// Frame size in bytes.
    pub bytes: usize,
    /// Microseconds from the server's tick start to the world being rebuilt
    /// here (same-host clocks; meaningless across machines without sync).
    pub latency_us: u64,
}

/// Something the server sent, after the client handled the routine parts.
#[derive(Debug)]
pub enum ClientEvent {
    /// An update was applied and acknowledged; [`Client::world`] is new.
    Update(AppliedUpdate),
    /// An update could not be applied (the replica is unchanged and the
    /// server keeps encoding against the last acknowledged state).
    UpdateFailed(ReplicaError),
    /// A custom room event.
    Event(RoomEvent),
    /// The answer to an event this client sent.
    EventReply(EventReply),
    /// A request error not tied to a pending request.
    Error(ErrorMessage),
    /// The client left its room (closed, kicked).
    Left(Left),
    /// A server ping was answered; or a pong arrived with this RTT.
    Rtt(u64),
    /// Another message (room list, ...).
    Other(ServerMessage),
    /// The session ended; the reason when the server gave one.
    Closed(Option<(CloseReason, String)>),
}

/// How many inputs a QUIC input datagram carries (the newest and the ones
/// before it), so that a lost datagram costs nothing.
pub const QUIC_REPEATED_INPUTS: usize = 3;

/// The transport under a client.
#[derive(Debug)]
enum Conn {
    Ws(Box<ClientWs>),
    Quic(Box<crate::quic::QuicConn>),
}

/// A tickwire client connection.
#[derive(Debug)]
pub struct Client {
    conn: Conn,
    /// The last inputs sent, oldest first (repeated over QUIC).
    recent_inputs: VecDeque<Vec<u8>>,
    /// A `Close` message arrived (a QUIC close that follows is not
    /// reported twice).
    close_seen: bool,
    replica: Replica,
    player: PlayerId,
    room: Option<Joined>,
    next_request: u32,
    next_seq: u32,
    ack_mode: AckMode,
    pending_ack: Option<Tick>,
    /// A ping waiting to go out with the next input.
    ping_queued: bool,
    /// A server ping waiting to be answered with the next input, and when
    /// it arrived.
    held_ping: Option<(Ping, Instant)>,
    traffic: Traffic,
    buf: Vec<u8>,
}

impl Client {
    /// Opens a WebSocket to `url` (`ws://host:port/ws` or
    /// `wss://host:port/ws`) without greeting; use [`Client::connect`]
    /// normally. `tls` says how a `wss://` server's certificate is
    /// accepted (ignored for `ws://`). Nagle's algorithm is disabled on the
    /// TCP stream either way: with it, an ack sent right after an update
    /// waits for the server's delayed TCP ACK (up to 40 ms on Linux), and
    /// the server then encodes against a state one tick older than it
    /// could.
    pub async fn open(url: &str, tls: &ClientTls) -> Result<ClientWs, ClientError> {
        tokio::time::timeout(REQUEST_TIMEOUT, Self::open_untimed(url, tls))
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn open_untimed(url: &str, tls: &ClientTls) -> Result<ClientWs, ClientError> {
        let request = url.into_client_request()?;
        let uri = request.uri();
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => {
                return Err(ClientError::Connect(format!(
                    "{url}: not a ws:// or wss:// URL"
                )));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| ClientError::Connect(format!("{url}: no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| ClientError::Connect(format!("{host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let stream = if secure {
            let config = tls.client_config()?;
            let name = ServerName::try_from(host.clone())
                .map_err(|e| ClientError::Tls(format!("invalid server name {host:?}: {e}")))?;
            let tls_stream = TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| ClientError::Tls(format!("handshake with {host}:{port}: {e}")))?;
            ClientStream::Tls(Box::new(tls_stream))
        } else {
            ClientStream::Plain(tcp)
        };
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config())).await?;
        Ok(ws)
    }

    /// Connects and completes the handshake. `schema` is the game's
    /// (`tickwire_shared::arena::SCHEMA` for the arena). A `wss://` URL
    /// verifies the certificate against the webpki roots; see
    /// [`Client::connect_with`] to pin one or use private roots.
    pub async fn connect(url: &str, name: &str, schema: Schema) -> Result<Self, ClientError> {
        Self::connect_with(url, name, schema, &ClientTls::default()).await
    }

    /// [`Client::connect`] with explicit TLS options for `wss://` and
    /// `quic://`. The URL's scheme picks the transport: `ws://host:port/ws`,
    /// `wss://host:port/ws`, or `quic://host:port` (no path).
    pub async fn connect_with(
        url: &str,
        name: &str,
        schema: Schema,
        tls: &ClientTls,
    ) -> Result<Self, ClientError> {
        let conn = if url.starts_with("quic://") {
            let open = crate::quic::QuicConn::open(url, tls);
            let quic = tokio::time::timeout(REQUEST_TIMEOUT, open)
                .await
                .map_err(|_| ClientError::Timeout)??;
            Conn::Quic(Box::new(quic))
        } else {
            Conn::Ws(Box::new(Self::open(url, tls).await?))
        };
        Self::greet_on(conn, name, schema).await
    }

    /// Completes the handshake on an open WebSocket.
    pub async fn greet(ws: ClientWs, name: &str, schema: Schema) -> Result<Self, ClientError> {
        Self::greet_on(Conn::Ws(Box::new(ws)), name, schema).await
    }

    async fn greet_on(conn: Conn, name: &str, schema: Schema) -> Result<Self, ClientError> {
        let mut client = Self {
            conn,
            recent_inputs: VecDeque::with_capacity(QUIC_REPEATED_INPUTS),
            close_seen: false,
            replica: Replica::new(schema),
            player: PlayerId(0),
            room: None,
            next_request: 0,
            next_seq: 0,
            ack_mode: AckMode::default(),
            pending_ack: None,
            ping_queued: false,
            held_ping: None,
            traffic: Traffic::default(),
            buf: Vec::with_capacity(256),
        };
        let hello = Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: name.to_owned(),
            auth_ticket: None,
            resume_token: None,
        };
        client.send(&ClientMessage::Hello(hello)).await?;
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            match client.recv_until(deadline).await? {
                ServerMessage::Welcome(welcome) => {
                    client.player = welcome.player;
                    return Ok(client);
                }
                ServerMessage::Rejected(r) => {
                    return Err(ClientError::Rejected {
                        reason: r.reason,
                        message: r.message,
                    });
                }
                ServerMessage::Close(c) => {
                    return Err(ClientError::Closed {
                        reason: c.reason,
                        message: c.message,
                    });
                }
                _ => continue,
            }
        }
    }

    /// This client's player id.
    pub fn player(&self) -> PlayerId {
        self.player
    }

    /// The room joined, if any.
    pub fn room(&self) -> Option<&Joined> {
        self.room.as_ref()
    }

    /// The newest world rebuilt.
    pub fn world(&self) -> Option<&WorldSnapshot> {
        self.replica.latest()
    }

    /// The replica (worlds of recent ticks).
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Chooses when updates are acknowledged.
    pub fn set_ack_mode(&mut self, mode: AckMode) {
        self.ack_mode = mode;
    }

    /// Traffic so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// The transport's name: `"ws"`, `"wss"` or `"quic"`.
    pub fn transport(&self) -> &'static str {
        match &self.conn {
            Conn::Ws(ws) => match ws.get_ref() {
                ClientStream::Plain(_) => "ws",
                ClientStream::Tls(_) => "wss",
            },
            Conn::Quic(_) => "quic",
        }
    }

    /// Sends a message. Over QUIC, inputs and acknowledgements go as
    /// datagrams when they fit the path (losing one costs nothing: inputs
    /// repeat, and a newer ack supersedes an older one), everything else on
    /// the control stream.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.write(message, true).await
    }

    /// [`Client::send`], optionally leaving a WebSocket frame in the write
    /// buffer for the next flushing write to carry along.
    async fn write(&mut self, message: &ClientMessage, flush: bool) -> Result<(), ClientError> {
        self.buf.clear();
        codec::encode_client(message, &mut self.buf)?;
        let frame = std::mem::take(&mut self.buf);
        let sent = match &mut self.conn {
            Conn::Ws(_) => {
                let message = Message::Binary(frame.clone().into());
                self.write_frame(message, flush).await
            }
            Conn::Quic(quic) => {
                let unreliable =
                    matches!(message, ClientMessage::Inputs(_) | ClientMessage::Ack(_));
                let datagram = unreliable && quic.send_datagram(&frame)?;
                if !datagram {
                    quic.send_stream(&frame).await?;
                }
                self.traffic.messages_out += 1;
                self.traffic.payload_out += frame.len() as u64;
                self.traffic.framed_out += frame.len() as u64 + if datagram { 0 } else { 4 };
                Ok(())
            }
        };
        self.buf = frame;
        sent
    }

    /// Sends any WebSocket message as is (misbehaving bots use this). Over
    /// QUIC, a binary or text message's payload goes on the control stream
    /// as one frame; other kinds have no QUIC equivalent and are skipped.
    pub async fn send_frame(&mut self, message: Message) -> Result<(), ClientError> {
        self.write_frame(message, true).await
    }

    async fn write_frame(&mut self, message: Message, flush: bool) -> Result<(), ClientError> {
        let len = message.len();
        let framing = match &mut self.conn {
            Conn::Ws(ws) => {
                if flush {
                    ws.send(message).await?;
                } else {
                    ws.feed(message).await?;
                }
                ws_header(len, true)
            }
            Conn::Quic(quic) => {
                match message {
                    Message::Binary(data) => quic.send_stream(&data).await?,
                    Message::Text(text) => quic.send_stream(text.as_bytes()).await?,
                    _ => return Ok(()),
                }
                4
            }
        };
        self.traffic.messages_out += 1;
        self.traffic.payload_out += len as u64;
        self.traffic.framed_out += len as u64 + framing;
        Ok(())
    }

    /// Sends one game input with the next sequence number (and, in
    /// [`AckMode::WithInput`], the pending acknowledgement). Over QUIC the
    /// message repeats the last [`QUIC_REPEATED_INPUTS`] inputs (oldest
    /// first), as it travels as an unreliable datagram; over WebSocket it
    /// carries only this one.
    pub async fn send_input<I: Serialize>(&mut self, input: &I) -> Result<(), ClientError> {
        let mut bytes = Vec::with_capacity(32);
        codec::encode_value(input, &mut bytes)?;
        self.next_seq = self.next_seq.wrapping_add(1);
        let inputs = match self.conn {
            Conn::Ws(_) => vec![bytes],
            Conn::Quic(_) => {
                if self.recent_inputs.len() == QUIC_REPEATED_INPUTS {
                    self.recent_inputs.pop_front();
                }
                self.recent_inputs.push_back(bytes);
                // Never repeat inputs from before sequence number 1.
                let held = self.recent_inputs.len().min(self.next_seq as usize);
                self.recent_inputs
                    .iter()
                    .skip(self.recent_inputs.len() - held.max(1))
                    .cloned()
                    .collect()
            }
        };
        let inputs = Inputs {
            newest_seq: self.next_seq,
            inputs,
            ack: self.pending_ack.take(),
        };
        let ping = std::mem::take(&mut self.ping_queued);
        let pong = self.held_ping.take();
        // Over WebSocket, the input, a pong and a ping leave in one write.
        self.write(&ClientMessage::Inputs(inputs), !ping && pong.is_none())
            .await?;
        if let Some(held) = pong {
            self.write(&ClientMessage::Pong(answer(held)), !ping)
                .await?;
        }
        if ping {
            self.ping().await?;
        }
        Ok(())
    }

    /// Answers a held server ping now.
    async fn answer_held_ping(&mut self) -> Result<(), ClientError> {
        match self.held_ping.take() {
            Some(held) => self.send(&ClientMessage::Pong(answer(held))).await,
            None => Ok(()),
        }
    }

    /// Reads the next message; `None` when the connection ended.
    /// Cancel-safe (one await on a stream or channel), so it can sit in a
    /// `select!`; hand what it returns to [`Client::process`]. A QUIC
    /// application close from the server comes back as a
    /// [`ServerMessage::Close`] with the reason its code names, unless a
    /// `Close` message already arrived.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        let ws = match &mut self.conn {
            Conn::Ws(ws) => ws,
            Conn::Quic(quic) => {
                use crate::quic::Inbound;
                return match quic.incoming.recv().await {
                    None | Some(Inbound::Ended(None)) => Ok(None),
                    Some(Inbound::Ended(Some((reason, message)))) => {
                        if std::mem::replace(&mut self.close_seen, true) {
                            Ok(None)
                        } else {
                            Ok(Some(ServerMessage::Close(Close { reason, message })))
                        }
                    }
                    Some(Inbound::Failed(why)) => Err(ClientError::Quic(why)),
                    Some(Inbound::Frame { bytes, datagram }) => {
                        self.traffic.messages_in += 1;
                        self.traffic.payload_in += bytes.len() as u64;
                        self.traffic.framed_in += bytes.len() as u64 + if datagram { 0 } else { 4 };
                        let message = codec::decode_server(&bytes, codec::MAX_SERVER_FRAME)?;
                        if matches!(message, ServerMessage::Close(_)) {
                            self.close_seen = true;
                        }
                        Ok(Some(message))
                    }
                };
            }
        };
        loop {
            let Some(next) = ws.next().await else {
                return Ok(None);
            };
            match next {
                Ok(Message::Binary(frame)) => {
                    self.traffic.messages_in += 1;
                    self.traffic.payload_in += frame.len() as u64;
                    self.traffic.framed_in += frame.len() as u64 + ws_header(frame.len(), false);
                    return Ok(Some(codec::decode_server(&frame, codec::MAX_SERVER_FRAME)?));
                }
                Ok(Message::Close(_)) => return Ok(None),
                Ok(_) => continue,
                Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn recv_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Result<ServerMessage, ClientError> {
        match tokio::time::timeout_at(deadline, self.recv()).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(Ok(Some(message))) => Ok(message),
            Ok(Ok(None)) => Err(ClientError::Lost),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Handles a received message: answers pings, applies and acknowledges
    /// updates, tracks the room, and says what happened.
    pub async fn process(&mut self, message: ServerMessage) -> Result<ClientEvent, ClientError> {
        Ok(match message {
            ServerMessage::Ping(ping) => {
                let held = (ping, Instant::now());
                if self.ack_mode == AckMode::WithInput && self.room.is_some() {
                    // An older ping still held is answered now.
                    if let Some(older) = self.held_ping.replace(held) {
                        self.send(&ClientMessage::Pong(answer(older))).await?;
                    }
                } else {
                    self.send(&ClientMessage::Pong(answer(held))).await?;
                }
                ClientEvent::Other(ServerMessage::Ping(ping))
            }
            ServerMessage::Pong(pong) => ClientEvent::Rtt(pong.rtt_us(unix_us())),
            ServerMessage::Update(update) => {
                // A ping held for half a tick has waited for an input that
                // did not come: answer it on its own.
                let half_tick = self
                    .room
                    .as_ref()
                    .map_or(Duration::ZERO, |j| j.tick_rate.period() / 2);
                if self
                    .held_ping
                    .is_some_and(|(_, since)| since.elapsed() >= half_tick)
                {
                    self.answer_held_ping().await?;
                }
                let bytes = update.delta.len();
                match self.replica.apply(&update) {
                    Err(e) => ClientEvent::UpdateFailed(e),
                    Ok(world) => {
                        let tick = world.tick;
                        let latency_us = self.room.as_ref().map_or(0, |j| {
                            let due = j.tick_zero_unix_us
                                + u64::from(tick.0) * j.tick_rate.period().as_micros() as u64;
                            unix_us().saturating_sub(due + u64::from(update.lateness_us))
                        });
                        match self.ack_mode {
                            AckMode::Immediate => {
                                self.send(&ClientMessage::Ack(Ack { tick })).await?
                            }
                            AckMode::WithInput => self.pending_ack = Some(tick),
                        }
                        let baseline_age = update.baseline.and_then(|b| tick.since(b)).unwrap_or(0);
                        ClientEvent::Update(AppliedUpdate {
                            tick,
                            full: update.baseline.is_none(),
                            baseline_age,
                            bytes,
                            latency_us,
                        })
                    }
                }
            }
            ServerMessage::Event(e) => ClientEvent::Event(e),
            ServerMessage::EventReply(r) => ClientEvent::EventReply(r),
            ServerMessage::Error(e) => ClientEvent::Error(e),
            ServerMessage::Left(left) => {
                self.room = None;
                self.replica.reset();
                self.pending_ack = None;
                self.answer_held_ping().await?;
                ClientEvent::Left(left)
            }
            ServerMessage::Close(c) => ClientEvent::Closed(Some((c.reason, c.message))),
            other => ClientEvent::Other(other),
        })
    }

    /// Waits for the next thing worth reporting. Pings are answered and
    /// updates applied and acknowledged on the way.
    pub async fn next_event(&mut self) -> Result<ClientEvent, ClientError> {
        match self.recv().await? {
            None => Ok(ClientEvent::Closed(None)),
            Some(message) => self.process(message).await,
        }
    }

    /// Sends a request and waits for its answer, handling everything else
    /// that arrives meanwhile.
    async fn request(
        &mut self,
        build: impl FnOnce(u32) -> ClientMessage,
    ) -> Result<ServerMessage, ClientError> {
        self.next_request = self.next_request.wrapping_add(1);
        let id = self.next_request;
        let request = build(id);
        let joins = matches!(
            request,
            ClientMessage::CreateRoom(_) | ClientMessage::JoinRoom(_) | ClientMessage::QuickJoin(_)
        );
        if joins {
            // Forget the old room now, not when `Joined` arrives: over QUIC
            // the new room's first update (a datagram) may overtake the
            // `Joined` on the control stream, and must be kept.
            self.replica.reset();
            self.pending_ack = None;
        }
        self.send(&request).await?;
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            let message = self.recv_until(deadline).await?;
            let answer =
                matches!(message, ServerMessage::Close(_)) || message.request_id() == Some(id);
            if !answer {
                if let ClientEvent::Closed(Some((reason, message))) = self.process(message).await? {
                    return Err(ClientError::Closed { reason, message });
                }
                continue;
            }
            return match message {
                ServerMessage::Error(e) => Err(ClientError::Refused(e)),
                ServerMessage::Close(c) => Err(ClientError::Closed {
                    reason: c.reason,
                    message: c.message,
                }),
                ServerMessage::Joined(joined) => {
                    self.room = Some(joined.clone());
                    Ok(ServerMessage::Joined(joined))
                }
                ServerMessage::Left(left) => {
                    self.room = None;
                    self.replica.reset();
                    self.pending_ack = None;
                    self.answer_held_ping().await?;
                    Ok(ServerMessage::Left(left))
                }
                other => Ok(other),
            };
        }
    }

    fn joined(answer: ServerMessage) -> Result<Joined, ClientError> {
        match answer {
            ServerMessage::Joined(j) => Ok(j),
            _ => Err(ClientError::Unexpected("expected Joined")),
        }
    }

    /// The public rooms.
    pub async fn list_rooms(&mut self) -> Result<Vec<RoomInfo>, ClientError> {
        match self
            .request(|request_id| ClientMessage::ListRooms(ListRooms { request_id }))
            .await?
        {
            ServerMessage::RoomList(list) => Ok(list.rooms),
            _ => Err(ClientError::Unexpected("expected RoomList")),
        }
    }

    /// Creates a room and joins it as a player.
    pub async fn create_room(
        &mut self,
        name: &str,
        visibility: Visibility,
        max_players: u16,
        options: GameOptions,
    ) -> Result<Joined, ClientError> {
        let answer = self
            .request(|request_id| {
                ClientMessage::CreateRoom(CreateRoom {
                    request_id,
                    name: name.to_owned(),
                    visibility,
                    max_players,
                    options,
                    join_as: Some(Role::Player),
                })
            })
            .await?;
        Self::joined(answer)
    }

    /// Joins a room by id or code.
    pub async fn join(&mut self, target: RoomTarget, role: Role) -> Result<Joined, ClientError> {
        let answer = self
            .request(|request_id| {
                ClientMessage::JoinRoom(JoinRoom {
                    request_id,
                    target,
                    role,
                })
            })
            .await?;
        Self::joined(answer)
    }

    /// Joins the fullest public room with a free seat, or a new one.
    pub async fn quick_join(&mut self, options: GameOptions) -> Result<Joined, ClientError> {
        let answer = self
            .request(|request_id| {
                ClientMessage::QuickJoin(QuickJoin {
                    request_id,
                    options,
                })
            })
            .await?;
        Self::joined(answer)
    }

    /// Leaves the current room.
    pub async fn leave(&mut self) -> Result<(), ClientError> {
        self.request(|request_id| ClientMessage::LeaveRoom(LeaveRoom { request_id }))
            .await
            .map(|_| ())
    }

    /// Has the next [`Client::send_input`] carry a ping along (one write
    /// upstream per tick instead of two); for clients that send an input
    /// every tick. The ping is stamped when it leaves.
    pub fn ping_with_next_input(&mut self) {
        self.ping_queued = true;
    }

    /// Pings the server (the answer arrives as [`ClientEvent::Rtt`]).
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMessage::Ping(Ping {
            sent_at_us: unix_us(),
        }))
        .await
    }

    /// Closes the session politely.
    pub async fn close(mut self) {
        let bye = ClientMessage::Close(Close {
            reason: CloseReason::Normal,
            message: "bye".into(),
        });
        let _ = tokio::time::timeout(Duration::from_secs(1), self.send(&bye)).await;
        match self.conn {
            Conn::Ws(mut ws) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.as_mut().close(None)).await;
            }
            Conn::Quic(quic) => quic.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback WebSocket server that sends `sizes` binary messages of
    /// those lengths, then closes.
    async fn serve_messages(sizes: Vec<usize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("ws://{}/ws", listener.local_addr().expect("bound"));
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accepts");
            let mut ws = tokio_tungstenite::accept_async(tcp)
                .await
                .expect("upgrades");
            for (i, size) in sizes.into_iter().enumerate() {
                let payload = vec![i as u8; size];
                if ws.send(Message::Binary(payload.into())).await.is_err() {
                    return;
                }
            }
            let _ = ws.close(None).await;
        });
        url
    }

    #[tokio::test]
    async fn messages_larger_than_the_read_buffer_arrive_whole() {
        let sizes = vec![10, 3 * READ_BUFFER + 7, codec::MAX_SERVER_FRAME, 1];
        let url = serve_messages(sizes.clone()).await;
        let mut ws = Client::open(&url, &ClientTls::Verify).await.expect("opens");
        for (i, size) in sizes.into_iter().enumerate() {
            match ws.next().await {
                Some(Ok(Message::Binary(data))) => {
                    assert_eq!(data.len(), size);
                    assert!(data.iter().all(|&b| b == i as u8), "message {i} intact");
                }
                other => panic!("message {i}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_message_over_the_servers_frame_limit_is_refused() {
        let url = serve_messages(vec![codec::MAX_SERVER_FRAME + 1]).await;
        let mut ws = Client::open(&url, &ClientTls::Verify).await.expect("opens");
        match ws.next().await {
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {}
            other => panic!("expected a capacity error, got {other:?}"),
        }
    }

    #[test]
    fn fingerprints_parse_in_any_case_with_or_without_colons() {
        let cert = CertificateDer::from(vec![1, 2, 3]);
        let fp = fingerprint(&cert);
        let bytes: [u8; 32] = Sha256::digest([1u8, 2, 3]).into();
        assert_eq!(parse_fingerprint(&fp).expect("upper"), bytes);
        assert_eq!(parse_fingerprint(&fp.to_lowercase()).expect("lower"), bytes);
        assert_eq!(
            parse_fingerprint(&fp.replace(':', "")).expect("bare"),
            bytes
        );
        assert!(matches!(
            parse_fingerprint("AB:CD"),
            Err(ClientError::Tls(_))
        ));
        let not_hex = format!("ZZ{}", &fp[2..]);
        assert!(matches!(
            parse_fingerprint(&not_hex),
            Err(ClientError::Tls(_))
        ));
        assert!(
            ClientTls::Fingerprint("nope".into())
                .client_config()
                .is_err()
        );
        for tls in [
            ClientTls::Verify,
            ClientTls::Insecure,
            ClientTls::Fingerprint(fp),
        ] {
            let config = tls.client_config().expect("builds");
            assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        }
    }
}
