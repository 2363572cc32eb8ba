//! WebTransport for browsers, over wtransport (shell): the endpoint's
//! configuration, which session requests are taken ([`check_request`]),
//! and the [`Link`] over one session.
//!
//! Browsers cannot speak tickwire's raw QUIC (ALPN `tickwire/1`); they
//! speak WebTransport, a session inside an HTTP/3 connection (ALPN `h3`).
//! A session is requested at [`PATH`] (`https://HOST:PORT/tickwire`);
//! another path is answered 404 and an `Origin` outside `allowed_origins`
//! 403. Inside the session the framing is QUIC's (see
//! [`super::quic`]): the client opens one bidirectional stream that carries
//! control frames both ways, each prefixed with its length (u32,
//! little-endian); updates go out as datagrams when they fit the session's
//! datagram size, else on the stream; inputs and acks may come as
//! datagrams. Closing sends the `Close` on the stream, finishes it, then
//! closes with the reason's code as the application error code and the
//! message as the reason.
//!
//! Threads: the endpoint is an ordinary quinn endpoint on the tokio
//! runtime the server was bound on, not a room shard, and a connection's
//! quinn driver does not follow its session (unlike QUIC's, see the
//! `roaming` module): wtransport runs a task of its own per connection
//! (spawned where the handshake runs) that reads the HTTP/3 streams and
//! hands datagrams to the session through a channel, so there is no single
//! driver to move, and a room reading the link at its tick would still
//! wait for that task. So the link does not park ([`Link::parks`] is
//! false): its session's task moves to the room's shard like any other and
//! reads the link with wake-ups, and the room sends update datagrams
//! itself ([`DirectWrite`]: quinn's connection is shared and thread-safe).
//! Browsers are a few clients per server next to bots and native clients,
//! so these extra wake-ups are the cheaper trade than a driver of our own.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use quinn::{TransportConfig, VarInt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tickwire_shared::protocol::CloseReason;
use wtransport::error::{ConnectionError, SendDatagramError, StreamWriteError};
use wtransport::{Connection, RecvStream, SendStream};

use super::quic::{self, QuicError, StreamFrame};
use super::{DirectOutcome, DirectWrite, Incoming, Link, LinkError, Violation};
use crate::outbox::Delivery;

/// The path a session is requested at (`https://HOST:PORT/tickwire`).
pub const PATH: &str = "/tickwire";

/// The application protocol: HTTP/3, which WebTransport runs in.
pub const ALPN: &[u8] = wtransport::tls::WEBTRANSPORT_ALPN;

/// Unidirectional streams a client may have open: HTTP/3's control stream
/// and the two QPACK streams (RFC 9114 requires at least three), with room
/// for a stream of a reserved type a client sends to grease the protocol.
/// tickwire uses none of its own; one that is never read holds at most its
/// stream window, and the connection window bounds them all.
const UNI_STREAMS: u32 = 4;

/// Bidirectional streams a client may have open: the session's `CONNECT`
/// stream and the control stream.
const BIDI_STREAMS: u32 = 2;

/// How long a closing session waits for the peer to read the last control
/// frames (the `Close`) before the connection is closed; below the
/// session's own bound on closing (a second), so that the close with its
/// code always goes out.
const LINGER: Duration = Duration::from_millis(750);

/// Why a session request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefusal {
    /// The request's path is not [`PATH`] (answered 404).
    #[error("no WebTransport session at this path")]
    NotFound,
    /// A browser's request from an `Origin` not in `allowed_origins`
    /// (answered 403).
    #[error("the origin is not allowed")]
    OriginRefused,
}

impl SessionRefusal {
    /// The HTTP status the request is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::OriginRefused => 403,
        }
    }
}

/// Whether a session request for `path` (its `:path`, a query allowed)
/// from `origin` (its `origin` header, absent for a non-browser client)
/// is taken; `origin_allowed` is the server's allow-list.
pub fn check_request(
    path: &str,
    origin: Option<&str>,
    origin_allowed: impl FnOnce(Option<&str>) -> bool,
) -> Result<(), SessionRefusal> {
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    if path != PATH {
        return Err(SessionRefusal::NotFound);
    }
    if !origin_allowed(origin) {
        return Err(SessionRefusal::OriginRefused);
    }
    Ok(())
}

