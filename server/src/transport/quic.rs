//! QUIC transport over quinn (shell): the endpoint configuration, with every
//! limit sized for thousands of small clients, and the [`Link`] over one
//! connection.
//!
//! A session is one connection with ALPN [`ALPN`]. Control traffic
//! (handshake, lobby, events, errors, close) travels on the one
//! bidirectional stream the client opens, as frames prefixed with their
//! length (u32, little-endian). World updates go out as unreliable
//! datagrams when they fit the path's datagram size, so a lost update never
//! holds back the next one (each is a delta against an acknowledged state);
//! a larger update (a full snapshot of a big room) goes on the stream.
//! Clients send their inputs as datagrams that repeat the last few inputs,
//! and may send anything else on the stream.
//!
//! Threads: the endpoint ([`endpoint`]: its UDP socket and quinn's task
//! that reads it) lives on the first room shard. Each connection's quinn
//! driver starts where its handshake runs (the accepting runtime, which
//! spreads the TLS work over its threads) and moves with its session to
//! the shard of the room it joins (module `roaming`); the [`QuicLink`] has no
//! task of its own. Once there, a room's update datagrams, the driver that
//! sends them and the session that reads the inputs share one thread; on a
//! server whose rooms sit on the first shard, so does the endpoint.

pub(crate) mod roaming;

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use quinn::{Connection, RecvStream, SendStream, TransportConfig, VarInt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tickwire_shared::protocol::CloseReason;

use super::{DirectOutcome, DirectWrite, Incoming, Link, LinkError, Violation};
use crate::outbox::Delivery;

/// The application protocol a client must offer.
pub const ALPN: &[u8] = b"tickwire/1";

/// The receive buffer asked for the endpoint's UDP socket: a few thousand
/// small datagrams, about 100 ms of inputs from a thousand clients.
pub(super) const RECV_BUFFER: usize = 2 * 1024 * 1024;
/// How long a closing connection waits for the peer to read the last
/// control frames before the connection is closed.
const LINGER: Duration = Duration::from_secs(1);

/// Why a QUIC endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// The certificate or key was refused.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// rustls and quinn disagree on the cipher suites.
    #[error("QUIC crypto configuration: {0}")]
    Crypto(String),
}

/// Transport limits for one connection. quinn's defaults suit bulk
/// transfers between few peers (an unlimited connection receive window,
/// 100 streams, 1.25 MB buffers); a game server holds thousands of peers
/// that each send tens of bytes per tick, so every window is small and
/// bounded, and `connections x windows` fits in memory.
pub fn transport_config(idle: Duration) -> TransportConfig {
    let mut t = TransportConfig::default();
    // One control stream per session; no unidirectional streams.
    t.max_concurrent_bidi_streams(VarInt::from_u32(1));
    t.max_concurrent_uni_streams(VarInt::from_u32(0));
    // Control frames are at most a few KiB; 64 KiB in flight per stream and
    // 128 KiB per connection (quinn's default: unlimited) bound what a peer
    // can make us buffer.
    t.stream_receive_window(VarInt::from_u32(64 * 1024));
    t.receive_window(VarInt::from_u32(128 * 1024));
    // What we may have unacknowledged towards a peer: a few full snapshots.
    t.send_window(256 * 1024);
    // Datagrams are inputs (in) and updates (out), tens of bytes each.
    // Inputs wait in quinn until the link reads them: 8 KiB (quinn counts
    // 32 B per datagram besides its bytes) is about a hundred inputs, three
    // seconds of them, read ahead at most, so a session that catches up
    // after a stall never sees a burst near the flood limit's; quinn drops
    // the oldest beyond, which costs nothing as inputs repeat. It is also
    // the largest datagram a client may send (the transport parameter),
    // above any frame the server accepts.
    t.datagram_receive_buffer_size(Some(8 * 1024));
    // Updates: 64 KiB is hundreds of them; quinn drops the oldest beyond.
    t.datagram_send_buffer_size(64 * 1024);
    // Silence ends a connection like the session idle timeout does.
    t.max_idle_timeout(Some(
        idle.try_into()
            .unwrap_or(quinn::IdleTimeout::from(VarInt::from_u32(15_000))),
    ));
    t
}

/// The server side of the endpoint: the certificate (the same as the TLS
/// WebSocket listener's), TLS 1.3 (QUIC requires it) with the one crypto
/// provider of [`crate::tls::provider`], ALPN [`ALPN`],
/// [`transport_config`], and bounds on connections still in their
/// handshake.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    idle: Duration,
    max_pending: usize,
) -> Result<quinn::ServerConfig, QuicError> {
    server_config_for(certs, key, ALPN, transport_config(idle), max_pending)
}

