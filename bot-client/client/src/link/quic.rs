//! The client side of the QUIC transport (`quic://host:port`): one quinn
//! endpoint and connection per client, ALPN [`ALPN`], TLS 1.3 with the same
//! certificate options as `wss://` ([`ClientTls`]).
//!
//! Control frames (everything but inputs and acknowledgements) travel on the
//! one bidirectional stream the client opens, each prefixed with its length
//! (u32, little-endian). The server sends updates as datagrams when they fit
//! and on the stream otherwise; the client sends inputs and acks as
//! datagrams when they fit. A reader task per
//! connection moves stream frames (with backpressure) and datagrams (dropped
//! when the queue is full) into a bounded queue, so receiving is one await on
//! a channel and cancel-safe.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use quinn::{
    Connection, ConnectionError, Endpoint, RecvStream, SendStream, TransportConfig, VarInt,
};
use tickwire_shared::codec;
use tickwire_shared::protocol::CloseReason;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::ClientError;
use crate::tls::ClientTls;

/// The application protocol the server requires.
pub const ALPN: &[u8] = b"tickwire/1";

/// Frames read ahead of the client. Stream frames wait for room; datagrams
/// past it are dropped (a newer update supersedes a dropped one).
const READ_AHEAD: usize = 256;
/// How long the reader waits, after the control stream ends, for the
/// connection's close (which carries the reason).
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long the QUIC handshake may take. Nothing answers a QUIC packet sent
/// to a port without a QUIC server (ICMP errors are ignored), so without
/// this bound a wrong port would wait out the idle timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(4);

/// What the reader task hands to the client.
#[derive(Debug)]
enum Inbound {
    /// A frame from the control stream.
    Frame(Bytes),
    /// A datagram (the link conditioner treats it apart: it may be lost).
    Datagram(Bytes),
    /// The connection ended; the reason when the server closed it with an
    /// application close whose code maps to a [`CloseReason`].
    Ended(Option<(CloseReason, String)>),
    /// The server broke the framing.
    Failed(String),
}

/// Client transport limits, small like the server's: the client never
/// accepts streams; it receives one control stream (full snapshots of a
/// big room are the largest frames, tens of KiB) and update datagrams.
fn transport_config() -> TransportConfig {
    let mut t = TransportConfig::default();
    t.max_concurrent_bidi_streams(VarInt::from_u32(0));
    t.max_concurrent_uni_streams(VarInt::from_u32(0));
    // A few full snapshots in flight (quinn's default receive window is
    // unlimited).
    t.stream_receive_window(VarInt::from_u32(256 * 1024));
    t.receive_window(VarInt::from_u32(512 * 1024));
    // Upstream is inputs, acks and lobby requests: tens of bytes.
    t.send_window(64 * 1024);
    // Update datagrams: a few seconds of them if the client stalls; quinn
    // drops the oldest beyond.
    t.datagram_receive_buffer_size(Some(256 * 1024));
    t.datagram_send_buffer_size(16 * 1024);
    // An idle bot still acknowledges every update; keep-alives cover a
    // client that is not in a room.
    t.keep_alive_interval(Some(Duration::from_secs(5)));
    t.max_idle_timeout(Some(quinn::IdleTimeout::from(VarInt::from_u32(30_000))));
    t
}