/// Transport limits for one connection: QUIC's ([`quic::transport_config`],
/// small bounded windows, 8 KiB of unread datagrams), with the streams
/// HTTP/3 needs. Datagrams stay enabled in both directions: HTTP/3
/// datagrams need them (and wtransport assumes them).
pub fn transport_config(idle: Duration) -> TransportConfig {
    let mut t = quic::transport_config(idle);
    t.max_concurrent_bidi_streams(VarInt::from_u32(BIDI_STREAMS));
    t.max_concurrent_uni_streams(VarInt::from_u32(UNI_STREAMS));
    t
}

/// The server side of the endpoint: the certificate (a configured one, or
/// the development one browsers accept by its hash), TLS 1.3 with the one
/// crypto provider of [`crate::tls::provider`], ALPN [`ALPN`],
/// [`transport_config`], and the bounds on connections still in their
/// handshake.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    idle: Duration,
    max_pending: usize,
) -> Result<quinn::ServerConfig, QuicError> {
    quic::server_config_for(certs, key, ALPN, transport_config(idle), max_pending)
}

/// The server's endpoint on `addr`, on the tokio runtime this is called
/// in (see the module doc). wtransport turns each accepted connection into
/// a session request (`IncomingSessionFuture::with_quic_incoming`).
pub fn endpoint(config: quinn::ServerConfig, addr: SocketAddr) -> io::Result<quinn::Endpoint> {
    let socket = std::net::UdpSocket::bind(addr)?;
    // Best effort, as for QUIC: inputs and handshakes of many clients.
    let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(quic::RECV_BUFFER);
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
}

/// A [`Link`] over one WebTransport session: its control stream and its
/// datagrams. It has no task of its own.
#[derive(Debug)]
pub struct WebTransportLink {
    connection: Connection,
    control: SendStream,
    recv: RecvStream,
    /// The control-stream frame being read, kept between polls.
    frame: StreamFrame,
    max_frame: usize,
    /// Whether the link has returned its last [`Incoming`] (the peer
    /// closed or broke a rule); it says [`Incoming::Closed`] from then on.
    ended: bool,
}

impl WebTransportLink {
    /// Takes an accepted session: waits (the caller bounds it) for the
    /// client's control stream.
    pub async fn accept(connection: Connection, max_frame: usize) -> Result<Self, ConnectionError> {
        let (control, recv) = connection.accept_bi().await?;
        Ok(Self {
            connection,
            control,
            recv,
            frame: StreamFrame::default(),
            max_frame,
            ended: false,
        })
    }

    /// The session, for its address and statistics.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Whether `frame` fits the session's current datagram size (none when
/// the peer takes no datagrams).
fn fits_datagram(connection: &Connection, frame: &[u8]) -> bool {
    connection
        .max_datagram_size()
        .is_some_and(|max| frame.len() <= max)
}

/// Sends update datagrams for a room (see the module doc).
#[derive(Debug)]
struct DirectWebTransport {
    connection: Connection,
    allowed: AtomicBool,
}

impl DirectWrite for DirectWebTransport {
    fn allow(&self, allowed: bool) {
        self.allowed.store(allowed, Ordering::Release);
    }

    /// Pings and pongs travel on the reliable control stream, which is
    /// the session's.
    fn carries_control(&self) -> bool {
        false
    }

    fn try_send(&self, frames: &[&Bytes]) -> DirectOutcome {
        let [update] = frames else {
            return DirectOutcome::Declined;
        };
        if !self.allowed.load(Ordering::Acquire) || !fits_datagram(&self.connection, update) {
            return DirectOutcome::Declined;
        }
        match self.connection.send_datagram(update) {
            Ok(()) => DirectOutcome::Written,
            Err(_) => DirectOutcome::Declined,
        }
    }
}

impl Link for WebTransportLink {
    /// A whole control-stream frame first, else the next datagram, else
    /// waits for either. Cancel-safe: the part of a stream frame read so
    /// far stays in the link, and a datagram is taken from wtransport's
    /// queue only when it is returned. The stream's end, a reset, a lost
    /// session or a frame or datagram over the limit ends the link (then
    /// only [`Incoming::Closed`]).
    async fn recv(&mut self) -> Incoming {
        if self.ended {
            return Incoming::Closed;
        }
        let Self {
            connection,
            recv,
            frame,
            max_frame,
            ..
        } = self;
        let max_frame = *max_frame;
        let mut datagram = pin!(connection.receive_datagram());
        let incoming = poll_fn(|cx| {
            if let Poll::Ready(incoming) = frame.poll_next(recv.quic_stream_mut(), cx, max_frame) {
                return Poll::Ready(incoming);
            }
            datagram.as_mut().poll(cx).map(|read| match read {
                Ok(d) if d.len() > max_frame => Incoming::Violation(Violation::DatagramTooLarge),
                Ok(d) => Incoming::Frame(d.payload()),
                Err(_) => Incoming::Closed,
            })
        })
        .await;
        self.ended = !matches!(incoming, Incoming::Frame(_));
        incoming
    }