/// A server configuration for `alpn` with `transport`: TLS 1.3 with the
/// one crypto provider, and the bounds on connections in their handshake
/// (shared with the WebTransport endpoint).
pub(super) fn server_config_for(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[u8],
    transport: TransportConfig,
    max_pending: usize,
) -> Result<quinn::ServerConfig, QuicError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    tls.alpn_protocols = vec![alpn.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| QuicError::Crypto(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport));
    // quinn accepts 65,536 handshakes and 100 MiB of their buffered data by
    // default; a slow or spoofed handshake flood must cost far less.
    config.max_incoming(max_pending);
    config.incoming_buffer_size(64 * 1024);
    config.incoming_buffer_size_total(8 * 1024 * 1024);
    Ok(config)
}

/// The server's endpoint on `addr`, made on `runtime` (the endpoint's task
/// and socket stay there) with a quinn runtime whose connection drivers can
/// move with their sessions (see [`QuicLink`] and the `roaming` module).
pub fn endpoint(
    config: quinn::ServerConfig,
    addr: SocketAddr,
    runtime: &tokio::runtime::Handle,
) -> io::Result<quinn::Endpoint> {
    let socket = std::net::UdpSocket::bind(addr)?;
    // Best effort (the kernel caps it at net.core.rmem_max): the default
    // (about 200 KiB) holds only a few hundred small datagrams, as each
    // costs the kernel about a kilobyte, so a stall of a few milliseconds
    // with a thousand clients would drop their inputs and handshakes.
    let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(RECV_BUFFER);
    let _on = runtime.enter();
    let endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket,
        Arc::new(roaming::RoamingRuntime),
    )?;
    // The endpoint's driver: it stays where it is.
    drop(roaming::take_spawned());
    Ok(endpoint)
}

/// A [`Link`] over one QUIC connection. It has no task of its own:
/// [`Link::recv`] reads the control stream and the connection's datagrams
/// itself, so a frame goes from quinn's connection straight to whoever
/// polls the link.
#[derive(Debug)]
pub struct QuicLink {
    connection: Connection,
    control: SendStream,
    recv: RecvStream,
    /// The control-stream frame being read, kept between polls.
    frame: StreamFrame,
    /// Whether the control stream may have something to read.
    stream_news: Arc<StreamNews>,
    /// The waker the control stream is polled with: `stream_news`'s.
    stream_waker: Waker,
    max_frame: usize,
    /// Whether the link has returned its last [`Incoming`] (the peer
    /// closed or broke a rule); it says [`Incoming::Closed`] from then on.
    ended: bool,
    /// The connection's quinn driver, when it can follow the session
    /// between shards (an endpoint made by [`endpoint`]).
    driver: Option<roaming::Driver>,
}

/// A length-prefixed frame read from the control stream a piece at a time:
/// whatever a poll read stays here, so dropping a [`Link::recv`] future
/// (or polling it once) never loses part of a frame. WebTransport's control
/// stream is framed the same way (see `super::webtransport`).
#[derive(Debug, Default)]
pub(super) struct StreamFrame {
    /// The little-endian length prefix.
    len: [u8; 4],
    /// How many bytes of `len` are in.
    len_read: usize,
    /// The body, once the prefix is complete and within the limit.
    body: Option<Vec<u8>>,
    /// How many bytes of `body` are in.
    body_read: usize,
}

impl StreamFrame {
    /// Reads what the stream holds towards the next frame: `Ready` with a
    /// whole frame, the stream's end ([`Incoming::Closed`], also for a
    /// reset or a lost connection) or [`Violation::FrameTooLarge`];
    /// `Pending` once the stream has nothing more for now (the task is
    /// then woken when it has).
    pub(super) fn poll_next(
        &mut self,
        recv: &mut RecvStream,
        cx: &mut Context<'_>,
        max_frame: usize,
    ) -> Poll<Incoming> {
        loop {
            let target = match &mut self.body {
                None => &mut self.len[self.len_read..],
                Some(body) => &mut body[self.body_read..],
            };
            if !target.is_empty() {
                match recv.poll_read(cx, target) {
                    Poll::Pending => return Poll::Pending,
                    // 0 bytes into a non-empty buffer: the peer finished
                    // the stream.
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        return Poll::Ready(Incoming::Closed);
                    }
                    Poll::Ready(Ok(n)) => match self.body {
                        None => self.len_read += n,
                        Some(_) => self.body_read += n,
                    },
                }
            }
            match &mut self.body {
                None if self.len_read == self.len.len() => {
                    let len = u32::from_le_bytes(self.len) as usize;
                    if len > max_frame {
                        return Poll::Ready(Incoming::Violation(Violation::FrameTooLarge));
                    }
                    self.body = Some(vec![0; len]);
                    self.body_read = 0;
                }
                Some(body) if self.body_read == body.len() => {
                    let body = std::mem::take(body);
                    *self = Self::default();
                    return Poll::Ready(Incoming::Frame(Bytes::from(body)));
                }
                _ => {}
            }
        }
    }
}