/// Host and port of a `quic://host:port` URL (IPv6 hosts in brackets).
pub(crate) fn parse_url(url: &str) -> Result<(String, u16), ClientError> {
    let bad = |why: &str| ClientError::Connect(format!("{url}: {why}"));
    let rest = url
        .strip_prefix("quic://")
        .ok_or_else(|| bad("not a quic:// URL"))?
        .trim_end_matches('/');
    if rest.contains('/') {
        return Err(bad("a quic:// URL has no path"));
    }
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| bad("a quic:// URL needs a port"))?;
    let port = port.parse::<u16>().map_err(|_| bad("invalid port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_owned(), port))
}

fn handshake_error(e: ConnectionError, target: &str) -> ClientError {
    let crypto = |code: quinn::TransportErrorCode| (0x100..0x200).contains(&u64::from(code));
    match e {
        ConnectionError::TransportError(t) if crypto(t.code) => {
            ClientError::Tls(format!("handshake with {target}: {t}"))
        }
        ConnectionError::ConnectionClosed(c) if crypto(c.error_code) => ClientError::Tls(format!(
            "handshake with {target}: refused by the server: {c}"
        )),
        ConnectionError::TimedOut => ClientError::Timeout,
        other => ClientError::Connect(format!("{target}: {other}")),
    }
}

/// An open QUIC connection with its control stream and reader task.
#[derive(Debug)]
pub(crate) struct QuicConn {
    endpoint: Endpoint,
    connection: Connection,
    control: SendStream,
    incoming: mpsc::Receiver<Inbound>,
    reader: JoinHandle<()>,
    /// Length-prefixed control frames not yet written, and how much of
    /// them is.
    stream_out: Vec<u8>,
    written: usize,
}

impl Drop for QuicConn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl QuicConn {
    /// Connects to a `quic://` URL and opens the control stream.
    pub(crate) async fn open(url: &str, tls: &ClientTls) -> Result<Self, ClientError> {
        let (host, port) = parse_url(url)?;
        let target = format!("{host}:{port}");
        let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| ClientError::Connect(format!("{target}: {e}")))?
            .next()
            .ok_or_else(|| ClientError::Connect(format!("{target}: no address")))?;
        let mut rustls_config = tls.client_config_with(&[&rustls::version::TLS13], ALPN)?;
        rustls_config.enable_early_data = false;
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(rustls_config)
            .map_err(|e| ClientError::Tls(format!("QUIC crypto configuration: {e}")))?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(Arc::new(transport_config()));
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0".parse().expect("valid")
        } else {
            "0.0.0.0:0".parse().expect("valid")
        };
        let endpoint = Endpoint::client(bind)
            .map_err(|e| ClientError::Connect(format!("binding a UDP socket: {e}")))?;
        let connecting = endpoint
            .connect_with(config, addr, &host)
            .map_err(|e| ClientError::Connect(format!("{target}: {e}")))?;
        let connection = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
            .await
            .map_err(|_| {
                ClientError::Connect(format!(
                    "{target}: no QUIC handshake within {HANDSHAKE_TIMEOUT:?} (is a QUIC server listening on that UDP port?)"
                ))
            })?
            .map_err(|e| handshake_error(e, &target))?;
        let (control, recv) = connection
            .open_bi()
            .await
            .map_err(|e| ClientError::Connect(format!("{target}: {e}")))?;
        let (tx, incoming) = mpsc::channel(READ_AHEAD);
        let reader = tokio::spawn(read(connection.clone(), recv, tx));
        Ok(Self {
            endpoint,
            connection,
            control,
            incoming,
            reader,
            stream_out: Vec::new(),
            written: 0,
        })
    }

    /// Queues a frame for the control stream (length-prefixed).
    pub(crate) fn queue_stream(&mut self, frame: &[u8]) -> Result<(), ClientError> {
        let len =
            u32::try_from(frame.len()).map_err(|_| ClientError::Unexpected("frame too large"))?;
        self.stream_out.extend_from_slice(&len.to_le_bytes());
        self.stream_out.extend_from_slice(frame);
        Ok(())
    }

    /// Whether control frames wait to be written.
    pub(crate) fn has_pending(&self) -> bool {
        !self.stream_out.is_empty()
    }

    /// Writes the queued control frames. Cancel-safe.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        let written =
            super::poll_write_all(&mut self.control, cx, &self.stream_out, &mut self.written);
        match written {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                self.stream_out.clear();
                self.written = 0;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::NotConnected => {
                Poll::Ready(Err(ClientError::Lost))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(ClientError::Quic(e.to_string()))),
        }
    }

    /// Receives the next frame or the end, and whether the frame came as a
    /// datagram. Cancel-safe.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(super::Inbound, bool), ClientError>> {
        Poll::Ready(match std::task::ready!(self.incoming.poll_recv(cx)) {
            None => Ok((super::Inbound::Ended(None), false)),
            Some(Inbound::Frame(bytes)) => Ok((super::Inbound::Frame(bytes), false)),
            Some(Inbound::Datagram(bytes)) => Ok((super::Inbound::Frame(bytes), true)),
            Some(Inbound::Ended(reason)) => Ok((super::Inbound::Ended(reason), false)),
            Some(Inbound::Failed(why)) => Err(ClientError::Quic(why)),
        })
    }

    /// Sends a frame as a datagram; `Ok(false)` when it does not fit (the
    /// caller sends it on the stream instead).
    pub(crate) fn send_datagram(&mut self, frame: &[u8]) -> Result<bool, ClientError> {
        if self
            .connection
            .max_datagram_size()
            .is_none_or(|max| frame.len() > max)
        {
            return Ok(false);
        }
        match self.connection.send_datagram(Bytes::copy_from_slice(frame)) {
            Ok(()) => Ok(true),
            Err(quinn::SendDatagramError::TooLarge) => Ok(false),
            Err(quinn::SendDatagramError::ConnectionLost(_)) => Err(ClientError::Lost),
            Err(e) => Err(ClientError::Quic(e.to_string())),
        }
    }

    /// Finishes the control stream, waits (bounded) for the server to close
    /// the connection after reading the client's `Close`, then closes it
    /// with code 1000 and lets the endpoint send the close.
    pub(crate) async fn close(mut self) {
        let _ = std::future::poll_fn(|cx| self.poll_flush(cx)).await;
        let _ = self.control.finish();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.connection.closed()).await;
        self.connection.close(
            VarInt::from_u32(u32::from(CloseReason::Normal.code())),
            b"bye",
        );
        let _ = tokio::time::timeout(Duration::from_millis(500), self.endpoint.wait_idle()).await;
    }
}

