//! Accepting connections (shell): one loop per listener (the plain port,
//! the TLS port, the QUIC endpoint, the WebTransport endpoint), admission
//! through the caps of [`Admission`], routing a plain connection to HTTP or
//! a WebSocket, the TLS, WebSocket and WebTransport handshakes within the
//! handshake deadline, and handing the upgraded link to the sessions. Not generic over the game: the
//! sessions are reached through [`SessionHost`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::admission::{Admission, ConnectionPermits, HandshakePermit};
use crate::config::ServerConfig;
use crate::http;
use crate::metrics::Metrics;
use crate::reason::{Fault, Label, Rejection};
use crate::transport::quic::{QuicLink, roaming};
use crate::transport::tcp::{Movable, MovableTcp};
use crate::transport::webtransport::{self, SessionRefusal, WebTransportLink};
use crate::transport::ws::{self, Route, WsLink};

/// An upgraded connection, whatever the transport. Made once per
/// connection and unpacked at once, so its size does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum AnyLink {
    /// WebSocket on the plain port.
    Ws(WsLink<MovableTcp>),
    /// WebSocket on the TLS port.
    Wss(WsLink<TlsStream<MovableTcp>>),
    /// QUIC.
    Quic(QuicLink),
    /// WebTransport.
    WebTransport(WebTransportLink),
}

impl From<WsLink<MovableTcp>> for AnyLink {
    fn from(link: WsLink<MovableTcp>) -> Self {
        Self::Ws(link)
    }
}

impl From<WsLink<TlsStream<MovableTcp>>> for AnyLink {
    fn from(link: WsLink<TlsStream<MovableTcp>>) -> Self {
        Self::Wss(link)
    }
}

/// What an admitted connection brings to its session.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// The peer's address.
    pub(crate) peer: SocketAddr,
    /// When the handshake (`Hello` included) must be done.
    pub(crate) deadline: Instant,
    /// The pending-handshake permit.
    pub(crate) handshake: HandshakePermit,
    /// The connection's slots.
    pub(crate) permits: ConnectionPermits,
}

/// Whoever runs sessions: the server, for its game.
pub(crate) trait SessionHost: Send + Sync {
    /// Runs a session on `link` until it ends.
    fn serve(
        self: Arc<Self>,
        link: AnyLink,
        admitted: Admitted,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// What the accept loops share.
pub(crate) struct Front {
    pub(crate) config: ServerConfig,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) admission: Arc<Admission>,
    pub(crate) sessions: Arc<dyn SessionHost>,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front")
            .field("server", &self.config.server_name)
            .finish_non_exhaustive()
    }
}

/// How a listener prepares an accepted TCP stream before its session.
#[derive(Clone)]
pub(crate) enum Entry {
    /// The plain port: `GET /ws` becomes a WebSocket session, everything
    /// else is served by the HTTP router.
    Plain(axum::Router),
    /// The TLS port: the TLS handshake, then the WebSocket upgrade only
    /// (no HTTP routing; other paths are answered 404).
    Tls(TlsAcceptor),
}

impl Entry {
    /// Whether refusals can be written as plain HTTP on this port.
    fn speaks_plain_http(&self) -> bool {
        matches!(self, Self::Plain(_))
    }
}

/// Accepts connections until `shutdown` (or the server's cancellation),
/// then returns (see [`crate::Server::run`]). The same connection caps,
/// per-IP limit and pending-handshake permits hold whatever the `entry`.
pub(crate) async fn accept_loop(
    front: Arc<Front>,
    listener: TcpListener,
    entry: Entry,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            () = front.cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly.
                warn!(error = %e, "accept failed");
                front.metrics.error(&Fault::AcceptFailed);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (permits, handshake) = match front.admission.admit(peer) {
            Ok(admitted) => admitted,
            Err(reason) => {
                reject(&front, stream, peer, reason, entry.speaks_plain_http());
                continue;
            }
        };
        let task = handle_connection(
            Arc::clone(&front),
            stream,
            peer,
            entry.clone(),
            permits,
            handshake,
        );
        front.tracker.spawn(task);
    }
}

/// Connections the admin port serves at once. Probes and a scrape are a
/// handful of connections; past this a new one is closed at once, so the
/// admin port cannot be used to exhaust file descriptors either.
const ADMIN_CONNECTIONS: usize = 64;