/// Says that the control stream has something new (data, its end, an
/// error) and wakes whoever reads the link. The stream is polled with its
/// own waker, this, so that reading the link (at each input datagram, or
/// at each tick with a no-op waker) only takes the connection's lock for
/// the stream when quinn said there is news on it.
#[derive(Debug)]
struct StreamNews {
    /// Set by quinn's wake-up, taken by the reader; set at first.
    news: AtomicBool,
    /// The waker of the link's last reader.
    reader: AtomicWaker,
}

impl Wake for StreamNews {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.news.store(true, Ordering::Release);
        self.reader.wake();
    }
}

impl QuicLink {
    /// Takes a connection whose handshake is done: waits (the caller bounds
    /// it) for the client's control stream.
    pub async fn accept(
        connection: Connection,
        max_frame: usize,
    ) -> Result<Self, quinn::ConnectionError> {
        let (control, recv) = connection.accept_bi().await?;
        let stream_news = Arc::new(StreamNews {
            news: AtomicBool::new(true),
            reader: AtomicWaker::new(),
        });
        Ok(Self {
            connection,
            control,
            recv,
            frame: StreamFrame::default(),
            stream_waker: Waker::from(Arc::clone(&stream_news)),
            stream_news,
            max_frame,
            ended: false,
            driver: None,
        })
    }

    /// The connection's driver, which [`Link::attach`] moves to the
    /// session's new shard.
    pub(crate) fn with_driver(mut self, driver: Option<roaming::Driver>) -> Self {
        self.driver = driver;
        self
    }

    /// The connection, for its address and statistics.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Sends update datagrams for a room: a datagram needs no session state
/// (quinn's connection is shared and queues it for its driver), and
/// datagrams are unordered anyway.
#[derive(Debug)]
struct DirectQuic {
    connection: Connection,
    allowed: AtomicBool,
}

impl DirectWrite for DirectQuic {
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
        if !self.allowed.load(Ordering::Acquire) {
            return DirectOutcome::Declined;
        }
        // One lock of the connection: quinn refuses a datagram that does
        // not fit without queueing anything.
        match self.connection.send_datagram(Bytes::clone(update)) {
            Ok(()) => DirectOutcome::Written,
            Err(_) => DirectOutcome::Declined,
        }
    }
}

impl Link for QuicLink {
    /// A whole control-stream frame first, else the next datagram, else
    /// waits for either. Cancel-safe, and a single poll (with any waker)
    /// returns whatever is already there: the part of a stream frame read
    /// so far stays in the link, and a datagram is taken from quinn only
    /// when it is returned. The stream's end or a frame over the limit ends
    /// the link (then only [`Incoming::Closed`]); a datagram over the limit
    /// too.
    async fn recv(&mut self) -> Incoming {
        if self.ended {
            return Incoming::Closed;
        }
        let Self {
            connection,
            recv,
            frame,
            stream_news,
            stream_waker,
            max_frame,
            ..
        } = self;
        let max_frame = *max_frame;
        // Made once per call: quinn wakes the waiters registered with it.
        let mut datagram = pin!(connection.read_datagram());
        let incoming = poll_fn(|cx| {
            // Registered before the news is taken, so news that comes
            // after it wakes this reader.
            stream_news.reader.register(cx.waker());
            if stream_news.news.load(Ordering::Relaxed)
                && stream_news.news.swap(false, Ordering::Acquire)
            {
                let mut stream_cx = Context::from_waker(stream_waker);
                if let Poll::Ready(incoming) = frame.poll_next(recv, &mut stream_cx, max_frame) {
                    // More may wait behind it.
                    stream_news.news.store(true, Ordering::Release);
                    return Poll::Ready(incoming);
                }
                // Pending: quinn holds `stream_waker` until there is news.
            }
            datagram.as_mut().poll(cx).map(|read| match read {
                Ok(d) if d.len() > max_frame => Incoming::Violation(Violation::DatagramTooLarge),
                Ok(d) => Incoming::Frame(d),
                Err(_) => Incoming::Closed,
            })
        })
        .await;
        self.ended = !matches!(incoming, Incoming::Frame(_));
        incoming
    }