    /// A latest-wins frame (an update) goes as a datagram when it fits the
    /// session's datagram size; everything else, and a larger update, on
    /// the control stream.
    async fn send(&mut self, frame: Bytes, delivery: Delivery) -> Result<(), LinkError> {
        if delivery == Delivery::LatestWins && fits_datagram(&self.connection, &frame) {
            // Unreliable on purpose: quinn drops the oldest datagram when
            // its send buffer is full, and a newer update supersedes it.
            match self.connection.send_datagram(&frame) {
                Ok(()) => return Ok(()),
                Err(SendDatagramError::NotConnected) => return Err(LinkError::Closed),
                // The path shrank, or the peer takes none: the stream.
                Err(SendDatagramError::TooLarge | SendDatagramError::UnsupportedByPeer) => {}
            }
        }
        let len = u32::try_from(frame.len()).map_err(|_| LinkError::TooLarge(frame.len()))?;
        let write = async {
            self.control.write_all(&len.to_le_bytes()).await?;
            self.control.write_all(&frame).await
        };
        write.await.map_err(|e| match e {
            StreamWriteError::NotConnected | StreamWriteError::Closed => LinkError::Closed,
            other => LinkError::WebTransportStream(other),
        })
    }

    /// Session tasks read the link with wake-ups (see the module doc).
    fn parks(&self) -> bool {
        false
    }

    fn direct(&self) -> Option<Arc<dyn DirectWrite>> {
        Some(Arc::new(DirectWebTransport {
            connection: self.connection.clone(),
            allowed: AtomicBool::new(false),
        }))
    }