/// How long an admin connection may take to send a request's headers (and
/// sit idle between kept-alive requests).
const ADMIN_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the admin port (`/healthz`, `/metrics`, `/rooms`: the HTTP
/// router, no WebSocket) until the server's cancellation. Its connections
/// are outside the game connections' caps ([`Admission`]): however many
/// game connections or handshakes are pending, probes are answered here.
pub(crate) async fn admin_accept_loop(
    front: Arc<Front>,
    listener: TcpListener,
    router: axum::Router,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(ADMIN_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = front.cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                warn!(error = %e, "admin accept failed");
                front.metrics.error(&Fault::AcceptFailed);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            front.metrics.connection_rejected(Rejection::AdminFull);
            debug!(%peer, "admin connection refused: {ADMIN_CONNECTIONS} already open");
            let _ = stream.try_write(ws::refusal(Rejection::AdminFull.label()).as_bytes());
            continue;
        };
        let router = router.clone();
        let cancel = front.cancel.clone();
        front.tracker.spawn(async move {
            let _ = stream.set_nodelay(true);
            if let Err(e) =
                http::serve_connection(stream, router, ADMIN_HEADER_TIMEOUT, cancel).await
            {
                debug!(%peer, error = %e, "admin connection ended with an error");
            }
            drop(slot);
        });
    }
}

/// The next QUIC connection `endpoint` receives that the admission takes
/// (the others are refused at once, counted and logged as `what`), with
/// its permits; `None` once the server is cancelled or the endpoint
/// closed.
async fn admit_quic(
    front: &Front,
    endpoint: &quinn::Endpoint,
    what: &'static str,
) -> Option<(
    quinn::Incoming,
    SocketAddr,
    ConnectionPermits,
    HandshakePermit,
)> {
    loop {
        let incoming = tokio::select! {
            () = front.cancel.cancelled() => return None,
            incoming = endpoint.accept() => incoming?,
        };
        let peer = incoming.remote_address();
        match front.admission.admit(peer) {
            Ok((permits, handshake)) => return Some((incoming, peer, permits, handshake)),
            Err(reason) => {
                front.metrics.connection_rejected(reason);
                debug!(%peer, %reason, transport = what, "connection refused");
                incoming.refuse();
            }
        }
    }
}

/// Accepts QUIC connections until the server's cancellation, under the
/// same limits as the TCP listeners; each becomes a session over a
/// [`QuicLink`] once its TLS handshake and control stream are up (both
/// inside the handshake deadline).
pub(crate) async fn quic_accept_loop(front: Arc<Front>, endpoint: quinn::Endpoint) {
    while let Some((incoming, peer, permits, handshake)) =
        admit_quic(&front, &endpoint, "QUIC").await
    {
        let task_front = Arc::clone(&front);
        front.tracker.spawn(async move {
            let front = task_front;
            let deadline = tokio::time::Instant::now() + front.config.timeouts.handshake();
            let max_frame = front.config.limits.max_client_frame;
            let connecting = async {
                // quinn spawns the connection's driver here, on this
                // thread; the link moves it along with the session.
                let connecting = incoming.accept();
                let driver = roaming::take_spawned();
                let connection = connecting
                    .map_err(|e| (Rejection::TlsHandshakeFailed, e))?
                    .await
                    .map_err(|e| (Rejection::TlsHandshakeFailed, e))?;
                QuicLink::accept(connection, max_frame)
                    .await
                    .map(|link| link.with_driver(driver))
                    .map_err(|e| (Rejection::HandshakeFailed, e))
            };
            let link = tokio::select! {
                r = tokio::time::timeout_at(deadline, connecting) => r,
                () = front.cancel.cancelled() => return,
            };
            match link {
                Err(_) => {
                    front
                        .metrics
                        .connection_rejected(Rejection::HandshakeTimeout);
                    debug!(%peer, "QUIC handshake timed out");
                }
                Ok(Err((reason, error))) => {
                    front.metrics.connection_rejected(reason);
                    debug!(%peer, %error, "QUIC handshake failed");
                }
                Ok(Ok(link)) => {
                    debug!(%peer, transport = "quic", "connected");
                    let admitted = Admitted {
                        peer,
                        deadline: deadline.into_std(),
                        handshake,
                        permits,
                    };
                    Arc::clone(&front.sessions)
                        .serve(AnyLink::Quic(link), admitted)
                        .await;
                }
            }
        });
    }
}

/// How a WebTransport connection failed to become a session.
#[derive(Debug)]
enum Opening {
    /// The handshake failed, with what to count and what happened.
    Failed(Rejection, String),
    /// The session request was refused (answered 404 or 403), with what
    /// it asked for (the path, or the origin).
    Refused(SessionRefusal, Option<String>),
}

/// What a wtransport error before the session says about the handshake:
/// a close at the QUIC level (a TLS alert, a refused certificate, no
/// common ALPN) is a TLS failure; HTTP/3 errors and the rest are the
/// WebTransport handshake's.
fn handshake_rejection(error: &wtransport::error::ConnectionError) -> Rejection {
    use wtransport::error::ConnectionError as E;
    match error {
        E::ConnectionClosed(_) | E::QuicProto(_) => Rejection::TlsHandshakeFailed,
        E::TimedOut => Rejection::HandshakeTimeout,
        _ => Rejection::HandshakeFailed,
    }
}