    /// A latest-wins frame (an update) goes as a datagram when it fits the
    /// path; everything else, and a larger update, on the control stream.
    async fn send(&mut self, frame: Bytes, delivery: Delivery) -> Result<(), LinkError> {
        if delivery == Delivery::LatestWins {
            // Unreliable on purpose: quinn drops the oldest datagram when its
            // send buffer is full, and a newer update supersedes it anyway.
            // One that does not fit the path (or a peer without datagrams)
            // goes on the stream.
            match self.connection.send_datagram(frame.clone()) {
                Ok(()) => return Ok(()),
                Err(
                    quinn::SendDatagramError::TooLarge
                    | quinn::SendDatagramError::UnsupportedByPeer
                    | quinn::SendDatagramError::Disabled,
                ) => {}
                Err(e) => return Err(LinkError::QuicDatagram(e)),
            }
        }
        let len = u32::try_from(frame.len()).map_err(|_| LinkError::TooLarge(frame.len()))?;
        let write = async {
            self.control.write_all(&len.to_le_bytes()).await?;
            self.control.write_all(&frame).await
        };
        write.await.map_err(|e| match e {
            quinn::WriteError::ConnectionLost(_) | quinn::WriteError::ClosedStream => {
                LinkError::Closed
            }
            other => LinkError::QuicStream(other),
        })
    }

    /// Moves the connection's quinn driver to the shard the session moved
    /// to, so that the room's updates, the driver and the session's reads
    /// share its thread.
    fn attach(&mut self) -> io::Result<()> {
        if let Some(driver) = &self.driver {
            driver.move_here();
        }
        Ok(())
    }

    fn direct(&self) -> Option<Arc<dyn DirectWrite>> {
        Some(Arc::new(DirectQuic {
            connection: self.connection.clone(),
            allowed: AtomicBool::new(false),
        }))
    }

