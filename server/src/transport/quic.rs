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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, RecvStream, SendStream, TransportConfig, VarInt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tickwire_shared::protocol::CloseReason;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{DirectOutcome, DirectWrite, Incoming, Link, LinkError, Violation};
use crate::outbox::Delivery;

/// The application protocol a client must offer.
pub const ALPN: &[u8] = b"tickwire/1";

/// Frames read ahead of the session, per connection. Control frames wait
/// for room (the stream's flow control then slows the peer); datagrams past
/// it are dropped, which costs nothing as inputs repeat.
const READ_AHEAD: usize = 64;
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
    // Datagrams are inputs (in) and updates (out), tens of bytes each:
    // 64 KiB is hundreds of them either way; quinn drops the oldest beyond.
    t.datagram_receive_buffer_size(Some(64 * 1024));
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
    let mut tls = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| QuicError::Crypto(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(idle)));
    // quinn accepts 65,536 handshakes and 100 MiB of their buffered data by
    // default; a slow or spoofed handshake flood must cost far less.
    config.max_incoming(max_pending);
    config.incoming_buffer_size(64 * 1024);
    config.incoming_buffer_size_total(8 * 1024 * 1024);
    Ok(config)
}

/// A [`Link`] over one QUIC connection.
#[derive(Debug)]
pub struct QuicLink {
    connection: Connection,
    control: SendStream,
    incoming: mpsc::Receiver<Incoming>,
    reader: JoinHandle<()>,
}

impl Drop for QuicLink {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl QuicLink {
    /// Takes a connection whose handshake is done: waits (the caller bounds
    /// it) for the client's control stream, then reads frames and datagrams
    /// into a bounded queue.
    pub async fn accept(
        connection: Connection,
        max_frame: usize,
    ) -> Result<Self, quinn::ConnectionError> {
        let (control, recv) = connection.accept_bi().await?;
        let (tx, incoming) = mpsc::channel(READ_AHEAD);
        let reader = tokio::spawn(read_frames(connection.clone(), recv, tx, max_frame));
        Ok(Self {
            connection,
            control,
            incoming,
            reader,
        })
    }

    /// The connection, for its address and statistics.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Reads length-prefixed frames from the control stream and datagrams,
/// whichever comes, into `tx`, until either ends or a frame breaks a rule.
async fn read_frames(
    connection: Connection,
    mut recv: RecvStream,
    tx: mpsc::Sender<Incoming>,
    max_frame: usize,
) {
    let stream = async {
        loop {
            let mut len = [0u8; 4];
            if recv.read_exact(&mut len).await.is_err() {
                return Incoming::Closed;
            }
            let len = u32::from_le_bytes(len) as usize;
            if len > max_frame {
                return Incoming::Violation(Violation::FrameTooLarge);
            }
            let mut frame = vec![0u8; len];
            if recv.read_exact(&mut frame).await.is_err() {
                return Incoming::Closed;
            }
            if tx.send(Incoming::Frame(Bytes::from(frame))).await.is_err() {
                return Incoming::Closed;
            }
        }
    };
    let datagrams = async {
        loop {
            match connection.read_datagram().await {
                Err(_) => return Incoming::Closed,
                Ok(d) if d.len() > max_frame => {
                    return Incoming::Violation(Violation::DatagramTooLarge);
                }
                // Past the read-ahead, drop: inputs are repeated.
                Ok(d) => {
                    let _ = tx.try_send(Incoming::Frame(d));
                }
            }
        }
    };
    let ending = tokio::select! {
        ending = stream => ending,
        ending = datagrams => ending,
    };
    let _ = tx.send(ending).await;
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
        if !self.allowed.load(Ordering::Acquire) || !fits_datagram(&self.connection, update) {
            return DirectOutcome::Declined;
        }
        match self.connection.send_datagram(Bytes::clone(update)) {
            Ok(()) => DirectOutcome::Written,
            Err(_) => DirectOutcome::Declined,
        }
    }
}

/// Whether a frame fits one datagram on this connection.
fn fits_datagram(connection: &Connection, frame: &[u8]) -> bool {
    connection
        .max_datagram_size()
        .is_some_and(|max| frame.len() <= max)
}

impl Link for QuicLink {
    async fn recv(&mut self) -> Incoming {
        self.incoming.recv().await.unwrap_or(Incoming::Closed)
    }

    /// A latest-wins frame (an update) goes as a datagram when it fits the
    /// path; everything else, and a larger update, on the control stream.
    async fn send(&mut self, frame: Bytes, delivery: Delivery) -> Result<(), LinkError> {
        if delivery == Delivery::LatestWins && fits_datagram(&self.connection, &frame) {
            // Unreliable on purpose: quinn drops the oldest datagram when its
            // send buffer is full, and a newer update supersedes it anyway.
            return self
                .connection
                .send_datagram(frame)
                .map_err(LinkError::QuicDatagram);
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