/// Accepts WebTransport connections until the server's cancellation, under
/// the same limits as the other listeners. Each becomes a session over a
/// [`WebTransportLink`] once its QUIC and HTTP/3 handshakes are done, its
/// session request is taken (the path, the `Origin`) and its control
/// stream is open, all inside the handshake deadline.
pub(crate) async fn webtransport_accept_loop(front: Arc<Front>, endpoint: quinn::Endpoint) {
    while let Some((incoming, peer, permits, handshake)) =
        admit_quic(&front, &endpoint, "WebTransport").await
    {
        let task_front = Arc::clone(&front);
        front.tracker.spawn(async move {
            let front = task_front;
            let deadline = tokio::time::Instant::now() + front.config.timeouts.handshake();
            let max_frame = front.config.limits.max_client_frame;
            let opening = async {
                // QUIC and TLS, HTTP/3's settings, the CONNECT request.
                let request =
                    wtransport::endpoint::IncomingSessionFuture::with_quic_incoming(incoming)
                        .await
                        .map_err(|e| Opening::Failed(handshake_rejection(&e), e.to_string()))?;
                let checked = webtransport::check_request(request.path(), request.origin(), |o| {
                    front.config.origin_allowed(o)
                });
                if let Err(refusal) = checked {
                    let asked = match refusal {
                        SessionRefusal::NotFound => Some(request.path().to_owned()),
                        SessionRefusal::OriginRefused => request.origin().map(str::to_owned),
                    };
                    match refusal {
                        SessionRefusal::NotFound => request.not_found().await,
                        SessionRefusal::OriginRefused => request.forbidden().await,
                    }
                    return Err(Opening::Refused(refusal, asked));
                }
                let connection = request
                    .accept()
                    .await
                    .map_err(|e| Opening::Failed(Rejection::HandshakeFailed, e.to_string()))?;
                WebTransportLink::accept(connection, max_frame)
                    .await
                    .map_err(|e| Opening::Failed(Rejection::HandshakeFailed, e.to_string()))
            };
            let link = tokio::select! {
                r = tokio::time::timeout_at(deadline, opening) => r,
                () = front.cancel.cancelled() => return,
            };
            match link {
                Err(_) => {
                    front
                        .metrics
                        .connection_rejected(Rejection::HandshakeTimeout);
                    debug!(%peer, "WebTransport handshake timed out");
                }
                Ok(Err(Opening::Failed(reason, error))) => {
                    front.metrics.connection_rejected(reason);
                    debug!(%peer, %reason, %error, "WebTransport handshake failed");
                }
                Ok(Err(Opening::Refused(SessionRefusal::NotFound, path))) => {
                    front.metrics.connection_rejected(Rejection::PathNotFound);
                    debug!(%peer, ?path, "WebTransport session refused (404): not {}", webtransport::PATH);
                }
                Ok(Err(Opening::Refused(SessionRefusal::OriginRefused, origin))) => {
                    front.metrics.connection_rejected(Rejection::OriginRefused);
                    info!(%peer, ?origin, "WebTransport session refused (403): origin not allowed");
                }
                Ok(Ok(link)) => {
                    debug!(%peer, transport = "webtransport", "connected");
                    let admitted = Admitted {
                        peer,
                        deadline: deadline.into_std(),
                        handshake,
                        permits,
                    };
                    Arc::clone(&front.sessions)
                        .serve(AnyLink::WebTransport(link), admitted)
                        .await;
                }
            }
        });
    }
}

/// Refuses a connection over a limit with an HTTP 503 (on the plain port;
/// a TLS client could not read it, so the TLS port just closes). The
/// answer is written at once (a fresh socket's buffer takes it); lingering
/// so that it is not reset away runs in a task of its own, bounded by a
/// semaphore so a flood of refusals cannot pile up tasks: past that bound
/// the socket is simply dropped.
fn reject(front: &Arc<Front>, stream: TcpStream, peer: SocketAddr, reason: Rejection, http: bool) {
    front.metrics.connection_rejected(reason);
    debug!(%peer, %reason, "connection refused");
    if http {
        let _ = stream.try_write(ws::refusal(reason.label()).as_bytes());
    }
    if let Some(permit) = front.admission.linger_permit() {
        let mut stream = stream;
        front.tracker.spawn(async move {
            ws::linger(&mut stream).await;
            drop(permit);
        });
    }
}