    /// Finishes the control stream and waits (at most `LINGER`) for the
    /// peer to read it, so the last frames (the `Close` message) arrive; then
    /// closes the connection with the reason's code and message.
    async fn close(&mut self, reason: CloseReason, message: &str) {
        if self.control.finish().is_ok() {
            let _ = tokio::time::timeout(LINGER, self.control.stopped()).await;
        }
        self.connection.close(
            VarInt::from_u32(u32::from(reason.code())),
            message.as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use futures_util::FutureExt;
    use quinn::Endpoint;
    use tickwire_shared::codec;
    use tickwire_shared::protocol::{ServerMessage, Update};
    use tickwire_shared::tick::Tick;

    use super::*;

    const MAX_FRAME: usize = 4096;

    struct Pair {
        server: Endpoint,
        client: Endpoint,
        addr: SocketAddr,
        cert: CertificateDer<'static>,
    }

    fn pair() -> Pair {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let cert = key.cert.der().clone();
        let private = PrivateKeyDer::try_from(key.signing_key.serialize_der()).expect("key");
        let config = server_config(vec![cert.clone()], private, Duration::from_secs(5), 16)
            .expect("server config");
        let server = Endpoint::server(config, "127.0.0.1:0".parse().expect("addr"))
            .expect("server endpoint");
        let addr = server.local_addr().expect("addr");
        let client =
            Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client endpoint");
        Pair {
            server,
            client,
            addr,
            cert,
        }
    }

    fn client_config(cert: &CertificateDer<'static>, alpn: &[u8]) -> quinn::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).expect("root");
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls13")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![alpn.to_vec()];
        let crypto =
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic client config");
        quinn::ClientConfig::new(Arc::new(crypto))
    }

    async fn write_frame(send: &mut SendStream, frame: &[u8]) {
        send.write_all(&(frame.len() as u32).to_le_bytes())
            .await
            .expect("len");
        send.write_all(frame).await.expect("frame");
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

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn frames_updates_datagrams_and_close_travel_as_designed() {
        let p = pair();
        let (client, server) = tokio::join!(
            async {
                let conn = p
                    .client
                    .connect_with(client_config(&p.cert, ALPN), p.addr, "localhost")
                    .expect("connect");
                let conn = tokio::time::timeout(WAIT, conn)
                    .await
                    .expect("in time")
                    .expect("handshake");
                let (mut send, recv) = conn.open_bi().await.expect("stream");
                write_frame(&mut send, b"hello").await;
                (conn, send, recv)
            },
            async {
                let incoming = tokio::time::timeout(WAIT, p.server.accept())
                    .await
                    .expect("in time")
                    .expect("incoming");
                let conn = incoming.await.expect("handshake");
                tokio::time::timeout(WAIT, QuicLink::accept(conn, MAX_FRAME))
                    .await
                    .expect("in time")
                    .expect("stream")
            }
        );
        let (conn, mut send, mut recv) = client;
        let mut link = server;
        assert!(conn.handshake_data().is_some());

        // Client control frame and datagram arrive as frames.
        assert!(matches!(link.recv().await, Incoming::Frame(f) if f.as_ref() == b"hello"));
        conn.send_datagram(Bytes::from_static(b"input"))
            .expect("datagram");
        assert!(
            matches!(tokio::time::timeout(WAIT, link.recv()).await.expect("in time"), Incoming::Frame(f) if f.as_ref() == b"input")
        );

        // A small update goes as a datagram, a big one and control on the stream.
        let small = update(20);
        link.send(small.clone(), Delivery::LatestWins)
            .await
            .expect("send");
        let got = tokio::time::timeout(WAIT, conn.read_datagram())
            .await
            .expect("in time")
            .expect("datagram");
        assert_eq!(got, small);
        let big = update(8 * 1024);
        link.send(big.clone(), Delivery::LatestWins)
            .await
            .expect("send");
        link.send(Bytes::from_static(b"\x0bcontrol"), Delivery::Reliable)
            .await
            .expect("send");
        assert_eq!(
            tokio::time::timeout(WAIT, read_frame(&mut recv))
                .await
                .expect("in time"),
            big.to_vec()
        );
        assert_eq!(
            tokio::time::timeout(WAIT, read_frame(&mut recv))
                .await
                .expect("in time"),
            b"\x0bcontrol"
        );

        // A frame over the limit is a violation.
        write_frame(&mut send, &vec![0u8; MAX_FRAME + 1]).await;
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv())
                .await
                .expect("in time"),
            Incoming::Violation(Violation::FrameTooLarge)
        ));

        // Close carries the reason's code to the client.
        link.close(CloseReason::FrameTooLarge, "too big").await;
        let error = tokio::time::timeout(WAIT, conn.closed())
            .await
            .expect("closed in time");
        match error {
            quinn::ConnectionError::ApplicationClosed(close) => {
                assert_eq!(
                    close.error_code,
                    VarInt::from_u32(u32::from(CloseReason::FrameTooLarge.code()))
                );
                assert_eq!(close.reason.as_ref(), b"too big");
            }
            other => panic!("unexpected close {other:?}"),
        }
    }

    /// A connected client (its connection and control stream, on which it
    /// wrote `first`) and the server's link, with frames up to `max_frame`.
    async fn connected(
        p: &Pair,
        first: &[u8],
        max_frame: usize,
    ) -> (Connection, SendStream, QuicLink) {
        let (client, link) = tokio::join!(
            async {
                let conn = p
                    .client
                    .connect_with(client_config(&p.cert, ALPN), p.addr, "localhost")
                    .expect("connect");
                let conn = tokio::time::timeout(WAIT, conn)
                    .await
                    .expect("in time")
                    .expect("handshake");
                let (mut send, _recv) = conn.open_bi().await.expect("stream");
                send.write_all(first).await.expect("first bytes");
                (conn, send)
            },
            async {
                let incoming = tokio::time::timeout(WAIT, p.server.accept())
                    .await
                    .expect("in time")
                    .expect("incoming");
                let conn = incoming.await.expect("handshake");
                tokio::time::timeout(WAIT, QuicLink::accept(conn, max_frame))
                    .await
                    .expect("in time")
                    .expect("stream")
            }
        );
        (client.0, client.1, link)
    }