    /// Finishes the control stream and waits (at most `LINGER`) for the
    /// peer to read it, so the last frames (the `Close` message) arrive;
    /// then closes with the reason's code and message. wtransport 0.7
    /// closes the QUIC connection (an application close with that code)
    /// rather than sending HTTP/3's `CLOSE_WEBTRANSPORT_SESSION` capsule,
    /// so a browser learns the reason from the `Close` message.
    async fn close(&mut self, reason: CloseReason, message: &str) {
        let _ = tokio::time::timeout(LINGER, self.control.finish()).await;
        self.connection.close(
            wtransport::VarInt::from_u32(u32::from(reason.code())),
            message.as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use tickwire_shared::codec;
    use tickwire_shared::protocol::{ServerMessage, Update};
    use tickwire_shared::tick::Tick;
    use wtransport::endpoint::IncomingSessionFuture;
    use wtransport::endpoint::endpoint_side::Client;
    use wtransport::tls::Sha256Digest;

    use super::*;
    use crate::tls::ServerTls;

    const MAX_FRAME: usize = 4096;
    const WAIT: Duration = Duration::from_secs(5);

    fn any(_: Option<&str>) -> bool {
        true
    }

    /// A server endpoint with a development certificate on loopback, and a
    /// client that accepts it by its hash (the browser's rules).
    fn pair() -> (quinn::Endpoint, SocketAddr, wtransport::Endpoint<Client>) {
        let tls = ServerTls::development_hashed(SystemTime::now()).expect("certificate");
        let config = server_config(
            tls.chain().to_vec(),
            tls.key().clone_key(),
            Duration::from_secs(5),
            16,
        )
        .expect("server config");
        let server = endpoint(config, "127.0.0.1:0".parse().expect("addr")).expect("endpoint");
        let addr = server.local_addr().expect("addr");
        let client = wtransport::ClientConfig::builder()
            .with_bind_address("127.0.0.1:0".parse().expect("addr"))
            .with_server_certificate_hashes([Sha256Digest::new(tls.certificate_hash())])
            .build();
        let client = wtransport::Endpoint::client(client).expect("client endpoint");
        (server, addr, client)
    }

    /// A connected client (its session and control stream, on which it
    /// wrote `first`) and the server's link, with frames up to
    /// `max_frame`.
    async fn connected(
        first: &[u8],
        max_frame: usize,
    ) -> (
        Connection,
        SendStream,
        RecvStream,
        WebTransportLink,
        quinn::Endpoint,
    ) {
        let (server, addr, client) = pair();
        let url = format!("https://{addr}{PATH}");
        let (client, link) = tokio::join!(
            async {
                let conn = tokio::time::timeout(WAIT, client.connect(url))
                    .await
                    .expect("in time")
                    .expect("session");
                let (mut send, recv) = conn
                    .open_bi()
                    .await
                    .expect("opening")
                    .await
                    .expect("stream");
                send.write_all(first).await.expect("first bytes");
                (conn, send, recv)
            },
            async {
                let incoming = tokio::time::timeout(WAIT, server.accept())
                    .await
                    .expect("in time")
                    .expect("incoming");
                let request = IncomingSessionFuture::with_quic_incoming(incoming)
                    .await
                    .expect("session request");
                assert_eq!(request.path(), PATH);
                let session = request.accept().await.expect("accepted");
                tokio::time::timeout(WAIT, WebTransportLink::accept(session, max_frame))
                    .await
                    .expect("in time")
                    .expect("stream")
            }
        );
        (client.0, client.1, client.2, link, server)
    }

    fn framed(frame: &[u8]) -> Vec<u8> {
        let mut out = (frame.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(frame);
        out
    }

    async fn read_frame(recv: &mut RecvStream) -> Vec<u8> {
        let mut len = [0u8; 4];
        recv.read_exact(&mut len).await.expect("len");
        let mut frame = vec![0u8; u32::from_le_bytes(len) as usize];
        recv.read_exact(&mut frame).await.expect("frame");
        frame
    }

    fn update(delta_len: usize) -> Bytes {
        let mut frame = Vec::new();
        let update = ServerMessage::Update(Update {
            tick: Tick(9),
            baseline: None,
            lateness_us: 0,
            checksum: 1,
            delta: vec![7; delta_len],
        });
        codec::encode_server(&update, &mut frame).expect("encodes");
        Bytes::from(frame)
    }

    #[tokio::test]
    async fn frames_updates_datagrams_and_close_travel_as_quic_s() {
        let (conn, mut send, mut recv, mut link, _server) =
            connected(&framed(b"hello"), MAX_FRAME).await;
        assert!(!link.parks());
        assert!(matches!(link.recv().await, Incoming::Frame(f) if f.as_ref() == b"hello"));
        conn.send_datagram(b"input").expect("datagram");
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv()).await.expect("in time"),
            Incoming::Frame(f) if f.as_ref() == b"input"
        ));

        // A small update goes as a datagram, a big one and control on the
        // stream, in order.
        let small = update(20);
        link.send(small.clone(), Delivery::LatestWins)
            .await
            .expect("send");
        let got = tokio::time::timeout(WAIT, conn.receive_datagram())
            .await
            .expect("in time")
            .expect("datagram");
        assert_eq!(got.payload(), small);
        let big = update(8 * 1024);
        link.send(big.clone(), Delivery::LatestWins)
            .await
            .expect("send");
        link.send(Bytes::from_static(b"\x0bcontrol"), Delivery::Reliable)
            .await
            .expect("send");
        let read = tokio::time::timeout(WAIT, async {
            (read_frame(&mut recv).await, read_frame(&mut recv).await)
        })
        .await
        .expect("in time");
        assert_eq!(read.0, big.to_vec());
        assert_eq!(read.1, b"\x0bcontrol");

        // The room's direct write: an update alone, once allowed.
        let direct = link.direct().expect("direct writes");
        assert!(!direct.carries_control());
        assert_eq!(direct.try_send(&[&small]), DirectOutcome::Declined);
        direct.allow(true);
        assert_eq!(direct.try_send(&[&small]), DirectOutcome::Written);
        assert_eq!(direct.try_send(&[&big]), DirectOutcome::Declined);
        assert_eq!(direct.try_send(&[&small, &small]), DirectOutcome::Declined);
        let got = tokio::time::timeout(WAIT, conn.receive_datagram())
            .await
            .expect("in time")
            .expect("datagram");
        assert_eq!(got.payload(), small);

        // A frame over the limit is a violation, and the end of the link.
        send.write_all(&(MAX_FRAME as u32 + 1).to_le_bytes())
            .await
            .expect("len");
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv())
                .await
                .expect("in time"),
            Incoming::Violation(Violation::FrameTooLarge)
        ));
        assert!(matches!(link.recv().await, Incoming::Closed));

        // Close carries the reason's code and message to the client.
        link.close(CloseReason::FrameTooLarge, "too big").await;
        match tokio::time::timeout(WAIT, conn.closed())
            .await
            .expect("closed in time")
        {
            ConnectionError::ApplicationClosed(close) => {
                assert_eq!(
                    close.code(),
                    wtransport::VarInt::from_u32(u32::from(CloseReason::FrameTooLarge.code()))
                );
                assert_eq!(close.reason(), b"too big");
            }
            other => panic!("unexpected close {other:?}"),
        }
    }

    #[tokio::test]
    async fn dropped_reads_lose_no_part_of_a_frame_and_the_stream_s_end_ends_the_link() {
        let mut first = 10u32.to_le_bytes().to_vec();
        first.extend_from_slice(b"hello");
        let (conn, mut send, _recv, mut link, _server) = connected(&first, MAX_FRAME).await;
        // Reads cancelled while only half the frame is there lose nothing.
        for _ in 0..5 {
            assert!(
                tokio::time::timeout(Duration::from_millis(20), link.recv())
                    .await
                    .is_err()
            );
        }
        // A datagram comes through meanwhile.
        conn.send_datagram(b"input").expect("datagram");
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv()).await.expect("in time"),
            Incoming::Frame(f) if f.as_ref() == b"input"
        ));
        let mut rest = b"world".to_vec();
        rest.extend_from_slice(&framed(b"end"));
        send.write_all(&rest).await.expect("rest");
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv()).await.expect("in time"),
            Incoming::Frame(f) if f.as_ref() == b"helloworld"
        ));
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv()).await.expect("in time"),
            Incoming::Frame(f) if f.as_ref() == b"end"
        ));
        send.finish().await.expect("finished");
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv())
                .await
                .expect("in time"),
            Incoming::Closed
        ));
        assert!(matches!(link.recv().await, Incoming::Closed));
    }

    #[tokio::test]
    async fn a_datagram_over_the_limit_ends_the_link() {
        // Datagrams fit a packet: a smaller limit than MAX_FRAME.
        let max_frame = 100;
        let (conn, _send, _recv, mut link, _server) = connected(&framed(b""), max_frame).await;
        assert!(matches!(link.recv().await, Incoming::Frame(f) if f.is_empty()));
        conn.send_datagram(vec![0u8; max_frame + 1])
            .expect("datagram");
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv())
                .await
                .expect("in time"),
            Incoming::Violation(Violation::DatagramTooLarge)
        ));
        assert!(matches!(link.recv().await, Incoming::Closed));
    }

    #[test]
    fn only_the_session_path_from_an_allowed_origin_is_taken() {
        assert_eq!(check_request("/tickwire", None, any), Ok(()));
        assert_eq!(
            check_request("/tickwire?token=abc", Some("https://a.example"), any),
            Ok(())
        );
        for path in ["/", "/tickwire/", "/tickwire2", "/ws", "", "/TICKWIRE"] {
            assert_eq!(
                check_request(path, None, any),
                Err(SessionRefusal::NotFound),
                "{path}"
            );
        }
        let only_play = |origin: Option<&str>| origin.is_none_or(|o| o == "https://play.example");
        assert_eq!(
            check_request("/tickwire", Some("https://evil.example"), only_play),
            Err(SessionRefusal::OriginRefused)
        );
        assert_eq!(
            check_request("/tickwire", Some("https://play.example"), only_play),
            Ok(())
        );
        assert_eq!(check_request("/tickwire", None, only_play), Ok(()));
        // A wrong path is refused before its origin is looked at.
        assert_eq!(
            check_request("/nope", Some("https://evil.example"), only_play),
            Err(SessionRefusal::NotFound)
        );
        assert_eq!(SessionRefusal::NotFound.status(), 404);
        assert_eq!(SessionRefusal::OriginRefused.status(), 403);
    }
}