/// Reads frames from the control stream and datagrams into `tx` until the
/// connection ends, then sends how it ended.
async fn read(connection: Connection, mut recv: RecvStream, tx: mpsc::Sender<Inbound>) {
    let stream = async {
        loop {
            let mut len = [0u8; 4];
            if recv.read_exact(&mut len).await.is_err() {
                return None;
            }
            let len = u32::from_le_bytes(len) as usize;
            if len > codec::MAX_SERVER_FRAME {
                return Some(format!("a {len}-byte frame is over the limit"));
            }
            let mut frame = vec![0u8; len];
            if recv.read_exact(&mut frame).await.is_err() {
                return None;
            }
            let inbound = Inbound::Frame(Bytes::from(frame));
            if tx.send(inbound).await.is_err() {
                return None;
            }
        }
    };
    let datagrams = async {
        while let Ok(bytes) = connection.read_datagram().await {
            // Past the read-ahead, drop: the next update supersedes it.
            let _ = tx.try_send(Inbound::Datagram(bytes));
        }
    };
    let failure = tokio::select! {
        failure = stream => failure,
        () = datagrams => None,
    };
    let ending = match failure {
        Some(why) => {
            connection.close(
                VarInt::from_u32(u32::from(CloseReason::FrameTooLarge.code())),
                why.as_bytes(),
            );
            Inbound::Failed(why)
        }
        None => match tokio::time::timeout(CLOSE_WAIT, connection.closed()).await {
            Ok(ConnectionError::ApplicationClosed(close)) => Inbound::Ended(
                CloseReason::from_code(close.error_code.into_inner())
                    .map(|r| (r, String::from_utf8_lossy(&close.reason).into_owned())),
            ),
            _ => Inbound::Ended(None),
        },
    };
    let _ = tx.send(ending).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that speaks another ALPN refuses the client's
    /// `tickwire/1`: the client reports a TLS error, in time.
    #[tokio::test]
    async fn a_server_without_the_alpn_is_a_tls_error() {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let cert = key.cert.der().clone();
        let private = rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der())
            .expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls13")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], private)
            .expect("cert");
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("quic");
        let server = Endpoint::server(
            quinn::ServerConfig::with_crypto(Arc::new(crypto)),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .expect("server");
        let addr = server.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            if let Some(incoming) = server.accept().await {
                let _ = incoming.await;
            }
        });
        let url = format!("quic://{addr}");
        let tls = ClientTls::Roots(vec![cert]);
        let err = tokio::time::timeout(Duration::from_secs(5), QuicConn::open(&url, &tls))
            .await
            .expect("answers in time")
            .expect_err("no common ALPN");
        let ClientError::Tls(reason) = &err else {
            panic!("expected a TLS error, got {err:?}");
        };
        assert!(
            reason.contains("no_application_protocol") || reason.contains("120"),
            "{reason}"
        );
        accept.abort();
    }

    #[test]
    fn quic_urls_parse() {
        assert_eq!(
            parse_url("quic://127.0.0.1:7001").expect("ok"),
            ("127.0.0.1".into(), 7001)
        );
        assert_eq!(parse_url("quic://[::1]:9/").expect("ok"), ("::1".into(), 9));
        assert_eq!(
            parse_url("quic://localhost:443").expect("ok"),
            ("localhost".into(), 443)
        );
        for bad in [
            "ws://h:1",
            "quic://h",
            "quic://h:1/ws",
            "quic://:1",
            "quic://h:x",
        ] {
            assert!(
                matches!(parse_url(bad), Err(ClientError::Connect(_))),
                "{bad}"
            );
        }
    }
}