    /// Polls `link.recv()` once at a time (a fresh future, a no-op waker,
    /// as a room reading its members' links at each tick does) until it
    /// returns something, for at most `WAIT`.
    async fn poll_once_until_ready(link: &mut QuicLink) -> Incoming {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(incoming) = link.recv().now_or_never() {
                return incoming;
            }
            assert!(tokio::time::Instant::now() < deadline, "nothing came");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[tokio::test]
    async fn single_polls_and_dropped_reads_lose_no_part_of_a_frame() {
        let p = pair();
        // The length prefix and half the body.
        let mut first = 10u32.to_le_bytes().to_vec();
        first.extend_from_slice(b"hello");
        let (conn, mut send, mut link) = connected(&p, &first, MAX_FRAME).await;
        // Single polls and a read cancelled by a timeout, while only half
        // of the frame is there: nothing comes, nothing is lost.
        for _ in 0..10 {
            assert!(link.recv().now_or_never().is_none());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(20), link.recv())
                .await
                .is_err()
        );
        // A datagram comes through while the stream frame is half read.
        conn.send_datagram(Bytes::from_static(b"input"))
            .expect("datagram");
        assert!(matches!(
            poll_once_until_ready(&mut link).await,
            Incoming::Frame(f) if f.as_ref() == b"input"
        ));
        // The rest of the frame, and a whole one behind it in the same
        // write: both whole, in order, one per poll.
        let mut rest = b"world".to_vec();
        rest.extend_from_slice(&3u32.to_le_bytes());
        rest.extend_from_slice(b"end");
        send.write_all(&rest).await.expect("rest");
        assert!(matches!(
            poll_once_until_ready(&mut link).await,
            Incoming::Frame(f) if f.as_ref() == b"helloworld"
        ));
        assert!(matches!(
            link.recv().now_or_never(),
            Some(Incoming::Frame(f)) if f.as_ref() == b"end"
        ));
        // The end of the stream ends the link, for good.
        send.finish().expect("finish");
        assert!(matches!(
            poll_once_until_ready(&mut link).await,
            Incoming::Closed
        ));
        assert!(matches!(link.recv().now_or_never(), Some(Incoming::Closed)));
    }

    #[tokio::test]
    async fn unread_datagrams_are_bounded_and_the_oldest_dropped() {
        let p = pair();
        let (conn, _send, mut link) = connected(&p, &0u32.to_le_bytes(), MAX_FRAME).await;
        assert!(matches!(link.recv().await, Incoming::Frame(f) if f.is_empty()));
        // 500 inputs of 40 bytes while the link reads nothing.
        for i in 0..500u32 {
            let mut datagram = vec![0u8; 40];
            datagram[..4].copy_from_slice(&i.to_le_bytes());
            conn.send_datagram(Bytes::from(datagram)).expect("datagram");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut read = Vec::new();
        while let Some(Incoming::Frame(f)) = link.recv().now_or_never() {
            read.push(u32::from_le_bytes(f[..4].try_into().expect("4 bytes")));
        }
        // 8 KiB at 40 + 32 bytes each: the newest 113 at most.
        assert!((50..=113).contains(&read.len()), "{}", read.len());
        assert_eq!(read.last(), Some(&499), "the newest is kept");
        assert!(read.windows(2).all(|w| w[0] < w[1]), "in order");
    }

    #[tokio::test]
    async fn a_datagram_over_the_limit_ends_the_link() {
        let p = pair();
        // Datagrams fit a packet: a smaller limit than MAX_FRAME.
        let max_frame = 100;
        let (conn, _send, mut link) = connected(&p, &0u32.to_le_bytes(), max_frame).await;
        assert!(matches!(link.recv().await, Incoming::Frame(f) if f.is_empty()));
        conn.send_datagram(Bytes::from(vec![0u8; max_frame + 1]))
            .expect("datagram");
        assert!(matches!(
            tokio::time::timeout(WAIT, link.recv())
                .await
                .expect("in time"),
            Incoming::Violation(Violation::DatagramTooLarge)
        ));
        assert!(matches!(link.recv().await, Incoming::Closed));
    }

    #[tokio::test]
    async fn a_client_without_the_alpn_is_refused_on_both_sides() {
        let p = pair();
        let (client, server) = tokio::join!(
            async {
                let conn = p
                    .client
                    .connect_with(client_config(&p.cert, b"h3"), p.addr, "localhost")
                    .expect("connect");
                tokio::time::timeout(WAIT, conn).await.expect("in time")
            },
            async {
                let incoming = tokio::time::timeout(WAIT, p.server.accept())
                    .await
                    .expect("in time")
                    .expect("incoming");
                tokio::time::timeout(WAIT, incoming).await.expect("in time")
            }
        );
        let client_error = client.expect_err("handshake must fail").to_string();
        assert!(
            client_error.contains("no_application_protocol") || client_error.contains("120"),
            "{client_error}"
        );
        assert!(server.is_err(), "the server side fails too");
    }
}