/// Prepares one accepted connection as its listener says (plain routing
/// or TLS), within the handshake deadline, and runs what it asked for.
async fn handle_connection(
    front: Arc<Front>,
    stream: TcpStream,
    peer: SocketAddr,
    entry: Entry,
    permits: ConnectionPermits,
    handshake: HandshakePermit,
) {
    let timeouts = &front.config.timeouts;
    let deadline = tokio::time::Instant::now() + timeouts.handshake();
    let _ = stream.set_nodelay(true);
    let send_buffer = front.config.limits.send_buffer_bytes;
    if send_buffer > 0 {
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(send_buffer);
    }
    match entry {
        Entry::Plain(router) => {
            serve_plain(front, stream, peer, router, deadline, handshake, permits).await;
        }
        Entry::Tls(acceptor) => {
            let accepted = tokio::select! {
                r = tokio::time::timeout_at(deadline, acceptor.accept(MovableTcp::new(stream))) => r,
                () = front.cancel.cancelled() => return,
            };
            match accepted {
                Err(_) => {
                    front
                        .metrics
                        .connection_rejected(Rejection::HandshakeTimeout);
                    debug!(%peer, "TLS handshake timed out");
                }
                Ok(Err(e)) => {
                    // The rustls error: plain TCP or HTTP to the TLS port,
                    // no common ALPN protocol, a client that refused our
                    // certificate (its alert), ...
                    front
                        .metrics
                        .connection_rejected(Rejection::TlsHandshakeFailed);
                    debug!(%peer, error = %e, "TLS handshake failed");
                }
                Ok(Ok(tls)) => {
                    serve_websocket(front, tls, peer, deadline, handshake, permits).await;
                }
            }
        }
    }
}

/// Routes a plain connection to HTTP or to a WebSocket session.
async fn serve_plain(
    front: Arc<Front>,
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    deadline: tokio::time::Instant,
    handshake: HandshakePermit,
    permits: ConnectionPermits,
) {
    let route = tokio::select! {
        route = tokio::time::timeout_at(deadline, ws::peek_route(&stream)) => route,
        () = front.cancel.cancelled() => return,
    };
    match route {
        Err(_) => {
            front
                .metrics
                .connection_rejected(Rejection::HandshakeTimeout);
            debug!(%peer, "request head never arrived");
        }
        Ok(None) => {}
        Ok(Some(Route::Http)) => {
            drop(handshake);
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let header_timeout = remaining.max(Duration::from_millis(100));
            if let Err(e) =
                http::serve_connection(stream, router, header_timeout, front.cancel.clone()).await
            {
                debug!(%peer, error = %e, "http connection ended with an error");
            }
            drop(permits);
        }
        Ok(Some(Route::WebSocket)) => {
            let stream = MovableTcp::new(stream);
            serve_websocket(front, stream, peer, deadline, handshake, permits).await;
        }
    }
}

/// Upgrades a (plain or TLS) stream to a WebSocket within the handshake
/// deadline and runs its session.
async fn serve_websocket<S>(
    front: Arc<Front>,
    stream: S,
    peer: SocketAddr,
    deadline: tokio::time::Instant,
    handshake: HandshakePermit,
    permits: ConnectionPermits,
) where
    S: AsyncRead + AsyncWrite + Movable + Unpin + Send + 'static,
    WsLink<S>: Into<AnyLink>,
{
    let config = ws::config(front.config.limits.max_client_frame);
    let mut refused_origin = None;
    let origin_allowed = |origin: Option<&str>| {
        let allowed = front.config.origin_allowed(origin);
        if !allowed {
            refused_origin = origin.map(str::to_owned);
        }
        allowed
    };
    let accepting = ws::accept(stream, config, origin_allowed);
    let upgraded = tokio::select! {
        r = tokio::time::timeout_at(deadline, accepting) => r,
        () = front.cancel.cancelled() => return,
    };
    match upgraded {
        Err(_) => {
            front
                .metrics
                .connection_rejected(Rejection::HandshakeTimeout);
            debug!(%peer, "websocket handshake timed out");
        }
        Ok(Err(e)) if ws::is_origin_refusal(&e) => {
            front.metrics.connection_rejected(Rejection::OriginRefused);
            info!(%peer, origin = ?refused_origin, "websocket upgrade refused: origin not allowed");
        }
        Ok(Err(e)) => {
            front
                .metrics
                .connection_rejected(Rejection::HandshakeFailed);
            debug!(%peer, error = %e, "websocket handshake failed");
        }
        Ok(Ok(ws)) => {
            debug!(%peer, transport = "websocket", "connected");
            let admitted = Admitted {
                peer,
                deadline: deadline.into_std(),
                handshake,
                permits,
            };
            let link = WsLink::new(ws).into();
            Arc::clone(&front.sessions).serve(link, admitted).await;
        }
    }
}
